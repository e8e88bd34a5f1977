import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../api/types";
import { complexSchema, tools, workflow, workflows } from "../test/schemas";
import { adaptSchema, FILE_WIDGET, prefillFromQuery, problemToErrorSchema } from "./adapt";

const props = (schema: JsonSchema) => schema.properties as Record<string, Record<string, unknown>>;

describe("adaptSchema on the example workflows", () => {
  it("gives sequence-analysis's FASTA field the upload widget, typed as a string", () => {
    const form = adaptSchema(workflow("sequence-analysis").input_schema);
    expect(form.fileFields).toEqual(["fasta"]);
    expect(form.uiSchema.fasta).toEqual({ "ui:widget": FILE_WIDGET });
    const fasta = props(form.schema).fasta!;
    expect(fasta.type).toBe("string");
    expect(fasta.$ref).toBeUndefined();
    // the field's own description wins over the File definition's generic one
    expect(fasta.description).toBe("A FASTA file of DNA (or RNA) sequences");
    // titled after the field, not after the File type it refers to
    expect(fasta.title).toBe("Fasta");
    expect(form.schema.required).toEqual(["fasta"]);
  });

  it("turns data-summary's optional column into a plain optional string", () => {
    const form = adaptSchema(workflow("data-summary").input_schema);
    expect(form.fileFields).toEqual(["table"]);
    const column = props(form.schema).column!;
    expect(column.type).toBe("string");
    expect(column.anyOf).toBeUndefined();
    expect(column).not.toHaveProperty("default");
    expect(column.title).toBe("Column");
  });

  it("keeps simulation's numbers with their bounds and defaults", () => {
    const form = adaptSchema(workflow("simulation").input_schema);
    expect(form.fileFields).toEqual([]);
    expect(props(form.schema).steps).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 10000,
      default: 10,
    });
    expect(props(form.schema).step_seconds).toMatchObject({ type: "number", default: 0.5 });
  });

  it("gives long text a text area (text-stats) and drops the repeated title", () => {
    const form = adaptSchema(workflow("text-stats").input_schema);
    expect(form.uiSchema.text).toEqual({ "ui:widget": "textarea" });
    expect(form.schema.title).toBeUndefined();
  });

  it("adapts every example workflow and tool without leaving a $ref or a null option", () => {
    for (const item of [...workflows, ...tools]) {
      const text = JSON.stringify(adaptSchema(item.input_schema).schema.properties);
      expect(text, item.name).not.toContain('"$ref"');
      expect(text, item.name).not.toContain('"null"');
    }
  });
});

describe("adaptSchema on nested objects, arrays, enums and files", () => {
  const form = adaptSchema(complexSchema);
  const p = props(form.schema);

  it("finds file fields at every depth, in lists too", () => {
    expect(form.fileFields).toEqual(["samples.items.reads", "reference", "extra_files.items"]);
    expect(form.uiSchema).toMatchObject({
      samples: { items: { reads: { "ui:widget": FILE_WIDGET } } },
      reference: { "ui:widget": FILE_WIDGET },
      extra_files: { items: { "ui:widget": FILE_WIDGET } },
    });
  });

  it("inlines nested models with their enums and requirements", () => {
    const sample = p.samples!.items as JsonSchema;
    expect(sample.type).toBe("object");
    expect(sample.required).toEqual(["name", "reads"]);
    expect(props(sample).kind).toMatchObject({ enum: ["dna", "rna"], default: "dna" });
    expect(p.mode).toMatchObject({ enum: ["fast", "accurate"], default: "fast" });
  });

  it("unwraps optionals inside nested objects and keeps their constraints", () => {
    const options = props(p.options as JsonSchema);
    expect(options.notes).toMatchObject({ type: "string", maxLength: 5000 });
    expect(form.uiSchema.options).toEqual({ notes: { "ui:widget": "textarea" } });
    expect(options.tags).toMatchObject({ type: "array", items: { type: "string" } });
  });

  it("leaves a recursive reference for the form library to resolve", () => {
    const recursive: JsonSchema = {
      $defs: { Node: { type: "object", properties: { child: { $ref: "#/$defs/Node" } } } },
      type: "object",
      properties: { root: { $ref: "#/$defs/Node" } },
    };
    const adapted = adaptSchema(recursive);
    const root = props(adapted.schema).root!;
    expect(props(root).child).toEqual({ $ref: "#/$defs/Node", title: "Child" });
    expect(adapted.schema.$defs).toBeDefined();
  });
});

describe("server validation errors", () => {
  it("map each 422 `loc` under its field", () => {
    const errors = problemToErrorSchema([
      { loc: ["input", "steps"], msg: "Input should be greater than or equal to 1" },
      { loc: ["input", "steps"], msg: "second" },
      { loc: ["body", "input", "samples", 0, "reads"], msg: "unknown file_id 'x'" },
      { loc: ["input"], msg: "whole form" },
    ]);
    expect(errors).toEqual({
      steps: { __errors: ["Input should be greater than or equal to 1", "second"] },
      samples: { 0: { reads: { __errors: ["unknown file_id 'x'"] } } },
      __errors: ["whole form"],
    });
  });
});

describe("pre-filling from a free-form request", () => {
  it("puts the request into a text-like field", () => {
    expect(prefillFromQuery(workflow("text-stats").input_schema, "count these words")).toEqual({
      text: "count these words",
    });
    expect(prefillFromQuery(workflow("echo").input_schema, "hi")).toEqual({ message: "hi" });
  });

  it("leaves forms without one alone", () => {
    expect(prefillFromQuery(workflow("simulation").input_schema, "run it")).toEqual({});
    expect(prefillFromQuery(workflow("sequence-analysis").input_schema, "gc")).toEqual({});
  });
});
