import { useState, type FormEvent } from "react";
import { type ListReply, errorMessage, itemsOf, request } from "../../api/client";
import type { AdminUser } from "../../api/types";
import { Unavailable, useResource } from "./useResource";
import { ErrorMessage } from "../../components/ErrorMessage";

export const ROLES = ["admin", "developer", "user", "guest"] as const;

export function UsersPanel() {
  const [users, reload] = useResource<ListReply<AdminUser>>("admin/users");
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState({ username: "", password: "", role: "user" });
  const list = users.state === "ready" ? itemsOf(users.data) : [];

  const act = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        setError(null);
        reload();
      },
      (caught: unknown) => setError(errorMessage(caught)),
    );
  const create = (event: FormEvent) => {
    event.preventDefault();
    void act(request("admin/users", { json: draft })).then(() =>
      setDraft({ username: "", password: "", role: "user" }),
    );
  };

  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users and roles</h2>
      {users.state === "missing" && (
        <Unavailable what="User management" path="/api/v1/admin/users" />
      )}
      {users.state === "failed" && <p className="error">{users.error}</p>}
      <ErrorMessage message={error} />
      {users.state === "ready" && (
        <>
          <table className="compact">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((user) => (
                <tr key={user.id}>
                  <td>{user.username}</td>
                  <td>
                    <select
                      aria-label={`Role of ${user.username}`}
                      value={user.role}
                      onChange={(event) =>
                        void act(
                          request(`admin/users/${encodeURIComponent(user.id)}`, {
                            method: "PATCH",
                            json: { role: event.target.value },
                          }),
                        )
                      }
                    >
                      {ROLES.map((role) => (
                        <option key={role}>{role}</option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <button
                      type="button"
                      className="button-quiet"
                      onClick={() =>
                        void act(
                          request(`admin/users/${encodeURIComponent(user.id)}`, {
                            method: "DELETE",
                          }),
                        )
                      }
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <form className="inline-form" onSubmit={create} aria-label="Add a user">
            <input
              required
              placeholder="username"
              aria-label="Username"
              value={draft.username}
              onChange={(e) => setDraft({ ...draft, username: e.target.value })}
            />
            <input
              required
              type="password"
              placeholder="password"
              aria-label="Password"
              value={draft.password}
              onChange={(e) => setDraft({ ...draft, password: e.target.value })}
            />
            <select
              aria-label="Role"
              value={draft.role}
              onChange={(e) => setDraft({ ...draft, role: e.target.value })}
            >
              {ROLES.map((role) => (
                <option key={role}>{role}</option>
              ))}
            </select>
            <button type="submit">Add user</button>
          </form>
        </>
      )}
    </section>
  );
}
