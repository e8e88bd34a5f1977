// Sign-in state: the session (persisted), who is signed in, and whether this server asks for
// sign-in at all. It follows the outcomes of the auth endpoints (./api.ts).
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { errorMessage } from "../../api/client";
import type { Me, Provider } from "../../api/types";
import { authApi } from "./api";
import type { AuthMode, Session } from "./session";

export interface AuthState {
  mode: AuthMode;
  user: Me | null;
  session: Session | null;
  providers: Provider[];
  busy: boolean;
  error: string | null;
}

export const initialAuth = (session: Session | null): AuthState => ({
  mode: "probing",
  user: null,
  session,
  providers: [],
  busy: false,
  error: null,
});

const { probe, signIn, refreshSession, signOut } = authApi.endpoints;

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
      .addMatcher(probe.matchFulfilled, (state, action) => {
        state.mode = action.payload.mode;
        state.user = action.payload.user;
        state.providers = action.payload.providers;
        if (action.payload.signedOut) state.session = null;
      })
      .addMatcher(probe.matchRejected, (state, action) => {
        if (action.meta.condition) return; // not sent: an identical probe is under way
        // The server is unreachable: keep what we had and let the connection indicator say so.
        if (state.mode === "probing") state.mode = state.session ? "required" : "open";
      })
      .addMatcher(signIn.matchPending, (state) => {
        state.busy = true;
        state.error = null;
      })
      .addMatcher(signIn.matchFulfilled, (state, action) => {
        state.busy = false;
        state.mode = "required";
        state.session = action.payload.session;
        state.user = action.payload.me;
      })
      .addMatcher(signIn.matchRejected, (state, action) => {
        state.busy = false;
        state.error = action.payload ? errorMessage(action.payload) : "sign-in failed";
      })
      .addMatcher(refreshSession.matchFulfilled, (state, action) => {
        state.session = action.payload;
      })
      .addMatcher(refreshSession.matchRejected, (state) => {
        state.session = null;
        state.user = null;
        state.error = "Your session has ended; please sign in again.";
      })
      .addMatcher(signOut.matchFulfilled, (state) => {
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
