import { afterEach, describe, expect, it, vi } from "vitest";
import type { Me } from "../../api/types";
import { createStore } from "../../store";
import { json, routes, sentJson } from "../../test/fetchStub";
import { setCredentials } from "../../api/client";
import { workflowsApi } from "../workflows/api";
import { authApi } from "./api";
import { connectCredentials } from "./credentials";
import { initialAuth, isAdmin, isAllowedIn, type AuthState } from "./authSlice";
import { interpretProbe, refreshDelay, sessionFromFragment } from "./session";

const { probe, refreshSession, signIn, signOut } = authApi.endpoints;
const newStore = (session: AuthState["session"] = null) =>
  createStore({ drafts: {}, theme: "system", session });

const admin: Me = {
  id: "1",
  username: "ada",
  role: "admin",
  permissions: ["read", "write", "execute", "admin"],
};
const user: Me = { id: "2", username: "bob", role: "user", permissions: ["read", "execute"] };

afterEach(() => {
  vi.unstubAllGlobals();
  setCredentials({
    accessToken: () => Promise.resolve(null),
    unauthorized: () => Promise.resolve(false),
  });
});

describe("what the /auth/me probe means", () => {
  it("shows no sign-in when the server has no auth endpoints (404)", () => {
    expect(interpretProbe({ status: 404 }, false)).toEqual({
      mode: "open",
      user: null,
      signedOut: false,
    });
  });

  it("shows no sign-in when auth is disabled (me without a token: development)", () => {
    expect(interpretProbe({ me: admin }, false).mode).toBe("open");
  });

  it("asks for sign-in on 401 and forgets a rejected session", () => {
    expect(interpretProbe({ status: 401 }, true)).toEqual({
      mode: "required",
      user: null,
      signedOut: true,
    });
  });

  it("is signed in when a token was sent and accepted", () => {
    expect(interpretProbe({ me: user }, true)).toEqual({
      mode: "required",
      user,
      signedOut: false,
    });
  });
});

describe("who sees what", () => {
  const state = (patch: Partial<AuthState>): AuthState => ({ ...initialAuth(null), ...patch });
  it("lets everyone in when open, only signed-in users when required", () => {
    expect(isAllowedIn(state({ mode: "open" }))).toBe(true);
    expect(isAllowedIn(state({ mode: "required" }))).toBe(false);
    expect(isAllowedIn(state({ mode: "required", user }))).toBe(true);
  });
  it("shows admin pages only to admins (and to the local admin of an open server)", () => {
    expect(isAdmin(state({ mode: "required", user }))).toBe(false);
    expect(isAdmin(state({ mode: "required", user: admin }))).toBe(true);
    expect(isAdmin(state({ mode: "open" }))).toBe(true);
    expect(isAdmin(state({ mode: "open", user }))).toBe(false);
  });
});

describe("tokens", () => {
  it("refreshes a minute before expiry, or at half-life for short tokens", () => {
    const now = 1_000_000;
    expect(
      refreshDelay({ accessToken: "a", refreshToken: "r", expiresAt: now + 30 * 60_000 }, now),
    ).toBe(29 * 60_000);
    expect(
      refreshDelay({ accessToken: "a", refreshToken: "r", expiresAt: now + 60_000 }, now),
    ).toBe(30_000);
    expect(refreshDelay({ accessToken: "a", refreshToken: "r", expiresAt: now - 1 }, now)).toBe(0);
  });

  it("takes an OpenID Connect login's tokens from the URL fragment", () => {
    expect(sessionFromFragment("#access_token=A&refresh_token=R&expires_in=60", 1000)).toEqual({
      accessToken: "A",
      refreshToken: "R",
      expiresAt: 61_000,
    });
    expect(sessionFromFragment("#state=x", 0)).toBeNull();
  });
});

