/** The text of a value read from JSON: strings as they are, objects and lists as JSON, nothing
 * for null. */
export function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  return JSON.stringify(value) ?? "";
}

/** A string member of an output object, or the fallback when it is missing or not a string. */
export function stringField(
  object: Record<string, unknown>,
  key: string,
  fallback: string,
): string {
  const value = object[key];
  return typeof value === "string" ? value : fallback;
}
