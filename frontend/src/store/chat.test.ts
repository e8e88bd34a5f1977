import { describe, expect, it } from "vitest";
import type { EventEnvelope } from "../api/types";
import reducer, {
  completedText,
  historyLoaded,
  initialChat,
  messageSent,
  NEW_SESSION,
  sessionCreated,
  sessionDeleted,
  turnEvent,
  turnFailed,
  turnStopped,
  type ChatState,
} from "./chat";

let seq = 0;
const event = (type: string, data: unknown, extra: Partial<EventEnvelope> = {}): EventEnvelope => {
  seq += 1;
  return { id: String(seq), seq, type, data, ts: "t", ...extra };
};
const run = (state: ChatState, ...actions: Parameters<typeof reducer>[1][]) =>
  actions.reduce(reducer, state);

describe("a chat turn", () => {
  it("shows the user's message at once, then streams the reply into one assistant message", () => {
    seq = 0;
    let state = run(initialChat, messageSent({ localId: "m1", content: "Hello?" }));
    expect(state.messages[NEW_SESSION]).toMatchObject([
      { role: "user", content: "Hello?", pending: true },
    ]);
    expect(state.turn?.typing).toBe(true);

    state = run(
      state,
      turnEvent(event("typing", {}, { session_id: "s1", execution_id: "x1" })),
      turnEvent(event("chunk", { delta: "Hi " })),
      turnEvent(event("chunk", { delta: "there" })),
    );
    // the server named the new session: the conversation moves under its id
    expect(state.active).toBe("s1");
    expect(state.sessions.map((s) => s.id)).toEqual(["s1"]);
    expect(state.turn).toMatchObject({ text: "Hi there", typing: false, executionId: "x1" });

    state = run(state, turnEvent(event("complete", { message: { content: "Hi there!" } })));
    expect(state.turn).toBeNull();
    expect(state.messages.s1!.map((m) => [m.role, m.content, m.pending ?? false])).toEqual([
      ["user", "Hello?", false],
      ["assistant", "Hi there!", false],
    ]);
  });

  it("ignores events replayed after a reconnect", () => {
    seq = 0;
    const first = event("chunk", { delta: "a" });
    const state = run(
      initialChat,
      messageSent({ localId: "m", content: "x" }),
      turnEvent(first),
      turnEvent(first),
      turnEvent(event("chunk", { delta: "b" })),
    );
    expect(state.turn?.text).toBe("ab");
  });

  it("keeps what was streamed when stopped, marked as stopped", () => {
    seq = 0;
    const state = run(
      initialChat,
      messageSent({ localId: "m", content: "long story" }),
      turnEvent(event("chunk", { delta: "Once upon" })),
      turnStopped(),
    );
    expect(state.turn).toBeNull();
    expect(state.messages[NEW_SESSION]!.at(-1)).toMatchObject({
      role: "assistant",
      content: "Once upon",
      stopped: true,
    });
  });

  it("marks the message not delivered when the reply fails", () => {
    seq = 0;
    const failed = run(
      initialChat,
      messageSent({ localId: "m", content: "x" }),
      turnFailed("the server is down"),
    );
    expect(failed.error).toBe("the server is down");
    expect(failed.messages[NEW_SESSION]![0]).toMatchObject({ failed: true, pending: false });
    const errored = run(
      initialChat,
      messageSent({ localId: "m", content: "x" }),
      turnEvent(event("error", { error: { message: "model unavailable" } })),
    );
    expect(errored.error).toBe("model unavailable");
  });

  it("moves the turn when the WebSocket announces the new session", () => {
    const state = run(
      initialChat,
      messageSent({ localId: "m", content: "x" }),
      sessionCreated("s9"),
    );
    expect(state.active).toBe("s9");
    expect(state.turn?.sessionKey).toBe("s9");
    expect(state.messages.s9).toHaveLength(1);
  });
});

describe("sessions and history", () => {
  it("reloads history but keeps a message still being sent", () => {
    const sending = run(
      { ...initialChat, active: "s1" },
      messageSent({ localId: "m2", content: "second" }),
      historyLoaded({
        session: "s1",
        messages: [{ id: "1", role: "user", content: "first", created_at: "t" }],
      }),
    );
    expect(sending.messages.s1!.map((m) => m.content)).toEqual(["first", "second"]);
  });

  it("forgets a deleted session", () => {
    const state = run(
      {
        ...initialChat,
        active: "s1",
        sessions: [{ id: "s1" }, { id: "s2" }],
        messages: { s1: [] },
      },
      sessionDeleted("s1"),
    );
    expect(state.sessions).toEqual([{ id: "s2" }]);
    expect(state.active).toBe(NEW_SESSION);
  });

  it("reads the completed message in the shapes a server may send", () => {
    expect(completedText({ message: { content: "a" } }, "")).toBe("a");
    expect(completedText({ content: "b" }, "")).toBe("b");
    expect(completedText({ reply: "c" }, "")).toBe("c");
    expect(completedText("d", "")).toBe("d");
    expect(completedText({}, "streamed")).toBe("streamed");
  });
});
