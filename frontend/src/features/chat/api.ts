// Chat sessions and their history. A turn itself streams (WebSocket or SSE, see chatTurn.ts).
import { api } from "../../api/api";
import { itemsOf, type ListReply } from "../../api/client";
import type { ChatMessage, ChatSession } from "../../api/types";

/** The tag of the session list (a new or deleted session makes it stale). */
export const SESSION_LIST = { type: "ChatSession", id: "LIST" } as const;

export const chatApi = api.injectEndpoints({
  endpoints: (build) => ({
    chatSessions: build.query<ChatSession[], void>({
      query: () => "chat/sessions",
      transformResponse: (reply: ListReply<ChatSession>) => itemsOf(reply),
      providesTags: [SESSION_LIST],
    }),
    chatHistory: build.query<ChatMessage[], { session_id: string; limit: number }>({
      query: (params) => ({ url: "chat/history", params }),
      transformResponse: (reply: ListReply<ChatMessage>) => itemsOf(reply),
      providesTags: (_result, _error, { session_id }) => [{ type: "ChatSession", id: session_id }],
    }),
    deleteChatSession: build.mutation<null, string>({
      query: (id) => ({ url: `chat/sessions/${encodeURIComponent(id)}`, method: "DELETE" }),
      invalidatesTags: [SESSION_LIST],
    }),
  }),
});

export const { useChatSessionsQuery, useChatHistoryQuery, useDeleteChatSessionMutation } = chatApi;
