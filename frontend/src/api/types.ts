// The HTTP contract (../shared/API.md) as TypeScript types.

export type JsonSchema = Record<string, unknown>;
export type Mode = "sync" | "job" | "stream" | "chat";
export type ExecutionStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export const FINAL_STATUSES: readonly ExecutionStatus[] = ["succeeded", "failed", "cancelled"];

export interface WorkflowInfo {
  name: string;
  title: string;
  description: string;
  tags: string[];
  version: string;
  mode: Mode;
  input_schema: JsonSchema;
  output_schema: JsonSchema;
  examples: string[];
}

export interface ToolInfo {
  name: string;
  title?: string;
  description: string;
  input_schema: JsonSchema;
  output_schema: JsonSchema;
}

export interface AgentInfo {
  name: string;
  description: string;
  tools: string[];
}

export interface AgentCapabilities {
  name?: string;
  description: string;
  instructions?: string;
  tools: ToolInfo[];
  input_schema: JsonSchema;
  streaming: boolean;
}

export interface Progress {
  fraction: number | null;
  message: string | null;
  step: string | null;
}

export interface ExecutionError {
  type?: string;
  message?: string;
  [key: string]: unknown;
}

export interface StatusBody {
  execution_id: string;
  workflow: string;
  status: ExecutionStatus;
  progress: Progress;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: ExecutionError | null;
  session_id?: string | null;
}

export interface ExecutionSummary extends StatusBody {
  kind: string;
  input: Record<string, unknown> | null;
}

export interface ExecutionPage {
  items: ExecutionSummary[];
  next_cursor: string | null;
}

export interface Accepted {
  execution_id: string;
  workflow: string;
  status: ExecutionStatus;
  links: { status: string; results: string; events: string; cancel: string };
  routed_to?: string | null;
}

export interface Results {
  execution_id: string;
  status: ExecutionStatus;
  output: unknown;
  artifacts: unknown[];
}

export interface FileInfo {
  file_id: string;
  filename: string;
  size: number;
  content_type: string;
  sha256: string;
}

export interface RouteReply {
  workflow: string | null;
  confidence: number;
  intent: string;
  domain: string;
  alternatives: { workflow: string; confidence: number }[];
}

/** One event of an execution or chat turn: the same envelope on SSE and WebSocket. */
export interface EventEnvelope {
  id: string;
  type: string;
  execution_id?: string | null;
  session_id?: string | null;
  seq: number;
  ts: string;
  data: unknown;
}

export interface ProblemError {
  loc: (string | number)[];
  msg: string;
  type?: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: ProblemError[];
  [key: string]: unknown;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

export interface Me {
  id: string;
  username: string;
  role: string;
  permissions: string[];
}

export interface ChatMessage {
  id: string;
  role: "user" | "assistant" | "tool";
  content: string;
  created_at: string;
}

export interface ChatSession {
  id: string;
  title?: string | null;
  created_at?: string;
  updated_at?: string;
}

export interface AdminUser {
  id: string;
  username: string;
  role: string;
  created_at?: string;
  disabled?: boolean;
}

export interface ApiKey {
  id: string;
  name: string;
  role?: string | null;
  prefix?: string;
  created_at?: string;
  expires_at?: string | null;
  last_used_at?: string | null;
}

export interface AuditEntry {
  id?: string | number;
  at?: string;
  ts?: string;
  created_at?: string;
  actor?: string | null;
  user?: string | null;
  action: string;
  target?: string | null;
  detail?: unknown;
  [key: string]: unknown;
}

export interface Health {
  status: string;
  checks: Record<string, { status: string; [key: string]: unknown }>;
}