describe("signing in and out against the API.md contract", () => {
  it("signs in with a password, then knows the user", async () => {
    const calls = routes({
      "POST auth/login": () =>
        json(200, {
          access_token: "A1",
          refresh_token: "R1",
          token_type: "bearer",
          expires_in: 1800,
        }),
      "GET auth/me": () => json(200, user),
    });
    const store = newStore();
    await store.dispatch(signIn.initiate({ username: "bob", password: "pw" }));
    const auth = store.getState().auth;
    expect(auth.user).toEqual(user);
    expect(auth.session?.accessToken).toBe("A1");
    expect(sentJson(calls[0])).toEqual({ username: "bob", password: "pw" });
    expect((calls[1]!.init?.headers as Record<string, string>).Authorization).toBe("Bearer A1");
  });

  it("reports a wrong password", async () => {
    routes({
      "POST auth/login": () => json(401, { status: 401, detail: "wrong username or password" }),
    });
    const store = newStore();
    await store.dispatch(signIn.initiate({ username: "bob", password: "nope" }));
    expect(store.getState().auth.error).toBe("wrong username or password");
    expect(store.getState().auth.session).toBeNull();
  });

  it("rotates the refresh token, and signs out when refreshing is refused", async () => {
    routes({
      "POST auth/refresh": (init) =>
        (sentJson({ path: "", init }) as { refresh_token: string }).refresh_token === "R1"
          ? json(200, {
              access_token: "A2",
              refresh_token: "R2",
              token_type: "bearer",
              expires_in: 1800,
            })
          : json(401, { status: 401, detail: "refresh token already used" }),
    });
    const store = newStore({ accessToken: "A1", refreshToken: "R1", expiresAt: Date.now() + 1000 });
    await store.dispatch(refreshSession.initiate());
    expect(store.getState().auth.session).toMatchObject({ accessToken: "A2", refreshToken: "R2" });
    await store.dispatch(signOut.initiate());
    expect(store.getState().auth.session).toBeNull();

    const stale = newStore({ accessToken: "A0", refreshToken: "R0", expiresAt: Date.now() + 1000 });
    await stale.dispatch(refreshSession.initiate());
    expect(stale.getState().auth.session).toBeNull();
    expect(stale.getState().auth.error).toMatch(/sign in again/);
  });

  it("probes to open mode on a server without /auth (this branch's server)", async () => {
    routes({});
    const store = newStore();
    await store.dispatch(probe.initiate());
    expect(store.getState().auth.mode).toBe("open");
  });

  it("probes to sign-in with the OIDC providers when the server asks for credentials", async () => {
    routes({
      "GET auth/me": () => json(401, { status: 401, detail: "authentication is required" }),
      "GET auth/providers": () => json(200, [{ name: "corp", title: "Corp SSO" }]),
    });
    const store = newStore();
    await store.dispatch(probe.initiate());
    expect(store.getState().auth.mode).toBe("required");
    expect(store.getState().auth.providers).toEqual([{ name: "corp", title: "Corp SSO" }]);
  });
});

describe("queries carry the session's token", () => {
  const tokens = (access: string, refresh: string) =>
    json(200, {
      access_token: access,
      refresh_token: refresh,
      token_type: "bearer",
      expires_in: 1800,
    });
  const authorization = (init?: RequestInit) =>
    (init?.headers as Record<string, string> | undefined)?.Authorization;

  it("refreshes once on a 401 and retries the query with the new token", async () => {
    const calls = routes({
      "GET workflows": (init) =>
        authorization(init) === "Bearer A2" ? json(200, []) : json(401, { status: 401 }),
      "POST auth/refresh": () => tokens("A2", "R2"),
    });
    const store = newStore({
      accessToken: "A1",
      refreshToken: "R1",
      expiresAt: Date.now() + 600_000,
    });
    connectCredentials(store);
    const result = await store.dispatch(workflowsApi.endpoints.workflows.initiate());
    expect(result.data).toEqual([]);
    expect(calls.map((call) => [call.path, authorization(call.init)])).toEqual([
      ["workflows", "Bearer A1"],
      ["auth/refresh", undefined],
      ["workflows", "Bearer A2"],
    ]);
    expect(store.getState().auth.session?.refreshToken).toBe("R2");
  });

  it("refreshes a token about to expire before sending, and signs out when that is refused", async () => {
    const calls = routes({
      "POST auth/refresh": () => json(401, { status: 401, detail: "refresh token already used" }),
      "GET workflows": () => json(401, { status: 401 }),
    });
    const store = newStore({ accessToken: "A1", refreshToken: "R1", expiresAt: Date.now() + 1000 });
    connectCredentials(store);
    const result = await store.dispatch(workflowsApi.endpoints.workflows.initiate());
    expect(result.error).toMatchObject({ status: 401 });
    expect(calls[0]!.path).toBe("auth/refresh");
    expect(store.getState().auth.session).toBeNull();
  });
});
