import { useCallback, useEffect, useState } from "react";
import { errorMessage, isMissingEndpoint, request } from "../../api/client";

export type Resource<T> =
  | { state: "loading" }
  | { state: "ready"; data: T }
  | { state: "missing" }
  | { state: "failed"; error: string };

/** GET an admin resource; a 404 means this server does not offer it (not an error). */
export function useResource<T>(path: string): [Resource<T>, () => void] {
  const [resource, setResource] = useState<Resource<T>>({ state: "loading" });
  const load = useCallback(() => {
    request<T>(path).then(
      (data) => setResource({ state: "ready", data }),
      (error: unknown) =>
        setResource(
          isMissingEndpoint(error)
            ? { state: "missing" }
            : { state: "failed", error: errorMessage(error) },
        ),
    );
  }, [path]);
  useEffect(load, [load]);
  return [resource, load];
}

export function Unavailable({ what, path }: { what: string; path: string }) {
  return (
    <p className="muted">
      {what} is not available on this server (<code>{path}</code> is not served).
    </p>
  );
}
