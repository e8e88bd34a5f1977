import { Link } from "react-router-dom";
import { errorMessage } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { ProgressBar } from "../../components/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { JsonView } from "../../results/JsonView";
import { ResultView } from "../../results/ResultView";
import { useCancelExecutionMutation } from "./api";
import { isFinalStatus } from "./executionsSlice";
import { useExecution } from "./useExecution";

const STREAM_NOTE: Record<string, string> = {
  connecting: "connecting…",
  reconnecting: "connection lost, reconnecting…",
};

function streamedText(chunks: unknown[]): string {
  return chunks.map((c) => (typeof c === "string" ? c : JSON.stringify(c))).join("");
}

/** One execution: status, live progress, streamed output, cancel, then its result or error. */
export function ExecutionPanel({ id, showEvents = false }: { id: string; showEvents?: boolean }) {
  const execution = useExecution(id);
  const [cancel, { isLoading: cancelling, error: cancelFailure }] = useCancelExecutionMutation();
  if (!execution) return <p role="status">Loading the execution…</p>;
  const final = isFinalStatus(execution.status);
  const note = STREAM_NOTE[execution.stream];

  return (
    <section className="execution card" aria-label="Execution" data-status={execution.status}>
      <header className="execution-head">
        <h2>
          <Link to={`/executions/${id}`}>{execution.workflow || "Execution"}</Link>
        </h2>
        <StatusBadge status={execution.status} />
        {!final && (
          <button
            type="button"
            className="button-danger"
            onClick={() => void cancel(id)}
            disabled={cancelling}
          >
            {cancelling ? "Cancelling…" : "Cancel"}
          </button>
        )}
      </header>
      {!final && (
        <div className="execution-progress">
          <ProgressBar fraction={execution.progress.fraction} label="Execution progress" />
          <p className="progress-text" aria-live="polite">
            {execution.progress.fraction !== null &&
              `${Math.round(execution.progress.fraction * 100)}% `}
            {execution.progress.message}
            {execution.progress.step && <span className="muted"> · {execution.progress.step}</span>}
          </p>
        </div>
      )}
      {note && (
        <p className="stream-note" role="status">
          {note}
        </p>
      )}
      {execution.stream === "failed" && (
        <p className="error" role="alert">
          Live updates stopped: {execution.streamError}
        </p>
      )}
      <ErrorMessage message={cancelFailure ? errorMessage(cancelFailure) : null} />
      {execution.chunks.length > 0 && (
        <pre className="stream-output" aria-live="polite" aria-label="Streamed output">
          {streamedText(execution.chunks)}
        </pre>
      )}
      {execution.error && (
        <div className="error-box" role="alert">
          <strong>{execution.status === "cancelled" ? "Cancelled" : "Failed"}</strong>
          {execution.error.type && <span className="muted"> ({execution.error.type})</span>}
          <p>{execution.error.message}</p>
        </div>
      )}
      {execution.status === "cancelled" && !execution.error && (
        <p className="muted">The execution was cancelled.</p>
      )}
      {execution.hasOutput && <ResultView output={execution.output} />}
      {showEvents && (
        <JsonView
          label={`Events (${execution.events.length})`}
          value={execution.events.map(({ id: eventId, type, ts, data }) => ({
            id: eventId,
            type,
            ts,
            data,
          }))}
        />
      )}
    </section>
  );
}
