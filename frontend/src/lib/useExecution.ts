// Keeps one execution on screen up to date: its status once, then its event stream, resumed
// from the last event the page applied whenever the connection drops.
import { useEffect } from "react";
import { useStore } from "react-redux";
import { errorMessage, request } from "../api/client";
import { followEvents } from "../api/sse";
import type { Results, StatusBody } from "../api/types";
import { useAppDispatch, useAppSelector, type RootState } from "../store";
import { streamStateChanged } from "../store/connection";
import {
  eventReceived,
  isFinalEvent,
  outputLoaded,
  statusLoaded,
  streamChanged,
  type ExecutionView,
} from "../store/executions";

export function useExecution(id: string | null): ExecutionView | undefined {
  const dispatch = useAppDispatch();
  const store = useStore<RootState>();
  const execution = useAppSelector((state) => (id ? state.executions[id] : undefined));

  useEffect(() => {
    if (!id) return;
    const path = `workflows/${encodeURIComponent(id)}`;
    const key = `execution:${id}`;
    let active = true;
    void request<StatusBody>(`${path}/status`)
      .then((body) => active && dispatch(statusLoaded(body)))
      .catch(() => undefined); // the stream reports problems (and retries) on its own
    const follower = followEvents({
      path: `${path}/events`,
      lastEventId: store.getState().executions[id]?.lastEventId ?? null,
      isFinal: isFinalEvent,
      onEvent: (event) => dispatch(eventReceived({ id, event })),
      onState: (state, detail) => {
        if (!active) return;
        dispatch(streamChanged({ id, stream: state, error: detail?.error }));
        dispatch(streamStateChanged({ key, state }));
      },
    });
    void follower.done.then(async () => {
      const view = store.getState().executions[id];
      if (active && view?.status === "succeeded" && !view.hasOutput) {
        const results = await request<Results>(`${path}/results`).catch(() => null);
        if (results) dispatch(outputLoaded({ id, output: results.output }));
      }
    });
    return () => {
      active = false;
      follower.close();
      dispatch(streamStateChanged({ key, state: "closed" }));
    };
  }, [dispatch, store, id]);

  return execution;
}

export async function cancelExecution(id: string): Promise<string | null> {
  try {
    await request(`workflows/${encodeURIComponent(id)}/cancel`, { method: "DELETE" });
    return null;
  } catch (error) {
    return errorMessage(error);
  }
}
