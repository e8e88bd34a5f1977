import { describe, expect, it } from "vitest";
import { classifyOutput, recordsTable, sortRows, toCsv } from "./classify";

const table = {
  kind: "table",
  columns: ["id", "gc"],
  rows: [
    ["seq1", 52.1],
    ["seq2", null],
  ],
  title: "Sequences",
};

describe("classifyOutput", () => {
  it("renders sequence-analysis's table as a table and its records as JSON", () => {
    const sections = classifyOutput({
      records: [{ id: "seq1", longest_orf: { start: 1 } }],
      table,
    });
    expect(sections.map((s) => s.type)).toEqual(["json", "typed"]);
    expect(sections[1]).toMatchObject({ type: "typed", kind: "table", label: "Table" });
  });

  it("renders data-summary as scalars, a table and a chart", () => {
    const sections = classifyOutput({
      rows: 20,
      columns: ["site", "ph"],
      summary: { ...table, title: "Numeric columns" },
      chart: { kind: "chart", spec: { mark: "bar" }, title: "Distribution" },
    });
    expect(sections[0]).toEqual({
      type: "scalars",
      entries: [
        ["rows", 20],
        ["columns", "site, ph"],
      ],
    });
    expect(sections.slice(1).map((s) => s.type === "typed" && s.kind)).toEqual(["table", "chart"]);
  });

  it("turns a list of flat records into a table (text-stats' top terms)", () => {
    const sections = classifyOutput({ words: 4, top_terms: [{ term: "fish", count: 2 }] });
    expect(sections[1]).toEqual({
      type: "records",
      label: "Top terms",
      table: { columns: ["term", "count"], rows: [["fish", 2]] },
    });
  });

  it("shows a typed value or plain text on its own", () => {
    expect(classifyOutput({ kind: "markdown", text: "# Hi" })).toMatchObject([
      { type: "typed", kind: "markdown" },
    ]);
    expect(classifyOutput("HI HI")).toEqual([{ type: "text", label: null, text: "HI HI" }]);
    expect(classifyOutput(66.67)).toEqual([{ type: "text", label: null, text: "66.67" }]);
  });

  it("does not make a table of nested records", () => {
    expect(recordsTable([{ a: { b: 1 } }])).toBeNull();
    expect(recordsTable([])).toBeNull();
  });
});

describe("tables", () => {
  it("export RFC 4180 CSV", () => {
    expect(
      toCsv({
        columns: ["name", "note"],
        rows: [
          ["a,b", 'say "hi"'],
          ["c", null],
        ],
      }),
    ).toBe('name,note\r\n"a,b","say ""hi"""\r\nc,\r\n');
  });

  it("sort numbers numerically, text naturally, empty cells last", () => {
    const rows = [
      ["seq10", 3],
      ["seq2", null],
      ["seq1", 12],
    ];
    expect(sortRows(rows, 1, "ascending").map((r) => r[1])).toEqual([3, 12, null]);
    expect(sortRows(rows, 1, "descending").map((r) => r[1])).toEqual([12, 3, null]);
    expect(sortRows(rows, 0, "ascending").map((r) => r[0])).toEqual(["seq1", "seq2", "seq10"]);
  });
});
