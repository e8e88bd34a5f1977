// Sessions and what the server's answers mean for sign-in: pure functions, shared by the auth
// endpoints and the auth slice. The server decides whether sign-in exists at all: when
// `/auth/me` is missing (404) or answers without credentials (authentication disabled, the
// development profile), the UI is "open" and shows no sign-in; a 401 means sign-in is required.
import type { Me, Tokens } from "../../api/types";

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ms since the epoch). */
  expiresAt: number;
}

export type AuthMode = "probing" | "open" | "required";

/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 60_000;

export function sessionFrom(tokens: Tokens, now: number): Session {
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: now + tokens.expires_in * 1000,
  };
}

/** When to refresh silently: a margin before expiry (at most half the token's life). */
export function refreshDelay(session: Session, now: number): number {
  const left = session.expiresAt - now;
  return Math.max(0, left - Math.min(REFRESH_MARGIN_MS, left / 2));
}

/** What an `/auth/me` probe means for the UI. */
export function interpretProbe(
  outcome: { me: Me } | { status: number },
  sentToken: boolean,
): { mode: AuthMode; user: Me | null; signedOut: boolean } {
  if ("me" in outcome) {
    return { mode: sentToken ? "required" : "open", user: outcome.me, signedOut: false };
  }
  if (outcome.status === 404 || outcome.status === 405) {
    return { mode: "open", user: null, signedOut: false };
  }
  return { mode: "required", user: null, signedOut: outcome.status === 401 };
}

/** Tokens from an OpenID Connect redirect: `#access_token=...&refresh_token=...&expires_in=...`. */
export function sessionFromFragment(hash: string, now: number): Session | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const access = params.get("access_token");
  const refresh = params.get("refresh_token");
  const expires = Number(params.get("expires_in"));
  if (!access || !refresh || !Number.isFinite(expires) || expires <= 0) return null;
  return { accessToken: access, refreshToken: refresh, expiresAt: now + expires * 1000 };
}
