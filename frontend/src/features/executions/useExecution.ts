// Keeps one execution on screen up to date: its status once, then its event stream, resumed
// from the last event the page applied whenever the connection drops; the results are fetched
// when the stream ended on success without carrying them.
import { useEffect } from "react";
import { useStore } from "react-redux";
import { followEvents } from "../../api/sse";
import { useAppDispatch, useAppSelector, type RootState } from "../../store";
import { streamStateChanged } from "../../store/connection";
import { useExecutionResultsQuery, useExecutionStatusQuery } from "./api";
import { eventReceived, isFinalEvent, streamChanged, type ExecutionView } from "./executionsSlice";

export function useExecution(id: string): ExecutionView | undefined {
  const dispatch = useAppDispatch();
  const store = useStore<RootState>();
  const execution = useAppSelector((state) => state.executions[id]);
  // The executions slice takes in both answers; the stream reports problems (and retries).
  useExecutionStatusQuery(id, { refetchOnMountOrArgChange: true });
  const needsResults =
    execution?.stream === "closed" && execution.status === "succeeded" && !execution.hasOutput;
  useExecutionResultsQuery(id, { skip: !needsResults });

  useEffect(() => {
    const key = `execution:${id}`;
    let active = true;
    const follower = followEvents({
      path: `workflows/${encodeURIComponent(id)}/events`,
      lastEventId: store.getState().executions[id]?.lastEventId ?? null,
      isFinal: isFinalEvent,
      onEvent: (event) => dispatch(eventReceived({ id, event })),
      onState: (state, detail) => {
        if (!active) return;
        dispatch(streamChanged({ id, stream: state, error: detail?.error }));
        dispatch(streamStateChanged({ key, state }));
      },
    });
    return () => {
      active = false;
      follower.close();
      dispatch(streamStateChanged({ key, state: "closed" }));
    };
  }, [dispatch, store, id]);

  return execution;
}
