// Schema-to-form adaptation: turns a workflow's input JSON Schema (as Pydantic emits it) into the
// schema and uiSchema that react-jsonschema-form renders well.
//
// - `$ref`s into `$defs` are inlined (keeping the referring node's own title/description), so
//   fields carry their real type and the widgets can be chosen per field;
// - `Optional[X]` (`anyOf: [X, {type: "null"}]`) becomes X, not required: an empty field is simply
//   left out and the server's default applies, instead of a "pick a type" selector;
// - NanoBrain file fields (`x-nanobrain-type: "file"`) get the upload widget;
// - long strings get a text area.
import type { ErrorSchema, UiSchema } from "@rjsf/utils";
import type { JsonSchema, ProblemError } from "../api/types";

export const FILE_WIDGET = "nanobrain-file";
const LONG_TEXT = 256;
const MAX_DEPTH = 32; // nested definitions expanded at most

type Node = Record<string, unknown>;

export interface AdaptedForm {
  schema: JsonSchema;
  uiSchema: UiSchema;
  /** Dotted paths of the file fields ("fasta", "samples.items"), for display and tests. */
  fileFields: string[];
}

function isObject(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isFileSchema(node: Node): boolean {
  return node["x-nanobrain-type"] === "file" || node.format === "file";
}

/** Inline a `#/$defs/` reference (the referring node's own keys win); `ancestors` are the
 * definitions being expanded above this node, so a recursive model is left as a `$ref`. */
function resolveRef(node: Node, defs: Node, ancestors: Set<string>): Node {
  const ref = node.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/$defs/")) return node;
  const name = ref.slice("#/$defs/".length);
  const target = defs[name];
  if (!isObject(target) || ancestors.has(name)) return node;
  ancestors.add(name);
  const { $ref: _ref, ...siblings } = node;
  return { ...resolveRef(target, defs, ancestors), ...siblings };
}

function withoutNull(node: Node): Node {
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = node[key];
    if (!Array.isArray(options)) continue;
    const real = options.filter((option) => !(isObject(option) && option.type === "null"));
    if (real.length === 1 && real.length < options.length && isObject(real[0])) {
      const { [key]: _options, ...rest } = node;
      const merged: Node = { ...real[0], ...rest };
      if (merged.default === null) delete merged.default;
      return merged;
    }
  }
  return node;
}

function adaptNode(
  input: Node,
  defs: Node,
  path: string,
  files: string[],
  inherited: ReadonlySet<string>,
): { schema: Node; ui: UiSchema } {
  if (inherited.size > MAX_DEPTH) return { schema: input, ui: {} };
  const ancestors = new Set(inherited);
  let node = withoutNull(resolveRef(input, defs, ancestors));
  node = withoutNull(resolveRef(node, defs, ancestors));
  const ui: UiSchema = {};
  if (isFileSchema(node)) {
    files.push(path);
    ui["ui:widget"] = FILE_WIDGET;
    return { schema: node, ui };
  }
  if (node.type === "string" && !node.enum && typeof node.maxLength === "number") {
    if (node.maxLength > LONG_TEXT) ui["ui:widget"] = "textarea";
  }
  if (isObject(node.properties)) {
    const properties: Node = {};
    for (const [name, child] of Object.entries(node.properties)) {
      if (!isObject(child)) continue;
      // A field given as a reference (`fasta: File`) is titled after the field, not the type.
      const own = child.title === undefined ? { ...child, title: titleOf(name) } : child;
      const adapted = adaptNode(own, defs, path ? `${path}.${name}` : name, files, ancestors);
      properties[name] = adapted.schema;
      if (Object.keys(adapted.ui).length > 0) ui[name] = adapted.ui;
    }
    node = { ...node, properties };
  }
  if (isObject(node.items)) {
    const adapted = adaptNode(node.items, defs, `${path}.items`, files, ancestors);
    node = { ...node, items: adapted.schema };
    if (Object.keys(adapted.ui).length > 0) ui.items = adapted.ui;
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = node[key];
    if (Array.isArray(options)) {
      node = {
        ...node,
        [key]: options.map((option: unknown) =>
          isObject(option) ? adaptNode(option, defs, path, [], ancestors).schema : option,
        ),
      };
    }
  }
  return { schema: node, ui };
}

/** A field name as Pydantic titles it: `step_seconds` -> "Step Seconds". */
export function titleOf(name: string): string {
  return name
    .split(/[_\s-]+/)
    .filter(Boolean)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(" ");
}

export function adaptSchema(schema: JsonSchema): AdaptedForm {
  const defs = isObject(schema.$defs) ? schema.$defs : {};
  const files: string[] = [];
  const { schema: adapted, ui } = adaptNode(schema, defs, "", files, new Set());
  // The title repeats the workflow's name, which the page already shows as its heading.
  const { title: _title, ...rest } = adapted;
  return { schema: rest, uiSchema: ui, fileFields: files };
}

/** The server's 422 `errors` ({loc, msg}) as an rjsf error schema, shown under each field. */
export function problemToErrorSchema(errors: ProblemError[] | undefined): ErrorSchema {
  const root: Record<string, unknown> = {};
  for (const error of errors ?? []) {
    const loc = [...error.loc];
    while (loc.length > 0 && (loc[0] === "body" || loc[0] === "input" || loc[0] === "arguments")) {
      loc.shift();
    }
    let node = root;
    for (const part of loc) {
      const key = String(part);
      if (!isObject(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    const list = Array.isArray(node.__errors) ? (node.__errors as string[]) : [];
    node.__errors = [...list, error.msg];
  }
  return root as ErrorSchema;
}

const QUERY_FIELDS = ["query", "text", "message", "prompt", "question", "input", "content"];

/** Pre-fill a form from a free-form request: its text goes into the workflow's text-like field
 * (by name), if it has one; otherwise the form keeps its defaults. */
export function prefillFromQuery(schema: JsonSchema, query: string): Record<string, unknown> {
  const properties = isObject(schema.properties) ? schema.properties : {};
  for (const name of QUERY_FIELDS) {
    const field = properties[name];
    if (isObject(field) && withoutNull(field).type === "string" && !isFileSchema(field)) {
      return { [name]: query };
    }
  }
  return {};
}
