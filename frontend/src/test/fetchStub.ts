// A fake server for tests: `fetch` answers from a table of "METHOD path" handlers (404 for the
// rest), and every call is recorded. Tests dispatch through a real store, so requests take the
// same path (RTK Query, the base query, credentials) as in the browser.
import { vi } from "vitest";

export function json(status: number, body: unknown): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": status >= 400 ? "application/problem+json" : "application/json" },
  });
}

export interface Call {
  /** The path under /api/v1/, with its query string. */
  path: string;
  init?: RequestInit;
}

export function routes(table: Record<string, (init?: RequestInit) => Response>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((url: string, init?: RequestInit) => {
      const parsed = new URL(url);
      const path = parsed.pathname.replace(/^\/api\/v1\//, "");
      calls.push({ path: path + parsed.search, init });
      const handler = table[`${init?.method ?? "GET"} ${path}`];
      return Promise.resolve(
        handler ? handler(init) : json(404, { status: 404, title: "Not Found" }),
      );
    }),
  );
  return calls;
}

/** The JSON body a recorded call sent. */
export function sentJson(call: Call | undefined): unknown {
  const body = call?.init?.body;
  return typeof body === "string" ? JSON.parse(body) : undefined;
}
