import { useMemo } from "react";
import { errorMessage, isMissingEndpoint } from "../../api/client";
import { useHealthQuery, useMetricsQuery } from "./api";
import { LoadProblem } from "./LoadProblem";
import { parsePrometheus, summarizeMetrics } from "./metrics";

export function HealthPanel() {
  const health = useHealthQuery(undefined, { refetchOnMountOrArgChange: true });
  const metrics = useMetricsQuery(undefined, { refetchOnMountOrArgChange: true });
  const summary = useMemo(
    () => (metrics.data !== undefined ? summarizeMetrics(parsePrometheus(metrics.data)) : null),
    [metrics.data],
  );
  const reload = () => void health.refetch();
  return (
    <section className="card" aria-labelledby="health-title">
      <div className="page-head">
        <h2 id="health-title">Health</h2>
        <button type="button" className="button-quiet" onClick={reload}>
          Refresh
        </button>
      </div>
      {health.data && !health.error && (
        <dl className="scalars">
          <div>
            <dt>Status</dt>
            <dd
              className="badge status"
              data-status={health.data.status === "ok" ? "succeeded" : "failed"}
            >
              {health.data.status}
            </dd>
          </div>
          {Object.entries(health.data.checks).map(([name, check]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd>{check.status}</dd>
            </div>
          ))}
        </dl>
      )}
      {health.error && <p className="error">{errorMessage(health.error)}</p>}
      <h2>Metrics</h2>
      {isMissingEndpoint(metrics.error) && (
        <LoadProblem error={metrics.error} what="Metrics" path="/api/v1/metrics" />
      )}
      {summary && (
        <>
          <dl className="scalars">
            <div>
              <dt>HTTP requests</dt>
              <dd>{summary.requests}</dd>
            </div>
            <div>
              <dt>Server errors (5xx)</dt>
              <dd>{summary.serverErrors}</dd>
            </div>
            <div>
              <dt>Active executions</dt>
              <dd>{summary.activeExecutions}</dd>
            </div>
          </dl>
          <table className="compact">
            <caption>Finished executions</caption>
            <thead>
              <tr>
                <th scope="col">Workflow</th>
                <th scope="col">Outcome</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {summary.executions.map((row) => (
                <tr key={`${row.workflow}/${row.status}`}>
                  <td>{row.workflow}</td>
                  <td>{row.status}</td>
                  <td data-numeric="true">{row.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
