// Connects the API client to the signed-in session: attaches the access token, refreshes it
// shortly before it expires (one refresh at a time), and signs out when refreshing fails.
import { setCredentials } from "../../api/client";
import type { AppStore } from "../../store";
import { authApi } from "./api";
import { REFRESH_MARGIN_MS } from "./session";

/** Refresh the session now; true when it worked. */
export function refreshNow(store: Pick<AppStore, "dispatch">): Promise<boolean> {
  return store
    .dispatch(authApi.endpoints.refreshSession.initiate(undefined, { track: false }))
    .then((result) => result.error === undefined);
}

export function connectCredentials(store: AppStore): void {
  let refreshing: Promise<boolean> | null = null;
  const refresh = (): Promise<boolean> => {
    refreshing ??= refreshNow(store).finally(() => {
      refreshing = null;
    });
    return refreshing;
  };
  setCredentials({
    async accessToken() {
      const session = store.getState().auth.session;
      if (!session) return null;
      if (session.expiresAt - Date.now() < REFRESH_MARGIN_MS / 2) await refresh();
      return store.getState().auth.session?.accessToken ?? null;
    },
    unauthorized: () => (store.getState().auth.session ? refresh() : Promise.resolve(false)),
  });
}
