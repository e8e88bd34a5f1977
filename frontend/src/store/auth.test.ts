import { afterEach, describe, expect, it, vi } from "vitest";
import type { Me } from "../api/types";
import { createStore } from ".";
import {
  interpretProbe,
  isAdmin,
  isAllowedIn,
  initialAuth,
  probeAuth,
  refreshDelay,
  refreshSession,
  sessionFromFragment,
  signIn,
  signOut,
  type AuthState,
} from "./auth";

const admin: Me = {
  id: "1",
  username: "ada",
  role: "admin",
  permissions: ["read", "write", "execute", "admin"],
};
const user: Me = { id: "2", username: "bob", role: "user", permissions: ["read", "execute"] };

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": status >= 400 ? "application/problem+json" : "application/json" },
  });
}

function routes(table: Record<string, (init?: RequestInit) => Response>) {
  const calls: { path: string; init?: RequestInit }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const path = new URL(url).pathname.replace(/^\/api\/v1\//, "");
      calls.push({ path, init });
      const handler = table[`${init?.method ?? "GET"} ${path}`];
      return handler ? handler(init) : json(404, { status: 404, title: "Not Found" });
    }),
  );
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

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
    const store = createStore({ drafts: {}, theme: "system", session: null });
    await store.dispatch(signIn({ username: "bob", password: "pw" }));
    const auth = store.getState().auth;
    expect(auth.user).toEqual(user);
    expect(auth.session?.accessToken).toBe("A1");
    expect(JSON.parse(String(calls[0]!.init?.body))).toEqual({ username: "bob", password: "pw" });
    expect((calls[1]!.init?.headers as Record<string, string>).Authorization).toBe("Bearer A1");
  });

  it("reports a wrong password", async () => {
    routes({
      "POST auth/login": () => json(401, { status: 401, detail: "wrong username or password" }),
    });
    const store = createStore({ drafts: {}, theme: "system", session: null });
    await store.dispatch(signIn({ username: "bob", password: "nope" }));
    expect(store.getState().auth.error).toBe("wrong username or password");
    expect(store.getState().auth.session).toBeNull();
  });

  it("rotates the refresh token, and signs out when refreshing is refused", async () => {
    routes({
      "POST auth/refresh": (init) =>
        JSON.parse(String(init?.body)).refresh_token === "R1"
          ? json(200, {
              access_token: "A2",
              refresh_token: "R2",
              token_type: "bearer",
              expires_in: 1800,
            })
          : json(401, { status: 401, detail: "refresh token already used" }),
    });
    const store = createStore({
      drafts: {},
      theme: "system",
      session: { accessToken: "A1", refreshToken: "R1", expiresAt: Date.now() + 1000 },
    });
    await store.dispatch(refreshSession());
    expect(store.getState().auth.session).toMatchObject({ accessToken: "A2", refreshToken: "R2" });
    await store.dispatch(signOut());
    expect(store.getState().auth.session).toBeNull();

    const stale = createStore({
      drafts: {},
      theme: "system",
      session: { accessToken: "A0", refreshToken: "R0", expiresAt: Date.now() + 1000 },
    });
    await stale.dispatch(refreshSession());
    expect(stale.getState().auth.session).toBeNull();
    expect(stale.getState().auth.error).toMatch(/sign in again/);
  });

  it("probes to open mode on a server without /auth (this branch's server)", async () => {
    routes({});
    const store = createStore({ drafts: {}, theme: "system", session: null });
    await store.dispatch(probeAuth());
    expect(store.getState().auth.mode).toBe("open");
  });

  it("probes to sign-in with the OIDC providers when the server asks for credentials", async () => {
    routes({
      "GET auth/me": () => json(401, { status: 401, detail: "authentication is required" }),
      "GET auth/providers": () => json(200, [{ name: "corp", title: "Corp SSO" }]),
    });
    const store = createStore({ drafts: {}, theme: "system", session: null });
    await store.dispatch(probeAuth());
    expect(store.getState().auth.mode).toBe("required");
    expect(store.getState().auth.providers).toEqual([{ name: "corp", title: "Corp SSO" }]);
  });
});
