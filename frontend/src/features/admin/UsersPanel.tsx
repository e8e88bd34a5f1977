import { useState, type FormEvent } from "react";
import { errorMessage } from "../../api/client";
import type { Role, UserCreate } from "../../api/types";
import { ErrorMessage } from "../../components/ErrorMessage";
import {
  useAddUserMutation,
  useChangeUserMutation,
  useDeleteUserMutation,
  useUsersQuery,
} from "./api";
import { LoadProblem } from "./LoadProblem";

export const ROLES: readonly Role[] = ["admin", "developer", "user", "guest"];
const EMPTY_DRAFT: UserCreate = { username: "", password: "", role: "user" };

export function UsersPanel() {
  const users = useUsersQuery(undefined, { refetchOnMountOrArgChange: true });
  const [addUser] = useAddUserMutation();
  const [changeUser] = useChangeUserMutation();
  const [deleteUser] = useDeleteUserMutation();
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState<UserCreate>(EMPTY_DRAFT);
  const list = users.data ?? [];

  /** Report the outcome of a change; true when it was made. */
  const act = async (change: Promise<{ error?: unknown }>) => {
    const { error: failed } = await change;
    setError(failed ? errorMessage(failed) : null);
    return !failed;
  };
  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (await act(addUser(draft))) setDraft(EMPTY_DRAFT);
  };

  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users and roles</h2>
      <LoadProblem error={users.error} what="User management" path="/api/v1/admin/users" />
      <ErrorMessage message={error} />
      {users.data && !users.error && (
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
                          changeUser({ id: user.id, change: { role: event.target.value as Role } }),
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
                      onClick={() => void act(deleteUser(user.id))}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <form
            className="inline-form"
            onSubmit={(event) => void create(event)}
            aria-label="Add a user"
          >
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
              onChange={(e) => setDraft({ ...draft, role: e.target.value as Role })}
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
