import { ApiKeysPanel } from "./ApiKeysPanel";
import { AuditPanel } from "./AuditPanel";
import { HealthPanel } from "./HealthPanel";
import { UsersPanel } from "./UsersPanel";

/** Administration: health and metrics, users and roles, API keys, the audit log. */
export default function AdminPage() {
  return (
    <div className="admin-page">
      <h1>Administration</h1>
      <div className="admin-grid">
        <HealthPanel />
        <UsersPanel />
        <ApiKeysPanel />
        <AuditPanel />
      </div>
    </div>
  );
}
