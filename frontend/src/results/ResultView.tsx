import { lazy, Suspense, useState } from "react";
import { classifyOutput, humanize, type Section, type TableData } from "./classify";
import { FileView } from "./FileView";
import { ImageView } from "./ImageView";
import { JsonView } from "./JsonView";
import { TableView } from "./TableView";
import { textOf } from "./text";

// Charts (vega) and Markdown (marked + DOMPurify) load only when an output needs them.
const ChartView = lazy(() => import("./ChartView"));
const MarkdownView = lazy(() => import("./MarkdownView"));

function formatScalar(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number" && !Number.isInteger(value)) {
    return value.toLocaleString(undefined, { maximumFractionDigits: 6 });
  }
  return textOf(value);
}

function SectionView({ section }: { section: Section }) {
  switch (section.type) {
    case "scalars":
      return (
        <dl className="scalars">
          {section.entries.map(([key, value]) => (
            <div key={key}>
              <dt>{humanize(key)}</dt>
              <dd>{formatScalar(value)}</dd>
            </div>
          ))}
        </dl>
      );
    case "records":
      return <TableView table={{ ...section.table, title: section.label }} />;
    case "text":
      return (
        <figure className="result-text">
          {section.label && <figcaption>{section.label}</figcaption>}
          <pre>{section.text}</pre>
        </figure>
      );
    case "json":
      return <JsonView label={section.label ?? "Output"} value={section.value} />;
    case "typed": {
      const { kind, value, label } = section;
      if (kind === "table") {
        const table = value as unknown as TableData;
        return <TableView table={{ ...table, title: table.title ?? label }} />;
      }
      if (kind === "chart") {
        return (
          <ChartView
            spec={value.spec as Record<string, unknown>}
            title={(value.title as string | null) ?? label}
          />
        );
      }
      if (kind === "markdown") return <MarkdownView text={textOf(value.text)} />;
      if (kind === "image") return <ImageView image={value} />;
      return <FileView file={value} />;
    }
  }
}

/** An output rendered by type, with its raw JSON one click away. */
export function ResultView({ output }: { output: unknown }) {
  const [raw, setRaw] = useState(false);
  return (
    <div className="result">
      <div className="result-toolbar">
        <button
          type="button"
          className="button-quiet"
          aria-pressed={raw}
          onClick={() => setRaw((r) => !r)}
        >
          {raw ? "Formatted view" : "JSON view"}
        </button>
      </div>
      {raw ? (
        <JsonView label="Output" value={output} open />
      ) : (
        <Suspense fallback={<p className="muted">Loading the view…</p>}>
          {classifyOutput(output).map((section, index) => (
            <SectionView key={index} section={section} />
          ))}
        </Suspense>
      )}
    </div>
  );
}
