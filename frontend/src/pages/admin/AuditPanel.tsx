import { itemsOf, type ListReply } from "../../api/client";
import type { AuditEntry } from "../../api/types";
import { Unavailable, useResource } from "./useResource";

const when = (entry: AuditEntry) => entry.at ?? entry.ts ?? entry.created_at ?? "";

export function AuditPanel() {
  const [audit, reload] = useResource<ListReply<AuditEntry>>("admin/audit?limit=100");
  const entries = audit.state === "ready" ? itemsOf(audit.data) : [];
  return (
    <section className="card" aria-labelledby="audit-title">
      <div className="page-head">
        <h2 id="audit-title">Audit log</h2>
        <button type="button" className="button-quiet" onClick={reload}>
          Refresh
        </button>
      </div>
      {audit.state === "missing" && <Unavailable what="The audit log" path="/api/v1/admin/audit" />}
      {audit.state === "failed" && <p className="error">{audit.error}</p>}
      {audit.state === "ready" && (
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
              {entries.map((entry, index) => (
                <tr key={String(entry.id ?? index)}>
                  <td>{when(entry) && new Date(when(entry)).toLocaleString()}</td>
                  <td>{entry.actor ?? entry.user ?? ""}</td>
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
