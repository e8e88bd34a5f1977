// Executions: one execution's status and results (its events stream over SSE, see
// useExecution), cancelling it, and the caller's history.
import { api } from "../../api/api";
import type { ExecutionPage, ExecutionStatus, Results, StatusBody } from "../../api/types";

export interface HistoryFilter {
  workflow?: string;
  status?: ExecutionStatus;
}

export const HISTORY_PAGE = 25;
/** The tag of every list of executions (a new run or a cancel makes them stale). */
const LISTS = { type: "Execution", id: "LIST" } as const;

const path = (id: string) => `workflows/${encodeURIComponent(id)}`;

export const executionsApi = api.injectEndpoints({
  endpoints: (build) => ({
    executionStatus: build.query<StatusBody, string>({
      query: (id) => `${path(id)}/status`,
      providesTags: (_result, _error, id) => [{ type: "Execution", id }],
    }),
    executionResults: build.query<Results, string>({
      query: (id) => `${path(id)}/results`,
      providesTags: (_result, _error, id) => [{ type: "Execution", id }],
    }),
    cancelExecution: build.mutation<StatusBody, string>({
      query: (id) => ({ url: `${path(id)}/cancel`, method: "DELETE" }),
      invalidatesTags: (_result, _error, id) => [{ type: "Execution", id }, LISTS],
    }),
    /** One page of the caller's executions, newest first. */
    executions: build.query<ExecutionPage, HistoryFilter & { limit: number }>({
      query: (params) => ({ url: "executions", params: { ...params } }),
      providesTags: [LISTS],
    }),
    /** The history, page after page (`cursor` is the page parameter). */
    executionHistory: build.infiniteQuery<ExecutionPage, HistoryFilter, string | null>({
      infiniteQueryOptions: {
        initialPageParam: null,
        getNextPageParam: (last) => last.next_cursor,
      },
      query: ({ queryArg, pageParam }) => ({
        url: "executions",
        params: { ...queryArg, limit: HISTORY_PAGE, cursor: pageParam },
      }),
      providesTags: [LISTS],
    }),
  }),
});

export const {
  useExecutionStatusQuery,
  useExecutionResultsQuery,
  useCancelExecutionMutation,
  useExecutionsQuery,
  useExecutionHistoryInfiniteQuery,
} = executionsApi;
