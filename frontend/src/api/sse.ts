// Server-Sent Events over fetch (EventSource cannot send an Authorization header): a parser, and
// a follower that reconnects with backoff and resumes from the last event id, so a server restart
// or a dropped network loses no event.
import { ApiError, NetworkError, send, toProblem } from "./client";
import type { EventEnvelope } from "./types";

export interface SseMessage {
  event: string;
  id: string | null;
  data: string;
}

/** Incremental parser of the text/event-stream format (WHATWG HTML, "Server-sent events"). */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private afterCarriageReturn = false;
  lastEventId: string | null = null;
  retry: number | null = null;

  feed(chunk: string): SseMessage[] {
    // A "\r\n" split across two chunks is one line end, not two.
    const text = this.afterCarriageReturn && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
    this.afterCarriageReturn = text.endsWith("\r");
    this.buffer += text;
    const messages: SseMessage[] = [];
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? ""; // the last piece has no line end yet
    for (const line of lines) {
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | null {
    if (line === "") {
      const message =
        this.data.length > 0
          ? { event: this.event || "message", id: this.lastEventId, data: this.data.join("\n") }
          : null;
      this.event = "";
      this.data = [];
      return message;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }
}

/** Read an event-stream response to its end, handing over each envelope. */
export async function readEnvelopes(
  response: Response,
  onEnvelope: (envelope: EventEnvelope) => void,
  parser = new SseParser(),
): Promise<void> {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const message of parser.feed(value)) {
      const envelope = parseEnvelope(message);
      if (envelope) onEnvelope(envelope);
    }
  }
}

export function parseEnvelope(message: SseMessage): EventEnvelope | null {
  try {
    const parsed = JSON.parse(message.data) as Partial<EventEnvelope>;
    const id = parsed.id ?? message.id ?? "";
    return {
      id: String(id),
      type: parsed.type ?? message.event,
      execution_id: parsed.execution_id ?? null,
      session_id: parsed.session_id ?? null,
      seq: parsed.seq ?? (Number(id) || 0),
      ts: parsed.ts ?? new Date().toISOString(),
      data: parsed.data,
    };
  } catch {
    return null;
  }
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at `max`, each scaled by 50-100 %.
 * The cap is short because a restart is the common case and the page should be back soon after. */
export function backoffDelay(
  attempt: number,
  { base = 500, max = 5_000, random = Math.random } = {},
): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Whether reconnecting could help after this answer (server trouble, not a client mistake). */
export function isRetryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export type StreamState = "connecting" | "open" | "reconnecting" | "closed" | "failed";

export interface FollowOptions {
  /** API path of the event stream (GET), e.g. `workflows/<id>/events`. */
  path: string;
  /** Resume after this event id (what the last run of the page saw). */
  lastEventId?: string | null;
  onEvent: (envelope: EventEnvelope) => void;
  /** The event after which the server ends the stream for good. */
  isFinal: (envelope: EventEnvelope) => boolean;
  onState?: (
    state: StreamState,
    detail?: { attempt: number; delay?: number; error?: string },
  ) => void;
  delay?: (attempt: number) => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface Follower {
  close(): void;
  readonly done: Promise<void>;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Follow an event stream until its final event, reconnecting (with `Last-Event-ID`) whenever
 * the connection drops or the server answers with a retryable error. */
export function followEvents(options: FollowOptions): Follower {
  const controller = new AbortController();
  const { signal } = controller;
  const delay = options.delay ?? ((attempt: number) => backoffDelay(attempt));
  const sleep = options.sleep ?? abortableSleep;
  const state = options.onState ?? (() => {});
  let lastEventId = options.lastEventId ?? null;

  const run = async (): Promise<void> => {
    let attempt = 0;
    let finished = false;
    while (!signal.aborted) {
      state(attempt === 0 ? "connecting" : "reconnecting", { attempt });
      let error: string | undefined;
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
        const response = await send(options.path, { headers, signal });
        if (!response.ok) {
          const problem = await toProblem(response);
          if (!isRetryable(response.status)) throw new ApiError(problem);
          error = problem.detail ?? `HTTP ${response.status}`;
        } else {
          state("open", { attempt });
          attempt = 0;
          const parser = new SseParser();
          await readEnvelopes(
            response,
            (envelope) => {
              lastEventId = envelope.id;
              options.onEvent(envelope);
              if (options.isFinal(envelope)) finished = true;
            },
            parser,
          );
          if (finished) break;
          error = "the stream ended before the final event";
        }
      } catch (caught) {
        if (signal.aborted) break;
        if (caught instanceof ApiError) {
          state("failed", { attempt, error: caught.message });
          throw caught;
        }
        if (finished) break; // the connection broke after the final event: nothing is missing
        error = caught instanceof NetworkError ? caught.message : String(caught);
      }
      const wait = delay(attempt);
      state("reconnecting", { attempt: attempt + 1, delay: wait, error });
      attempt += 1;
      await sleep(wait, signal);
    }
    state("closed", { attempt });
  };

  const done = run();
  done.catch(() => {}); // failures are reported through onState; keep them out of the console
  return { close: () => controller.abort(), done };
}
