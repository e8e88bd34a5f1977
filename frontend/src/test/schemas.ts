import type { JsonSchema, WorkflowInfo, ToolInfo } from "../api/types";
import toolsJson from "./fixtures/tools.json";
import workflowsJson from "./fixtures/workflows.json";

/** The bundled examples' catalog, as the server sends it (GET /workflows, GET /tools). */
export const workflows = workflowsJson as unknown as WorkflowInfo[];
export const tools = toolsJson as unknown as ToolInfo[];

export function workflow(name: string): WorkflowInfo {
  const found = workflows.find((w) => w.name === name);
  if (!found) throw new Error(`no example workflow ${name}`);
  return found;
}

/** A schema exercising what Pydantic emits: nested models, lists, enums, optionals, files. */
export const complexSchema: JsonSchema = {
  $defs: {
    File: {
      type: "string",
      format: "file",
      title: "File",
      description: "The file_id of an uploaded file (POST /api/v1/files)",
      "x-nanobrain-type": "file",
    },
    Sample: {
      type: "object",
      title: "Sample",
      properties: {
        name: { type: "string", title: "Name" },
        reads: { $ref: "#/$defs/File", description: "Reads of this sample" },
        kind: { enum: ["dna", "rna"], type: "string", title: "Kind", default: "dna" },
      },
      required: ["name", "reads"],
    },
    Mode: { enum: ["fast", "accurate"], type: "string", title: "Mode" },
  },
  type: "object",
  title: "PipelineInput",
  additionalProperties: false,
  properties: {
    samples: { type: "array", items: { $ref: "#/$defs/Sample" }, title: "Samples", minItems: 1 },
    reference: {
      anyOf: [{ $ref: "#/$defs/File" }, { type: "null" }],
      default: null,
      title: "Reference",
    },
    mode: { $ref: "#/$defs/Mode", default: "fast" },
    options: {
      type: "object",
      title: "Options",
      properties: {
        threads: { type: "integer", minimum: 1, maximum: 64, default: 4, title: "Threads" },
        notes: { anyOf: [{ type: "string", maxLength: 5000 }, { type: "null" }], default: null },
        tags: { type: "array", items: { type: "string" }, default: [] },
      },
    },
    extra_files: { type: "array", items: { $ref: "#/$defs/File" }, title: "Extra files" },
    verbose: { type: "boolean", default: false, title: "Verbose" },
  },
  required: ["samples"],
};
