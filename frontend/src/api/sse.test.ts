import { afterEach, describe, expect, it, vi } from "vitest";
import type { EventEnvelope } from "./types";
import { backoffDelay, followEvents, isRetryable, SseParser, type StreamState } from "./sse";

describe("SseParser", () => {
  it("parses events split anywhere across chunks, with ids kept between events", () => {
    const parser = new SseParser();
    const text =
      'id: 1\nevent: status\ndata: {"a":1}\n\n: ping\n\nid: 2\r\nevent: progress\r\ndata: x\r\ndata: y\r\n\r\ndata: z\n\n';
    const messages = [...text].flatMap((char) => parser.feed(char));
    expect(messages).toEqual([
      { event: "status", id: "1", data: '{"a":1}' },
      { event: "progress", id: "2", data: "x\ny" },
      { event: "message", id: "2", data: "z" },
    ]);
    expect(parser.lastEventId).toBe("2");
  });

  it("reads the retry hint", () => {
    const parser = new SseParser();
    parser.feed("retry: 3000\n\n");
    expect(parser.retry).toBe(3000);
  });
});

describe("backoff", () => {
  it("doubles up to the cap, with jitter between half and all of it", () => {
    expect(backoffDelay(0, { random: () => 1 })).toBe(500);
    expect(backoffDelay(3, { random: () => 1 })).toBe(4000);
    expect(backoffDelay(30, { random: () => 1 })).toBe(5_000);
    expect(backoffDelay(2, { random: () => 0 })).toBe(1000);
  });
  it("retries server trouble, not client mistakes", () => {
    expect([502, 503, 429, 500].every(isRetryable)).toBe(true);
    expect([400, 403, 404, 409].some(isRetryable)).toBe(false);
  });
});

function sse(events: [number, string, unknown][], close: "end" | "error" = "end"): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const [id, type, data] of events) {
        const envelope = { id: String(id), seq: id, type, data, ts: "t", execution_id: "x" };
        controller.enqueue(
          encoder.encode(`id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(envelope)}\n\n`),
        );
      }
      if (close === "end") controller.close();
    },
    pull(controller) {
      // once what was sent has been read, the connection breaks
      if (close === "error") controller.error(new TypeError("network error"));
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
}

afterEach(() => vi.unstubAllGlobals());

describe("followEvents", () => {
  it("reconnects after a dropped connection and resumes from Last-Event-ID", async () => {
    const sent: (string | null)[] = [];
    const answers: (() => Response | Promise<Response>)[] = [
      () =>
        sse(
          [
            [1, "status", { status: "running" }],
            [2, "progress", { fraction: 0.5 }],
          ],
          "error",
        ),
      () => Promise.reject(new TypeError("connection refused")), // the server is restarting
      () => new Response("{}", { status: 503 }),
      () =>
        sse([
          [3, "result", { output: 1 }],
          [4, "status", { status: "succeeded" }],
        ]),
    ];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init: RequestInit) => {
        sent.push((init.headers as Record<string, string>)["Last-Event-ID"] ?? null);
        return answers.shift()!();
      }),
    );
    const events: EventEnvelope[] = [];
    const states: StreamState[] = [];
    const follower = followEvents({
      path: "workflows/x/events",
      onEvent: (e) => events.push(e),
      isFinal: (e) => e.type === "status" && (e.data as { status: string }).status === "succeeded",
      onState: (s) => states.push(s),
      delay: () => 1,
    });
    await follower.done;
    expect(events.map((e) => e.id)).toEqual(["1", "2", "3", "4"]);
    expect(sent).toEqual([null, "2", "2", "2"]);
    expect(states[0]).toBe("connecting");
    expect(states).toContain("reconnecting");
    expect(states.at(-1)).toBe("closed");
  });

  it("starts from a given event id and stops for good on a client error", async () => {
    const sent: (string | null)[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn((_url: string, init: RequestInit) => {
        sent.push((init.headers as Record<string, string>)["Last-Event-ID"] ?? null);
        return Promise.resolve(
          new Response(JSON.stringify({ status: 404, detail: "no execution x" }), { status: 404 }),
        );
      }),
    );
    const states: StreamState[] = [];
    const follower = followEvents({
      path: "workflows/x/events",
      lastEventId: "7",
      onEvent: () => {},
      isFinal: () => false,
      onState: (s) => states.push(s),
      delay: () => 1,
    });
    await expect(follower.done).rejects.toThrow("no execution x");
    expect(sent).toEqual(["7"]);
    expect(states.at(-1)).toBe("failed");
  });

  it("stops reconnecting when closed", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => Promise.reject(new TypeError("down"))),
    );
    const follower = followEvents({
      path: "workflows/x/events",
      onEvent: () => {},
      isFinal: () => false,
      delay: () => 5,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    follower.close();
    await follower.done;
    expect(vi.mocked(fetch).mock.calls.length).toBeGreaterThan(1);
  });
});
