import { useState, type FormEvent } from "react";
import { errorMessage } from "../../api/client";
import type { Role } from "../../api/types";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useApiKeysQuery, useCreateApiKeyMutation, useRevokeApiKeyMutation } from "./api";
import { LoadProblem } from "./LoadProblem";
import { ROLES } from "./UsersPanel";

export function ApiKeysPanel() {
  const keys = useApiKeysQuery(undefined, { refetchOnMountOrArgChange: true });
  const [createKey] = useCreateApiKeyMutation();
  const [revokeKey] = useRevokeApiKeyMutation();
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role | "">("");
  const list = keys.data ?? [];

  const create = async (event: FormEvent) => {
    event.preventDefault();
    const reply = await createKey(role ? { name, role } : { name });
    if (reply.data) {
      setCreated({ name, key: reply.data.key });
      setName("");
      setError(null);
    } else {
      setError(errorMessage(reply.error));
    }
  };
  const revoke = async (id: string) => {
    const reply = await revokeKey(id);
    if (reply.error) setError(errorMessage(reply.error));
  };

  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <LoadProblem error={keys.error} what="API key management" path="/api/v1/auth/api-keys" />
      <ErrorMessage message={error} />
      {created && (
        <div className="notice" role="alert">
          <p>
            The key <strong>{created.name}</strong> is shown only this once; copy it now:
          </p>
          <code className="secret">{created.key}</code>{" "}
          <button
            type="button"
            className="button-quiet"
            onClick={() => void navigator.clipboard?.writeText(created.key)}
          >
            Copy
          </button>{" "}
          <button type="button" className="button-quiet" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {keys.data && !keys.error && (
        <>
          <ul className="key-list">
            {list.map((key) => (
              <li key={key.id}>
                <strong>{key.name}</strong> <span className="muted">{key.prefix}…</span>{" "}
                <span className="badge">{key.role}</span>{" "}
                {key.expires_at && (
                  <span className="muted">
                    expires {new Date(key.expires_at).toLocaleDateString()}
                  </span>
                )}{" "}
                <button type="button" className="button-quiet" onClick={() => void revoke(key.id)}>
                  Revoke
                </button>
              </li>
            ))}
          </ul>
          <form
            className="inline-form"
            onSubmit={(event) => void create(event)}
            aria-label="Create an API key"
          >
            <input
              required
              placeholder="key name"
              aria-label="Key name"
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
            <select
              aria-label="Key role"
              value={role}
              onChange={(e) => setRole(e.target.value as Role | "")}
            >
              <option value="">my role</option>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
            <button type="submit">Create key</button>
          </form>
        </>
      )}
    </section>
  );
}
