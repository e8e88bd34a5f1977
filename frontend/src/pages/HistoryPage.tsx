import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { errorMessage, request } from "../api/client";
import type { ExecutionPage, ExecutionStatus, ExecutionSummary } from "../api/types";
import { StatusBadge } from "../components/StatusBadge";
import { useAppSelector } from "../store";
import { ErrorMessage } from "../components/ErrorMessage";

const STATUSES: ExecutionStatus[] = ["queued", "running", "succeeded", "failed", "cancelled"];
const PAGE = 25;

function duration(item: ExecutionSummary): string {
  if (!item.started_at || !item.finished_at) return "";
  const ms = Date.parse(item.finished_at) - Date.parse(item.started_at);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The caller's executions, newest first, filtered by status and workflow. */
export default function HistoryPage() {
  const workflows = useAppSelector((state) => state.catalog.workflows);
  const [status, setStatus] = useState<ExecutionStatus | "">("");
  const [workflow, setWorkflow] = useState("");
  const [items, setItems] = useState<ExecutionSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (after: string | null) => {
      setLoading(true);
      setError(null);
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (status) query.set("status", status);
      if (workflow) query.set("workflow", workflow);
      if (after) query.set("cursor", after);
      try {
        const page = await request<ExecutionPage>(`executions?${query}`);
        setItems((current) => (after ? [...current, ...page.items] : page.items));
        setCursor(page.next_cursor);
      } catch (caught) {
        setError(errorMessage(caught));
      } finally {
        setLoading(false);
      }
    },
    [status, workflow],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <section className="history">
      <div className="page-head">
        <h1>History</h1>
        <button type="button" className="button-quiet" onClick={() => void load(null)}>
          Refresh
        </button>
      </div>
      <div className="filters">
        <div className="tag-filter" role="group" aria-label="Filter by status">
          <button
            type="button"
            className="chip"
            aria-pressed={status === ""}
            onClick={() => setStatus("")}
          >
            all
          </button>
          {STATUSES.map((name) => (
            <button
              key={name}
              type="button"
              className="chip"
              aria-pressed={status === name}
              onClick={() => setStatus(name)}
            >
              {name}
            </button>
          ))}
        </div>
        <label>
          Workflow{" "}
          <select value={workflow} onChange={(event) => setWorkflow(event.target.value)}>
            <option value="">all</option>
            {workflows.map((w) => (
              <option key={w.name} value={w.name}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage message={error} />
      {!loading && items.length === 0 && !error && <p>No executions yet.</p>}
      <ul className="history-list">
        {items.map((item) => (
          <li key={item.execution_id} className="history-item" data-status={item.status}>
            <Link to={`/executions/${item.execution_id}`} state={{ input: item.input }}>
              <strong>{item.workflow}</strong>
            </Link>
            <StatusBadge status={item.status} />
            <time dateTime={item.created_at} className="muted">
              {new Date(item.created_at).toLocaleString()}
            </time>
            <span className="muted">{duration(item)}</span>
            {item.error?.message && <span className="error small">{item.error.message}</span>}
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" onClick={() => void load(cursor)} disabled={loading}>
          {loading ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
