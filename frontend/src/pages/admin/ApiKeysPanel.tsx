import { useState, type FormEvent } from "react";
import { type ListReply, errorMessage, itemsOf, request } from "../../api/client";
import type { ApiKey } from "../../api/types";
import { ROLES } from "./UsersPanel";
import { Unavailable, useResource } from "./useResource";
import { ErrorMessage } from "../../components/ErrorMessage";

export function ApiKeysPanel() {
  const [keys, reload] = useResource<ListReply<ApiKey>>("auth/api-keys");
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState("");
  const list = keys.state === "ready" ? itemsOf(keys.data) : [];

  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const reply = await request<{ id: string; key: string }>("auth/api-keys", {
        json: role ? { name, role } : { name },
      });
      setCreated({ name, key: reply.key });
      setName("");
      setError(null);
      reload();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };
  const revoke = (id: string) =>
    request(`auth/api-keys/${encodeURIComponent(id)}`, { method: "DELETE" }).then(
      reload,
      (caught: unknown) => setError(errorMessage(caught)),
    );

  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {keys.state === "missing" && (
        <Unavailable what="API key management" path="/api/v1/auth/api-keys" />
      )}
      {keys.state === "failed" && <p className="error">{keys.error}</p>}
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
      {keys.state === "ready" && (
        <>
          <ul className="key-list">
            {list.map((key) => (
              <li key={key.id}>
                <strong>{key.name}</strong> <span className="muted">{key.prefix ?? ""}…</span>{" "}
                {key.role && <span className="badge">{key.role}</span>}{" "}
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
            <select aria-label="Key role" value={role} onChange={(e) => setRole(e.target.value)}>
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
