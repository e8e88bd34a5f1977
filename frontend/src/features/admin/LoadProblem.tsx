import { errorMessage, isMissingEndpoint } from "../../api/client";

/** Why an admin panel shows no data: this server does not offer it (a 404 is not an error), or
 * loading it failed. */
export function LoadProblem({ error, what, path }: { error: unknown; what: string; path: string }) {
  if (!error) return null;
  if (isMissingEndpoint(error)) {
    return (
      <p className="muted">
        {what} is not available on this server (<code>{path}</code> is not served).
      </p>
    );
  }
  return <p className="error">{errorMessage(error)}</p>;
}
