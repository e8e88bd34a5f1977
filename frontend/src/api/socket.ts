// The WebSocket client (`/api/v1/ws`): one socket carries many requests, told apart by the `id`
// each client message carries and the server echoes as `request_id`. It authenticates with a
// first `{"type": "auth", "token"}` message (never `?token=` in the URL, where proxies and
// servers log it), sends nothing else until the server says `ready`, reconnects with backoff and
// re-subscribes to every execution still in flight from the last event it saw, so a dropped
// connection loses nothing.
import { apiUrl } from "./client";
import { backoffDelay, type StreamState } from "./sse";
import type { EventEnvelope } from "./types";

export interface SocketLike {
  readyState: number;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(): void;
}

export interface ServerMessage extends Partial<EventEnvelope> {
  type: string;
  request_id?: string;
  [key: string]: unknown;
}

export interface SocketOptions {
  token: () => Promise<string | null>;
  create?: (url: string) => SocketLike;
  url?: () => string;
  delay?: (attempt: number) => number;
  onState?: (state: StreamState | "unavailable") => void;
}

interface Pending {
  handler: (message: ServerMessage) => void;
  /** The execution this request follows, once known, and the last event id seen of it. */
  executionId: string | null;
  lastEventId: string | null;
}

const OPEN = 1;
const FINAL_TYPES = new Set(["complete", "error"]);

export function socketUrl(): string {
  return apiUrl("ws").replace(/^http/, "ws");
}

export class SocketClient {
  private socket: SocketLike | null = null;
  /** The server said `ready` on the current socket: requests may go out. */
  private ready = false;
  private everOpened = false;
  private attempt = 0;
  private counter = 0;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly outbox: string[] = [];
  private readonly pending = new Map<string, Pending>();
  state: StreamState | "unavailable" | "idle" = "idle";

  constructor(private readonly options: SocketOptions) {}

  connect(): void {
    this.closed = false;
    void this.open();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
    this.setState("closed");
  }

  get available(): boolean {
    return this.state === "open" || (this.everOpened && this.state === "reconnecting");
  }

  /** Send a client message; every server message answering it goes to `handler`. */
  request(message: Record<string, unknown>, handler: (message: ServerMessage) => void): string {
    this.counter += 1;
    const id = `r${this.counter}`;
    this.pending.set(id, { handler, executionId: null, lastEventId: null });
    this.transmit({ ...message, id });
    return id;
  }

  /** Stop routing answers to a request (its turn or execution is over, or the user left). */
  finish(id: string): void {
    this.pending.delete(id);
  }

  private transmit(message: Record<string, unknown>): void {
    const text = JSON.stringify(message);
    if (this.ready && this.socket?.readyState === OPEN) this.socket.send(text);
    else this.outbox.push(text);
  }

  private setState(state: StreamState | "unavailable"): void {
    this.state = state;
    this.options.onState?.(state);
  }

  private async open(): Promise<void> {
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    const token = await this.options.token();
    const url = (this.options.url ?? socketUrl)();
    const create = this.options.create ?? ((u: string) => new WebSocket(u) as SocketLike);
    const socket = create(url);
    this.socket = socket;
    this.ready = false;
    socket.onopen = () => {
      // Without a token (authentication off) the server says `ready` by itself.
      if (token) socket.send(JSON.stringify({ type: "auth", token }));
    };
    socket.onmessage = (event) => this.receive(event.data, socket);
    socket.onclose = () => {
      if (this.socket !== socket || this.closed) return;
      this.ready = false;
      if (!this.everOpened) {
        // Never connected: this server has no WebSocket endpoint (or refuses us); callers fall
        // back to HTTP streaming instead of waiting on retries.
        this.setState("unavailable");
        for (const text of this.outbox.splice(0)) {
          const id = (JSON.parse(text) as { id?: string }).id;
          const pending = id ? this.pending.get(id) : undefined;
          pending?.handler({ type: "error", data: { message: "the WebSocket is not available" } });
        }
        return;
      }
      const delay = (this.options.delay ?? ((n: number) => backoffDelay(n)))(this.attempt);
      this.attempt += 1;
      this.setState("reconnecting");
      this.timer = setTimeout(() => void this.open(), delay);
    };
    socket.onerror = () => {};
  }

  /** Authenticated: go live, pick up what was in flight, send what waited. */
  private onReady(socket: SocketLike): void {
    this.ready = true;
    this.everOpened = true;
    this.attempt = 0;
    this.setState("open");
    this.resubscribe();
    for (const text of this.outbox.splice(0)) socket.send(text);
  }

  private resubscribe(): void {
    for (const [id, pending] of this.pending) {
      if (pending.executionId === null) continue;
      const after = pending.lastEventId === null ? 0 : Number(pending.lastEventId);
      this.socket?.send(
        JSON.stringify({ type: "subscribe", id, execution_id: pending.executionId, after }),
      );
    }
  }

  private receive(raw: unknown, socket: SocketLike): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(String(raw)) as ServerMessage;
    } catch {
      return;
    }
    const id = message.request_id;
    if (message.type === "ready" && !id) {
      if (socket === this.socket) this.onReady(socket);
      return;
    }
    const pending = id ? this.pending.get(id) : undefined;
    if (!id || !pending) return;
    if (message.execution_id) pending.executionId = message.execution_id;
    if (message.id !== undefined && message.seq !== undefined) {
      if (pending.lastEventId !== null && message.seq <= Number(pending.lastEventId)) return;
      pending.lastEventId = String(message.id);
    }
    pending.handler(message);
    const data = message.data as { status?: string } | undefined;
    const finalStatus =
      message.type === "status" &&
      ["succeeded", "failed", "cancelled"].includes(data?.status ?? "");
    if (FINAL_TYPES.has(message.type) || finalStatus) this.pending.delete(id);
  }
}
