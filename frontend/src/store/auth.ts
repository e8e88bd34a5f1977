// Sign-in state. The server decides whether sign-in exists at all: when `/auth/me` is missing
// (404) or answers without credentials (authentication disabled, the development profile), the
// UI is "open" and shows no sign-in; a 401 means sign-in is required.
import { createAsyncThunk, createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { ApiError, errorMessage, request } from "../api/client";
import type { Me, Tokens } from "../api/types";

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ms since the epoch). */
  expiresAt: number;
}

export interface Provider {
  name: string;
  title: string;
}

export type AuthMode = "probing" | "open" | "required";

export interface AuthState {
  mode: AuthMode;
  user: Me | null;
  session: Session | null;
  providers: Provider[];
  busy: boolean;
  error: string | null;
}

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

type Probe = { me: Me } | { status: number };

async function probe(): Promise<Probe> {
  try {
    return { me: await request<Me>("auth/me") };
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status };
    throw error;
  }
}

async function loadProviders(): Promise<Provider[]> {
  try {
    return await request<Provider[]>("auth/providers", { anonymous: true });
  } catch {
    return []; // no provider list (or no OIDC on this server): password sign-in only
  }
}

export const probeAuth = createAsyncThunk("auth/probe", async (_: void, { getState }) => {
  const sentToken = (getState() as { auth: AuthState }).auth.session !== null;
  const result = interpretProbe(await probe(), sentToken);
  const providers = result.mode === "required" && !result.user ? await loadProviders() : [];
  return { ...result, providers };
});

export const signIn = createAsyncThunk(
  "auth/signIn",
  async (credentials: { username: string; password: string }, { rejectWithValue }) => {
    try {
      const tokens = await request<Tokens>("auth/login", { json: credentials, anonymous: true });
      const session = sessionFrom(tokens, Date.now());
      const me = await request<Me>("auth/me", {
        headers: { Authorization: `Bearer ${session.accessToken}` },
        anonymous: true,
      });
      return { session, me };
    } catch (error) {
      return rejectWithValue(errorMessage(error));
    }
  },
);

export const refreshSession = createAsyncThunk(
  "auth/refresh",
  async (_: void, { getState, rejectWithValue }) => {
    const session = (getState() as { auth: AuthState }).auth.session;
    if (!session) return rejectWithValue("not signed in");
    try {
      const tokens = await request<Tokens>("auth/refresh", {
        json: { refresh_token: session.refreshToken },
        anonymous: true,
      });
      return sessionFrom(tokens, Date.now());
    } catch (error) {
      return rejectWithValue(errorMessage(error));
    }
  },
);

export const signOut = createAsyncThunk("auth/signOut", async (_: void, { getState }) => {
  const session = (getState() as { auth: AuthState }).auth.session;
  if (session) {
    await request("auth/logout", { json: { refresh_token: session.refreshToken } }).catch(
      () => undefined, // signing out locally is what matters; the token expires anyway
    );
  }
});

export const initialAuth = (session: Session | null): AuthState => ({
  mode: "probing",
  user: null,
  session,
  providers: [],
  busy: false,
  error: null,
});

const slice = createSlice({
  name: "auth",
  initialState: initialAuth(null),
  reducers: {
    /** Tokens handed over by an OpenID Connect login (the callback's redirect). */
    sessionReceived(state, action: PayloadAction<Session>) {
      state.session = action.payload;
      state.mode = "probing";
    },
  },
  extraReducers: (builder) => {
    builder
      .addCase(probeAuth.fulfilled, (state, action) => {
        state.mode = action.payload.mode;
        state.user = action.payload.user;
        state.providers = action.payload.providers;
        if (action.payload.signedOut) state.session = null;
      })
      .addCase(probeAuth.rejected, (state) => {
        // The server is unreachable: keep what we had and let the connection indicator say so.
        if (state.mode === "probing") state.mode = state.session ? "required" : "open";
      })
      .addCase(signIn.pending, (state) => {
        state.busy = true;
        state.error = null;
      })
      .addCase(signIn.fulfilled, (state, action) => {
        state.busy = false;
        state.mode = "required";
        state.session = action.payload.session;
        state.user = action.payload.me;
      })
      .addCase(signIn.rejected, (state, action) => {
        state.busy = false;
        state.error = (action.payload as string | undefined) ?? "sign-in failed";
      })
      .addCase(refreshSession.fulfilled, (state, action) => {
        state.session = action.payload;
      })
      .addCase(refreshSession.rejected, (state) => {
        state.session = null;
        state.user = null;
        state.error = "Your session has ended; please sign in again.";
      })
      .addCase(signOut.fulfilled, (state) => {
        state.session = null;
        state.user = null;
        state.error = null;
      });
  },
});

export const { sessionReceived } = slice.actions;
export default slice.reducer;

/** Whether the UI may show a page: open mode, or signed in. */
export function isAllowedIn(state: AuthState): boolean {
  return state.mode === "open" || (state.mode === "required" && state.user !== null);
}

/** Admin pages: for a user with the admin permission; in open mode everyone is the local admin. */
export function isAdmin(state: AuthState): boolean {
  if (state.user) return state.user.permissions.includes("admin");
  return state.mode === "open";
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
