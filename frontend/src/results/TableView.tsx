import { useMemo, useState } from "react";
import { saveBlob } from "../api/client";
import { sortRows, toCsv, type SortDirection, type TableData } from "./classify";
import { textOf } from "./text";

export const PAGE_SIZE = 25;

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" && !Number.isInteger(value)) {
    return value.toLocaleString(undefined, { maximumFractionDigits: 4 });
  }
  return textOf(value);
}

/** A sortable, paged table with CSV download. */
export function TableView({ table }: { table: TableData }) {
  const [sort, setSort] = useState<{ column: number; direction: SortDirection } | null>(null);
  const [page, setPage] = useState(0);
  const rows = useMemo(
    () => (sort ? sortRows(table.rows, sort.column, sort.direction) : table.rows),
    [table.rows, sort],
  );
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  const current = Math.min(page, pages - 1);
  const visible = rows.slice(current * PAGE_SIZE, (current + 1) * PAGE_SIZE);
  const title = table.title ?? "Table";
  const numeric = useMemo(
    () => table.columns.map((_, c) => table.rows.some((row) => typeof row[c] === "number")),
    [table],
  );

  const sortBy = (column: number) => {
    setSort((previous) =>
      previous?.column === column
        ? {
            column,
            direction: previous.direction === "ascending" ? "descending" : "ascending",
          }
        : { column, direction: "ascending" },
    );
    setPage(0);
  };
  const download = () => {
    const name = `${title.replace(/[^\w-]+/g, "_").toLowerCase() || "table"}.csv`;
    saveBlob(new Blob([toCsv(table)], { type: "text/csv;charset=utf-8" }), name);
  };

  return (
    <figure className="table-view">
      <figcaption>
        <span>{title}</span>
        <span className="muted">{table.rows.length} rows</span>
        <button type="button" className="button-quiet" onClick={download}>
          Download CSV
        </button>
      </figcaption>
      <div className="table-scroll" tabIndex={0} role="region" aria-label={title}>
        <table>
          <thead>
            <tr>
              {table.columns.map((column, index) => (
                <th
                  key={column}
                  scope="col"
                  aria-sort={sort?.column === index ? sort.direction : "none"}
                  data-numeric={numeric[index]}
                >
                  <button type="button" onClick={() => sortBy(index)}>
                    {column}
                    <span aria-hidden="true">
                      {sort?.column === index ? (sort.direction === "ascending" ? " ▲" : " ▼") : ""}
                    </span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {visible.map((row, r) => (
              <tr key={current * PAGE_SIZE + r}>
                {row.map((value, c) => (
                  <td key={c} data-numeric={typeof value === "number"}>
                    {cell(value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pages > 1 && (
        <nav className="pager" aria-label={`${title} pages`}>
          <button type="button" onClick={() => setPage(current - 1)} disabled={current === 0}>
            Previous
          </button>
          <span>
            Page {current + 1} of {pages}
          </span>
          <button
            type="button"
            onClick={() => setPage(current + 1)}
            disabled={current >= pages - 1}
          >
            Next
          </button>
        </nav>
      )}
    </figure>
  );
}
