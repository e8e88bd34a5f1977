// One chat turn: send the user's message and stream the reply into the store. Over the
// WebSocket when it is connected, else over POST /chat/stream; if that stream drops mid-reply,
// the rest is read from the turn's execution events, resuming after the last event seen.
import { ApiError, errorMessage, send, toProblem } from "../../api/client";
import type { ServerMessage, SocketClient } from "../../api/socket";
import { followEvents, readEnvelopes } from "../../api/sse";
import type { EventEnvelope } from "../../api/types";
import type { AppDispatch } from "../../store";
import { executionsApi } from "../executions/api";
import { isFinalEvent } from "../executions/executionsSlice";
import { sessionCreated, turnEvent, turnFailed, turnStopped, type Turn } from "./chatSlice";

export interface TurnRequest {
  message: string;
  session_id?: string;
  attachments?: string[];
}

export interface RunningTurn {
  stop(): void;
  done: Promise<void>;
}

const endsTurn = (event: EventEnvelope) =>
  event.type === "complete" || event.type === "error" || isFinalEvent(event);

function envelopeOf(message: ServerMessage): EventEnvelope {
  return {
    id: String(message.id ?? message.seq ?? ""),
    type: message.type,
    execution_id: message.execution_id ?? null,
    session_id: message.session_id ?? null,
    seq: Number(message.seq ?? 0),
    ts: message.ts ?? new Date().toISOString(),
    data: message.data,
  };
}

function overSocket(
  body: TurnRequest,
  dispatch: AppDispatch,
  socket: SocketClient,
  turn: () => Turn | null,
): RunningTurn {
  let requestId = "";
  const done = new Promise<void>((resolve) => {
    requestId = socket.request(
      {
        type: "chat.message",
        session_id: body.session_id,
        content: body.message,
        attachments: body.attachments,
      },
      (message) => {
        if (message.type === "session.created") {
          const data = message.data as { session_id?: string } | undefined;
          const id = (message.session_id as string | undefined) ?? data?.session_id;
          if (id) dispatch(sessionCreated(id));
          return;
        }
        const event = envelopeOf(message);
        if (message.type === "error" && message.seq === undefined) {
          dispatch(turnFailed(errorMessage((message.data as { message?: string })?.message)));
        } else {
          dispatch(turnEvent(event));
        }
        if (endsTurn(event)) resolve();
      },
    );
  });
  return {
    done,
    stop() {
      const executionId = turn()?.executionId;
      if (executionId) socket.request({ type: "cancel", execution_id: executionId }, () => {});
      socket.finish(requestId);
      dispatch(turnStopped());
    },
  };
}

function overHttp(body: TurnRequest, dispatch: AppDispatch, turn: () => Turn | null): RunningTurn {
  const controller = new AbortController();
  let follower: { close(): void } | null = null;
  let ended = false;
  const onEvent = (event: EventEnvelope) => {
    dispatch(turnEvent(event));
    if (endsTurn(event)) ended = true;
  };
  const done = (async () => {
    try {
      const response = await send("chat/stream", {
        json: body,
        headers: { Accept: "text/event-stream" },
        signal: controller.signal,
      });
      if (!response.ok) throw new ApiError(await toProblem(response));
      await readEnvelopes(response, onEvent);
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError) {
        dispatch(turnFailed(errorMessage(error)));
        return;
      }
    }
    if (ended || controller.signal.aborted) return;
    const current = turn();
    if (!current?.executionId) {
      dispatch(turnFailed("the connection dropped before the reply started; send it again"));
      return;
    }
    const resumed = followEvents({
      path: `workflows/${encodeURIComponent(current.executionId)}/events`,
      lastEventId: current.lastEventId,
      isFinal: endsTurn,
      onEvent,
    });
    follower = resumed;
    await resumed.done.catch((error: unknown) => dispatch(turnFailed(errorMessage(error))));
  })();
  return {
    done,
    stop() {
      controller.abort();
      follower?.close();
      const executionId = turn()?.executionId;
      if (executionId) {
        void dispatch(
          executionsApi.endpoints.cancelExecution.initiate(executionId, { track: false }),
        );
      }
      dispatch(turnStopped());
    },
  };
}

export function startTurn(
  body: TurnRequest,
  dispatch: AppDispatch,
  socket: SocketClient | null,
  turn: () => Turn | null,
): RunningTurn {
  return socket?.available
    ? overSocket(body, dispatch, socket, turn)
    : overHttp(body, dispatch, turn);
}
