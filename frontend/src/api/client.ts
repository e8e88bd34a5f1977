// The HTTP client: one place that knows the base URL, attaches credentials, turns problem
// responses into ApiError and reports whether the server is reachable.
import type { Problem } from "./types";

export const API_PREFIX = "api/v1/";

/** The API's absolute URL for `path` ("workflows" -> "<base>/api/v1/workflows"). */
export function apiUrl(path: string): string {
  return new URL(API_PREFIX + path.replace(/^\//, ""), document.baseURI).toString();
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.status = problem.status;
    this.problem = problem;
  }
}

/** A request that never reached the server (it is down, restarting, or the network dropped). */
export class NetworkError extends Error {}

export interface Credentials {
  /** The current access token (refreshing it first when it is about to expire). */
  accessToken(): Promise<string | null>;
  /** Called on a 401 answer to a request that carried a token; true when a retry may succeed. */
  unauthorized(): Promise<boolean>;
}

type Reachability = (reachable: boolean) => void;

let credentials: Credentials = {
  accessToken: () => Promise.resolve(null),
  unauthorized: () => Promise.resolve(false),
};
let reachability: Reachability = () => {};

export function setCredentials(source: Credentials): void {
  credentials = source;
}

export function onReachability(listener: Reachability): void {
  reachability = listener;
}

export async function authHeaders(): Promise<Record<string, string>> {
  const token = await credentials.accessToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function toProblem(response: Response): Promise<Problem> {
  try {
    const body = (await response.json()) as Partial<Problem>;
    return { ...body, status: response.status };
  } catch {
    return { status: response.status, title: response.statusText };
  }
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Skip attaching the access token (login, refresh). */
  anonymous?: boolean;
}

/** fetch() against the API with credentials; retries once after a successful token refresh. */
export async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const attempt = async (): Promise<{ response: Response; authed: boolean }> => {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    if (options.json !== undefined) headers["Content-Type"] = "application/json";
    const auth = options.anonymous ? {} : await authHeaders();
    let response: Response;
    try {
      response = await fetch(apiUrl(path), {
        method: options.method ?? (options.json !== undefined ? "POST" : "GET"),
        headers: { ...headers, ...auth },
        body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      reachability(false);
      throw new NetworkError(`the server could not be reached (${String(error)})`);
    }
    reachability(true);
    return { response, authed: "Authorization" in auth };
  };
  const first = await attempt();
  if (first.response.status === 401 && first.authed && (await credentials.unauthorized())) {
    return (await attempt()).response;
  }
  return first.response;
}

/** A list endpoint's items, whether it answers with a bare list or a page `{items}`. */
export type ListReply<T> = T[] | { items: T[] };
export function itemsOf<T>(reply: ListReply<T>): T[] {
  return Array.isArray(reply) ? reply : reply.items;
}

/** A failed request as RTK Query keeps it in the store (plain data, unlike ApiError): the
 * server's problem details, or a request that never reached the server. */
export type QueryError =
  { status: number; problem: Problem } | { status: "NETWORK_ERROR"; message: string };

function isQueryError(error: unknown): error is QueryError {
  return (
    typeof error === "object" &&
    error !== null &&
    "status" in error &&
    ("problem" in error || "message" in error)
  );
}

/** The problem details of a failed request, if the server answered with one. */
export function problemOf(error: unknown): Problem | null {
  if (error instanceof ApiError) return error.problem;
  if (isQueryError(error) && "problem" in error) return error.problem;
  return null;
}

/** True when the error means "this server has no such endpoint" (a feature not deployed). */
export function isMissingEndpoint(error: unknown): boolean {
  const status = problemOf(error)?.status;
  return status === 404 || status === 405;
}

export function errorMessage(error: unknown): string {
  const problem = problemOf(error);
  if (problem) return problem.detail || problem.title || `HTTP ${problem.status}`;
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) {
    return String(error.message);
  }
  return String(error);
}

/** Download an API resource (with credentials) as a Blob. */
export async function fetchBlob(path: string): Promise<Blob> {
  const response = await send(path, { headers: { Accept: "*/*" } });
  if (!response.ok) throw new ApiError(await toProblem(response));
  return response.blob();
}

/** Save a Blob under a file name through a temporary link. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
