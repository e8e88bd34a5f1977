// How an output is shown: each typed value (`kind`: markdown, table, chart, image, file) gets its
// component; other values become a row of scalars, a table (a list of flat records) or JSON.
import { textOf } from "./text";

export type Kind = "markdown" | "table" | "chart" | "image" | "file";
export const KINDS: readonly Kind[] = ["markdown", "table", "chart", "image", "file"];

export interface TableData {
  columns: string[];
  rows: unknown[][];
  title?: string | null;
}

export type Section =
  | { type: "typed"; kind: Kind; label: string | null; value: Record<string, unknown> }
  | { type: "scalars"; entries: [string, unknown][] }
  | { type: "records"; label: string; table: TableData }
  | { type: "text"; label: string | null; text: string }
  | { type: "json"; label: string | null; value: unknown };

type Plain = Record<string, unknown>;

const isPlain = (value: unknown): value is Plain =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export function typedKind(value: unknown): Kind | null {
  return isPlain(value) && KINDS.includes(value.kind as Kind) ? (value.kind as Kind) : null;
}

const isScalar = (value: unknown) => value === null || typeof value !== "object";

export function humanize(name: string): string {
  const spaced = name.replace(/[_-]+/g, " ").trim();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** A list of objects whose values are all scalars, as table columns and rows. */
export function recordsTable(items: unknown[]): TableData | null {
  if (items.length === 0 || !items.every(isPlain)) return null;
  const columns: string[] = [];
  for (const item of items) {
    for (const [key, value] of Object.entries(item)) {
      if (!isScalar(value)) return null;
      if (!columns.includes(key)) columns.push(key);
    }
  }
  return { columns, rows: items.map((item) => columns.map((c) => item[c] ?? null)) };
}

function sectionFor(label: string | null, value: unknown): Section {
  const kind = typedKind(value);
  if (kind) return { type: "typed", kind, label, value: value as Plain };
  if (typeof value === "string") return { type: "text", label, text: value };
  if (isScalar(value)) return { type: "text", label, text: String(value) };
  if (Array.isArray(value)) {
    const table = recordsTable(value);
    if (table && label) return { type: "records", label, table };
  }
  return { type: "json", label, value };
}

export function classifyOutput(output: unknown): Section[] {
  if (!isPlain(output) || typedKind(output)) return [sectionFor(null, output)];
  const scalars: [string, unknown][] = [];
  const sections: Section[] = [];
  for (const [key, value] of Object.entries(output)) {
    if (isScalar(value) && typeof value !== "string") scalars.push([key, value]);
    else if (typeof value === "string" && value.length <= 120 && !value.includes("\n")) {
      scalars.push([key, value]);
    } else if (Array.isArray(value) && value.every(isScalar) && value.length <= 20) {
      scalars.push([key, value.join(", ")]);
    } else sections.push(sectionFor(humanize(key), value));
  }
  return scalars.length > 0 ? [{ type: "scalars", entries: scalars }, ...sections] : sections;
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = textOf(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV of a table, header first. */
export function toCsv(table: TableData): string {
  const lines = [table.columns, ...table.rows].map((row) => row.map(csvCell).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

export type SortDirection = "ascending" | "descending";

/** Rows sorted by one column: numbers numerically, text naturally, empty values last. */
export function sortRows(rows: unknown[][], column: number, direction: SortDirection): unknown[][] {
  const sign = direction === "ascending" ? 1 : -1;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  return [...rows].sort((a, b) => {
    const x = a[column];
    const y = b[column];
    const xEmpty = x === null || x === undefined;
    const yEmpty = y === null || y === undefined;
    if (xEmpty || yEmpty) return xEmpty === yEmpty ? 0 : xEmpty ? 1 : -1;
    if (typeof x === "number" && typeof y === "number") return (x - y) * sign;
    return collator.compare(textOf(x), textOf(y)) * sign;
  });
}
