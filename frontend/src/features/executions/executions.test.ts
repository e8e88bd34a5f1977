import { afterEach, describe, expect, it, vi } from "vitest";
import type { EventEnvelope, StatusBody } from "../../api/types";
import { createStore } from "../../store";
import { json, routes } from "../../test/fetchStub";
import { executionsApi } from "./api";
import reducer, { eventReceived, isFinalEvent, type ExecutionsState } from "./executionsSlice";

afterEach(() => vi.unstubAllGlobals());

const ID = "e1";
let seq = 0;
function event(type: string, data: unknown, n?: number): EventEnvelope {
  seq = n ?? seq + 1;
  return { id: String(seq), seq, type, data, execution_id: ID, ts: "2026-01-01T00:00:00Z" };
}
const apply = (state: ExecutionsState, ...events: EventEnvelope[]) =>
  events.reduce((s, e) => reducer(s, eventReceived({ id: ID, event: e })), state);

describe("an execution built from its events", () => {
  it("follows status, progress and the result", () => {
    seq = 0;
    const state = apply(
      {},
      event("status", { status: "queued" }),
      event("status", { status: "running" }),
      event("progress", { fraction: 0.5, message: "step 1/2", step: "step-1" }),
      event("result", { output: { estimate: 3.14 }, artifacts: [] }),
      event("status", { status: "succeeded" }),
    );
    const view = state[ID]!;
    expect(view.status).toBe("succeeded");
    expect(view.progress).toEqual({ fraction: 1, message: "step 1/2", step: "step-1" });
    expect(view.output).toEqual({ estimate: 3.14 });
    expect(view.hasOutput).toBe(true);
    expect(view.lastEventId).toBe("5");
  });

  it("applies a replay after a reconnect only once", () => {
    seq = 0;
    const first = [
      event("status", { status: "running" }),
      event("chunk", { delta: "Hel" }),
      event("chunk", { delta: "lo" }),
    ];
    let state = apply({}, ...first);
    // the server replays from Last-Event-ID; a proxy may resend the last one
    state = apply(state, first[2]!, event("chunk", { delta: "!" }, 4));
    expect(state[ID]!.chunks).toEqual(["Hel", "lo", "!"]);
    expect(state[ID]!.events.map((e) => e.id)).toEqual(["1", "2", "3", "4"]);
  });

  it("keeps the error of a failed or cancelled run", () => {
    seq = 0;
    const state = apply(
      {},
      event("status", { status: "running" }),
      event("error", { error: { type: "cancelled", message: "cancelled by the user" } }),
      event("status", { status: "cancelled" }),
    );
    expect(state[ID]!.status).toBe("cancelled");
    expect(state[ID]!.error).toEqual({ type: "cancelled", message: "cancelled by the user" });
  });

  it("lets a late status reply not overwrite what the stream said", async () => {
    seq = 0;
    const store = createStore({ drafts: {}, theme: "system", session: null });
    for (const e of [
      event("status", { status: "running" }),
      event("progress", { fraction: 0.8 }),
    ]) {
      store.dispatch(eventReceived({ id: ID, event: e }));
    }
    const stale: StatusBody = {
      execution_id: ID,
      workflow: "simulation",
      status: "queued",
      progress: { fraction: null, message: null, step: null },
      created_at: "2026-01-01T00:00:00Z",
      started_at: null,
      finished_at: null,
      error: null,
    };
    routes({ [`GET workflows/${ID}/status`]: () => json(200, stale) });
    await store.dispatch(executionsApi.endpoints.executionStatus.initiate(ID));
    const after = store.getState().executions;
    expect(after[ID]!.status).toBe("running");
    expect(after[ID]!.progress.fraction).toBe(0.8);
    expect(after[ID]!.workflow).toBe("simulation");
  });

  it("knows which event ends the stream", () => {
    expect(isFinalEvent(event("status", { status: "succeeded" }))).toBe(true);
    expect(isFinalEvent(event("status", { status: "running" }))).toBe(false);
    expect(isFinalEvent(event("result", { output: 1 }))).toBe(false);
  });
});

describe("an execution loaded from the API", () => {
  it("takes the status and, for a finished run, the results", async () => {
    const finished: StatusBody = {
      execution_id: "e2",
      workflow: "pi",
      status: "succeeded",
      progress: { fraction: 1, message: null, step: null },
      created_at: "2026-01-01T00:00:00Z",
      started_at: "2026-01-01T00:00:01Z",
      finished_at: "2026-01-01T00:00:02Z",
      error: null,
    };
    routes({
      "GET workflows/e2/status": () => json(200, finished),
      "GET workflows/e2/results": () =>
        json(200, { execution_id: "e2", status: "succeeded", output: { pi: 3.14 }, artifacts: [] }),
    });
    const store = createStore({ drafts: {}, theme: "system", session: null });
    await store.dispatch(executionsApi.endpoints.executionStatus.initiate("e2"));
    await store.dispatch(executionsApi.endpoints.executionResults.initiate("e2"));
    expect(store.getState().executions.e2).toMatchObject({
      workflow: "pi",
      status: "succeeded",
      hasOutput: true,
      output: { pi: 3.14 },
    });
  });
});
