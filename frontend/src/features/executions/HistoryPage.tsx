import { useState } from "react";
import { Link } from "react-router-dom";
import { errorMessage } from "../../api/client";
import type { ExecutionStatus, ExecutionSummary } from "../../api/types";
import { ErrorMessage } from "../../components/ErrorMessage";
import { StatusBadge } from "../../components/StatusBadge";
import { useWorkflowsQuery } from "../workflows/api";
import { useExecutionHistoryInfiniteQuery } from "./api";

const STATUSES: ExecutionStatus[] = ["queued", "running", "succeeded", "failed", "cancelled"];

function duration(item: ExecutionSummary): string {
  if (!item.started_at || !item.finished_at) return "";
  const ms = Date.parse(item.finished_at) - Date.parse(item.started_at);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function errorOf(item: ExecutionSummary): string | undefined {
  const message = item.error?.message;
  return typeof message === "string" ? message : undefined;
}

/** The caller's executions, newest first, filtered by status and workflow. */
export default function HistoryPage() {
  const { data: workflows = [] } = useWorkflowsQuery();
  const [status, setStatus] = useState<ExecutionStatus | "">("");
  const [workflow, setWorkflow] = useState("");
  const history = useExecutionHistoryInfiniteQuery(
    { status: status || undefined, workflow: workflow || undefined },
    { refetchOnMountOrArgChange: true },
  );
  const items = history.data?.pages.flatMap((page) => page.items) ?? [];
  const loading = history.isFetching;
  const error = history.error ? errorMessage(history.error) : null;

  return (
    <section className="history">
      <div className="page-head">
        <h1>History</h1>
        <button type="button" className="button-quiet" onClick={() => void history.refetch()}>
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
            {errorOf(item) && <span className="error small">{errorOf(item)}</span>}
          </li>
        ))}
      </ul>
      {history.hasNextPage && (
        <button type="button" onClick={() => void history.fetchNextPage()} disabled={loading}>
          {loading ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
