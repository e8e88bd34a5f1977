// What the page knows of each execution it shows: built from the status endpoint and then from
// its event stream. Applying an event is idempotent (events at or below the last seen id are
// dropped), so replays after a reconnect never duplicate anything on screen.
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import type { StreamState } from "../../api/sse";
import {
  FINAL_STATUSES,
  type EventEnvelope,
  type ExecutionError,
  type ExecutionStatus,
  type Progress,
} from "../../api/types";
import { executionsApi } from "./api";

export interface ExecutionView {
  id: string;
  workflow: string;
  status: ExecutionStatus;
  progress: Progress;
  /** The id of the last event applied: where a reconnect resumes. */
  lastEventId: string | null;
  events: EventEnvelope[];
  /** Streamed output (`chunk` events), in order. */
  chunks: unknown[];
  output?: unknown;
  hasOutput: boolean;
  error: ExecutionError | null;
  stream: StreamState | "idle";
  streamError?: string;
  createdAt?: string;
  finishedAt?: string | null;
}

export type ExecutionsState = Record<string, ExecutionView>;

export const EVENT_LOG_LIMIT = 500;
const NO_PROGRESS: Progress = { fraction: null, message: null, step: null };

export function isFinalStatus(status: string | undefined): boolean {
  return FINAL_STATUSES.includes(status as ExecutionStatus);
}

/** The event after which an execution's stream ends. */
export function isFinalEvent(event: EventEnvelope): boolean {
  const data = event.data as { status?: string } | null;
  return event.type === "status" && isFinalStatus(data?.status);
}

function view(state: ExecutionsState, id: string, workflow = ""): ExecutionView {
  state[id] ??= {
    id,
    workflow,
    status: "queued",
    progress: NO_PROGRESS,
    lastEventId: null,
    events: [],
    chunks: [],
    hasOutput: false,
    error: null,
    stream: "idle",
  };
  return state[id];
}

export function applyEvent(execution: ExecutionView, event: EventEnvelope): void {
  if (execution.lastEventId !== null && event.seq <= Number(execution.lastEventId)) return;
  execution.lastEventId = event.id;
  execution.events.push(event);
  if (execution.events.length > EVENT_LOG_LIMIT) execution.events.shift();
  const data = (event.data ?? {}) as Record<string, unknown>;
  switch (event.type) {
    case "status": {
      const status = data.status as ExecutionStatus | undefined;
      if (status) execution.status = status;
      if (data.error) execution.error = data.error as ExecutionError;
      break;
    }
    case "progress":
      execution.progress = {
        fraction: (data.fraction as number | null | undefined) ?? execution.progress.fraction,
        message: (data.message as string | null | undefined) ?? null,
        step: (data.step as string | null | undefined) ?? null,
      };
      if (execution.status === "queued") execution.status = "running";
      break;
    case "chunk":
      execution.chunks.push("delta" in data ? data.delta : event.data);
      break;
    case "result":
      execution.output = data.output;
      execution.hasOutput = true;
      execution.progress = { ...execution.progress, fraction: 1 };
      break;
    case "error":
      execution.error = (data.error ?? data) as ExecutionError;
      break;
    default:
      break;
  }
}

const initialState: ExecutionsState = {};

const slice = createSlice({
  name: "executions",
  initialState,
  reducers: {
    started(state, action: PayloadAction<{ id: string; workflow: string }>) {
      view(state, action.payload.id, action.payload.workflow);
    },
    eventReceived(state, action: PayloadAction<{ id: string; event: EventEnvelope }>) {
      applyEvent(view(state, action.payload.id), action.payload.event);
    },
    streamChanged(
      state,
      action: PayloadAction<{ id: string; stream: StreamState; error?: string }>,
    ) {
      const execution = view(state, action.payload.id);
      execution.stream = action.payload.stream;
      execution.streamError = action.payload.error;
    },
  },
  extraReducers: (builder) => {
    const { executionStatus, executionResults } = executionsApi.endpoints;
    builder
      .addMatcher(executionStatus.matchFulfilled, (state, action) => {
        const body = action.payload;
        const execution = view(state, body.execution_id, body.workflow);
        execution.workflow = body.workflow;
        execution.createdAt = body.created_at;
        execution.finishedAt = body.finished_at;
        // The stream is the fresher source once it has started: only fill in what it has not said.
        if (execution.lastEventId === null) {
          execution.status = body.status;
          execution.progress = body.progress ?? NO_PROGRESS;
          execution.error = body.error;
        }
      })
      .addMatcher(executionResults.matchFulfilled, (state, action) => {
        const execution = view(state, action.payload.execution_id);
        execution.output = action.payload.output;
        execution.hasOutput = true;
      });
  },
});

export const { started, eventReceived, streamChanged } = slice.actions;
export default slice.reducer;
