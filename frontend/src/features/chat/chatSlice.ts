// Chat: the messages on screen and the turn being streamed. The user's message shows at once
// (optimistically, marked pending) and the reply grows chunk by chunk until `complete`. The
// session list is server state (./api.ts); a session's history, once loaded, is merged in here.
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import type { ChatMessage, EventEnvelope } from "../../api/types";
import { chatApi } from "./api";

export const NEW_SESSION = "new";

export interface DisplayMessage extends Pick<ChatMessage, "id" | "content" | "created_at"> {
  role: string;
  pending?: boolean;
  failed?: boolean;
  stopped?: boolean;
  /** Attached files (ids for a message just sent, descriptions from the history). */
  attachments?: unknown[];
}

export interface Turn {
  sessionKey: string;
  executionId: string | null;
  lastEventId: string | null;
  typing: boolean;
  text: string;
}

export interface ChatState {
  active: string;
  messages: Record<string, DisplayMessage[]>;
  turn: Turn | null;
  error: string | null;
}

export const initialChat: ChatState = {
  active: NEW_SESSION,
  messages: {},
  turn: null,
  error: null,
};

function finishTurn(state: ChatState, content: string, extra: Partial<DisplayMessage> = {}): void {
  const turn = state.turn;
  if (!turn) return;
  const list = (state.messages[turn.sessionKey] ??= []);
  for (const message of list) if (message.pending) message.pending = false;
  if (content || extra.stopped) {
    list.push({
      id: `assistant-${turn.lastEventId ?? list.length}`,
      role: "assistant",
      content,
      created_at: new Date().toISOString(),
      ...extra,
    });
  }
  state.turn = null;
}

/** The final text of a `complete` event: the whole message, in whichever shape it is sent. */
export function completedText(data: unknown, streamed: string): string {
  if (typeof data === "string") return data;
  const body = (data ?? {}) as Record<string, unknown>;
  const message = body.message as Record<string, unknown> | string | undefined;
  if (typeof message === "string") return message;
  if (message && typeof message.content === "string") return message.content;
  for (const key of ["content", "reply", "text"]) {
    if (typeof body[key] === "string") return body[key];
  }
  return streamed;
}

function moveToSession(state: ChatState, from: string, to: string): void {
  if (from === to) return;
  state.messages[to] = [...(state.messages[to] ?? []), ...(state.messages[from] ?? [])];
  delete state.messages[from];
  if (state.active === from) state.active = to;
  if (state.turn?.sessionKey === from) state.turn.sessionKey = to;
}

const slice = createSlice({
  name: "chat",
  initialState: initialChat,
  reducers: {
    sessionOpened(state, action: PayloadAction<string>) {
      state.active = action.payload;
      state.error = null;
    },
    messageSent(
      state,
      action: PayloadAction<{ localId: string; content: string; attachments?: string[] }>,
    ) {
      const key = state.active;
      (state.messages[key] ??= []).push({
        id: action.payload.localId,
        role: "user",
        content: action.payload.content,
        created_at: new Date().toISOString(),
        pending: true,
        attachments: action.payload.attachments,
      });
      state.turn = {
        sessionKey: key,
        executionId: null,
        lastEventId: null,
        typing: true,
        text: "",
      };
      state.error = null;
    },
    sessionCreated(state, action: PayloadAction<string>) {
      if (state.turn) moveToSession(state, state.turn.sessionKey, action.payload);
    },
    turnEvent(state, action: PayloadAction<EventEnvelope>) {
      const event = action.payload;
      const turn = state.turn;
      if (!turn) return;
      if (turn.lastEventId !== null && event.seq <= Number(turn.lastEventId)) return;
      turn.lastEventId = event.id;
      if (event.execution_id) turn.executionId = event.execution_id;
      if (event.session_id && turn.sessionKey === NEW_SESSION) {
        moveToSession(state, NEW_SESSION, event.session_id);
      }
      const data = (event.data ?? {}) as Record<string, unknown>;
      switch (event.type) {
        case "typing":
          turn.typing = data.typing !== false;
          break;
        case "chunk":
          turn.typing = false;
          turn.text += typeof data.delta === "string" ? data.delta : "";
          break;
        case "complete":
          finishTurn(state, completedText(event.data, turn.text));
          break;
        case "error": {
          const error = (data.error ?? data) as { message?: string };
          state.error = error.message ?? "the reply failed";
          const list = state.messages[turn.sessionKey] ?? [];
          for (const message of list) if (message.pending) message.failed = true;
          finishTurn(state, turn.text);
          break;
        }
        default:
          break;
      }
    },
    turnStopped(state) {
      if (state.turn) finishTurn(state, state.turn.text, { stopped: true });
    },
    turnFailed(state, action: PayloadAction<string>) {
      state.error = action.payload;
      const list = state.turn ? (state.messages[state.turn.sessionKey] ?? []) : [];
      for (const message of list) if (message.pending) message.failed = true;
      if (state.turn) finishTurn(state, state.turn.text);
    },
  },
  extraReducers: (builder) => {
    const { chatHistory, deleteChatSession } = chatApi.endpoints;
    builder
      .addMatcher(chatHistory.matchFulfilled, (state, action) => {
        // A reload keeps what is still being sent, unless the server has it already (the
        // history of a session created by this turn arrives while the reply streams).
        const session = action.meta.arg.originalArgs.session_id;
        const lastUser = action.payload.filter((m) => m.role === "user").at(-1);
        const pending = (state.messages[session] ?? []).filter(
          (m) => m.pending && !(m.role === "user" && m.content === lastUser?.content),
        );
        state.messages[session] = [...action.payload, ...pending];
      })
      .addMatcher(deleteChatSession.matchFulfilled, (state, action) => {
        const session = action.meta.arg.originalArgs;
        delete state.messages[session];
        if (state.active === session) state.active = NEW_SESSION;
      });
  },
});

export const { sessionOpened, messageSent, sessionCreated, turnEvent, turnStopped, turnFailed } =
  slice.actions;
export default slice.reducer;
