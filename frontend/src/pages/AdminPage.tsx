import { ApiKeysPanel } from "./admin/ApiKeysPanel";
import { AuditPanel } from "./admin/AuditPanel";
import { HealthPanel } from "./admin/HealthPanel";
import { UsersPanel } from "./admin/UsersPanel";

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
