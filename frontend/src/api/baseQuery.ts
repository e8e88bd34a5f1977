// RTK Query's way into the API: every endpoint goes through `send()`, so the base URL, the
// access token (refreshed shortly before it expires), the retry after a refresh on 401 and the
// reachability report are the same for cached queries, streams and downloads.
import type { BaseQueryFn } from "@reduxjs/toolkit/query";
import { NetworkError, send, toProblem, type QueryError } from "./client";

export interface ApiRequest {
  /** Path under the API prefix ("workflows", "auth/me"). */
  url: string;
  method?: string;
  /** A JSON body. */
  body?: unknown;
  /** Query parameters; undefined, null and "" are left out. */
  params?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  /** Send no access token (sign-in, refresh). */
  anonymous?: boolean;
}

export function withParams(url: string, params: ApiRequest["params"]): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${url}?${text}` : url;
}

/** JSON in and out; a non-2xx answer becomes `{status, problem}`, an unreachable server
 * `{status: "NETWORK_ERROR"}`. Text answers (Prometheus metrics) come back as strings. */
export const apiBaseQuery: BaseQueryFn<ApiRequest | string, unknown, QueryError> = async (
  args,
  { signal },
) => {
  const request = typeof args === "string" ? { url: args } : args;
  let response: Response;
  try {
    response = await send(withParams(request.url, request.params), {
      method: request.method,
      json: request.body,
      headers: request.headers,
      anonymous: request.anonymous,
      signal,
    });
  } catch (error) {
    if (error instanceof NetworkError) {
      return { error: { status: "NETWORK_ERROR", message: error.message } };
    }
    throw error; // aborted: RTK Query records it as such
  }
  if (!response.ok)
    return { error: { status: response.status, problem: await toProblem(response) } };
  if (response.status === 204) return { data: null };
  const type = response.headers.get("content-type") ?? "";
  return { data: type.includes("json") ? await response.json() : await response.text() };
};
