// Sign-in endpoints. Each flow is one endpoint whose `queryFn` makes the requests it needs, and
// the auth slice follows their outcomes, so the session lives in one place (the slice, persisted)
// while the requests go through the same base query as everything else.
import { api, TAGS } from "../../api/api";
import type { apiBaseQuery, ApiRequest } from "../../api/baseQuery";
import type { Me, Provider, Tokens } from "../../api/types";
import { interpretProbe, sessionFrom, type AuthMode, type Session } from "./session";

export interface ProbeResult {
  mode: AuthMode;
  user: Me | null;
  signedOut: boolean;
  providers: Provider[];
}

/** The base query as a queryFn receives it. */
type Fetch = (request: ApiRequest) => ReturnType<typeof apiBaseQuery>;

/** The signed-in session, read from the store (the auth slice keeps it). */
const sessionOf = (getState: () => unknown) =>
  (getState() as { auth: { session: Session | null } }).auth.session;

async function loadProviders(fetch: Fetch): Promise<Provider[]> {
  const reply = await fetch({ url: "auth/providers", anonymous: true });
  // No provider list (or no OIDC on this server): password sign-in only.
  return Array.isArray(reply.data) ? (reply.data as Provider[]) : [];
}

export const authApi = api.injectEndpoints({
  endpoints: (build) => ({
    /** What `/auth/me` says about sign-in on this server (see `interpretProbe`). */
    probe: build.query<ProbeResult, void>({
      async queryFn(_arg, { getState }, _extra, fetch) {
        const sentToken = sessionOf(getState) !== null;
        const reply = await fetch({ url: "auth/me" });
        if (reply.error?.status === "NETWORK_ERROR") return { error: reply.error };
        const outcome = reply.error ? { status: reply.error.status } : { me: reply.data as Me };
        const result = interpretProbe(outcome, sentToken);
        const providers =
          result.mode === "required" && !result.user ? await loadProviders(fetch) : [];
        return { data: { ...result, providers } };
      },
    }),
    signIn: build.mutation<{ session: Session; me: Me }, { username: string; password: string }>({
      async queryFn(credentials, _api, _extra, fetch) {
        const tokens = await fetch({
          url: "auth/login",
          method: "POST",
          body: credentials,
          anonymous: true,
        });
        if (tokens.error) return { error: tokens.error };
        const session = sessionFrom(tokens.data as Tokens, Date.now());
        const me = await fetch({
          url: "auth/me",
          headers: { Authorization: `Bearer ${session.accessToken}` },
          anonymous: true,
        });
        if (me.error) return { error: me.error };
        return { data: { session, me: me.data as Me } };
      },
      // Another user may see other workflows and executions: nothing cached carries over.
      invalidatesTags: [...TAGS],
    }),
    /** A new token pair for the session's refresh token (which rotates). */
    refreshSession: build.mutation<Session, void>({
      async queryFn(_arg, { getState }, _extra, fetch) {
        const session = sessionOf(getState);
        if (!session)
          return { error: { status: 401, problem: { status: 401, detail: "not signed in" } } };
        const tokens = await fetch({
          url: "auth/refresh",
          method: "POST",
          body: { refresh_token: session.refreshToken },
          anonymous: true,
        });
        if (tokens.error) return { error: tokens.error };
        return { data: sessionFrom(tokens.data as Tokens, Date.now()) };
      },
    }),
    signOut: build.mutation<null, void>({
      async queryFn(_arg, { getState }, _extra, fetch) {
        const session = sessionOf(getState);
        // Signing out locally is what matters; the token expires anyway.
        if (session) {
          await fetch({
            url: "auth/logout",
            method: "POST",
            body: { refresh_token: session.refreshToken },
          });
        }
        return { data: null };
      },
      invalidatesTags: [...TAGS],
    }),
  }),
});

export const { useSignInMutation, useSignOutMutation } = authApi;
