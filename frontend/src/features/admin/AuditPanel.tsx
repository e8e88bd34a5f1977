import { useAuditQuery } from "./api";
import { LoadProblem } from "./LoadProblem";

export function AuditPanel() {
  const audit = useAuditQuery({ limit: 100 }, { refetchOnMountOrArgChange: true });
  const entries = audit.data ?? [];
  return (
    <section className="card" aria-labelledby="audit-title">
      <div className="page-head">
        <h2 id="audit-title">Audit log</h2>
        <button type="button" className="button-quiet" onClick={() => void audit.refetch()}>
          Refresh
        </button>
      </div>
      <LoadProblem error={audit.error} what="The audit log" path="/api/v1/admin/audit" />
      {audit.data && !audit.error && (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Audit entries">
          <table className="compact">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id}>
                  <td>{new Date(entry.at).toLocaleString()}</td>
                  <td>{entry.actor ?? ""}</td>
                  <td>{entry.action}</td>
                  <td>{entry.target ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
