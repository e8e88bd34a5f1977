import { afterEach, describe, expect, it, vi } from "vitest";
import type { EventEnvelope } from "../../api/types";
import { createStore } from "../../store";
import { json, routes } from "../../test/fetchStub";
import { chatApi } from "./api";
import reducer, {
  completedText,
  initialChat,
  messageSent,
  NEW_SESSION,
  sessionCreated,
  sessionOpened,
  turnEvent,
  turnFailed,
  turnStopped,
  type ChatState,
} from "./chatSlice";

afterEach(() => vi.unstubAllGlobals());
const newStore = () => createStore({ drafts: {}, theme: "system", session: null });

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
  it("reloads history but keeps a message still being sent", async () => {
    routes({
      "GET chat/history": () =>
        json(200, [{ id: "1", role: "user", content: "first", created_at: "t", attachments: [] }]),
    });
    const store = newStore();
    store.dispatch(sessionOpened("s1"));
    store.dispatch(messageSent({ localId: "m2", content: "second" }));
    await store.dispatch(chatApi.endpoints.chatHistory.initiate({ session_id: "s1", limit: 200 }));
    const messages = store.getState().chat.messages.s1!;
    expect(messages.map((m) => [m.content, m.pending ?? false])).toEqual([
      ["first", false],
      ["second", true],
    ]);
  });

  it("does not show a message twice when the history already has it", async () => {
    routes({
      "GET chat/history": () =>
        json(200, [{ id: "1", role: "user", content: "hello", created_at: "t", attachments: [] }]),
    });
    const store = newStore();
    store.dispatch(messageSent({ localId: "m1", content: "hello" }));
    store.dispatch(sessionCreated("s1"));
    await store.dispatch(chatApi.endpoints.chatHistory.initiate({ session_id: "s1", limit: 200 }));
    expect(store.getState().chat.messages.s1!.map((m) => m.id)).toEqual(["1"]);
    store.dispatch(turnEvent(event("complete", { message: { content: "hi" } })));
    expect(store.getState().chat.messages.s1!.map((m) => m.role)).toEqual(["user", "assistant"]);
  });

  it("forgets a deleted session", async () => {
    const calls = routes({ "DELETE chat/sessions/s1": () => json(204, null) });
    const store = newStore();
    store.dispatch(sessionOpened("s1"));
    store.dispatch(messageSent({ localId: "m", content: "x" }));
    store.dispatch(turnStopped());
    await store.dispatch(chatApi.endpoints.deleteChatSession.initiate("s1"));
    expect(calls.map((call) => call.path)).toEqual(["chat/sessions/s1"]);
    expect(store.getState().chat.messages.s1).toBeUndefined();
    expect(store.getState().chat.active).toBe(NEW_SESSION);
  });

  it("reads the completed message in the shapes a server may send", () => {
    expect(completedText({ message: { content: "a" } }, "")).toBe("a");
    expect(completedText({ content: "b" }, "")).toBe("b");
    expect(completedText({ reply: "c" }, "")).toBe("c");
    expect(completedText("d", "")).toBe("d");
    expect(completedText({}, "streamed")).toBe("streamed");
  });
});
