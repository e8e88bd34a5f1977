// The connection state shown in the header: is the server reachable, and how are the live
// streams (execution events, chat turns, the WebSocket) doing.
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import type { StreamState } from "../api/sse";

export interface ConnectionState {
  reachable: boolean;
  browserOnline: boolean;
  /** Live streams by key (`execution:<id>`, `chat`, `socket`). */
  streams: Record<string, StreamState>;
}

export type Indicator = "offline" | "reconnecting" | "live" | "online";

const initialState: ConnectionState = { reachable: true, browserOnline: true, streams: {} };

const slice = createSlice({
  name: "connection",
  initialState,
  reducers: {
    reachabilityChanged(state, action: PayloadAction<boolean>) {
      state.reachable = action.payload;
    },
    browserOnlineChanged(state, action: PayloadAction<boolean>) {
      state.browserOnline = action.payload;
    },
    streamStateChanged(state, action: PayloadAction<{ key: string; state: StreamState }>) {
      const { key, state: stream } = action.payload;
      if (stream === "closed" || stream === "failed") delete state.streams[key];
      else state.streams[key] = stream;
    },
  },
});

export const { reachabilityChanged, browserOnlineChanged, streamStateChanged } = slice.actions;
export default slice.reducer;

export function indicator(state: ConnectionState): Indicator {
  const streams = Object.values(state.streams);
  if (!state.browserOnline) return "offline";
  if (streams.some((s) => s === "reconnecting")) return "reconnecting";
  if (!state.reachable) return "offline";
  if (streams.some((s) => s === "open" || s === "connecting")) return "live";
  return "online";
}

export const INDICATOR_LABEL: Record<Indicator, string> = {
  offline: "Offline",
  reconnecting: "Reconnecting…",
  live: "Live",
  online: "Connected",
};
