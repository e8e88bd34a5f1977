// The workflow catalog, the request analyzer and starting a run.
import { api } from "../../api/api";
import type { Accepted, ExecuteRequest, RouteReply, WorkflowInfo } from "../../api/types";

export const workflowsApi = api.injectEndpoints({
  endpoints: (build) => ({
    workflows: build.query<WorkflowInfo[], void>({
      query: () => "workflows",
      providesTags: ["Workflow"],
    }),
    workflow: build.query<WorkflowInfo, string>({
      query: (name) => `workflows/${encodeURIComponent(name)}`,
      providesTags: ["Workflow"],
    }),
    route: build.mutation<RouteReply, { query: string }>({
      query: (body) => ({ url: "route", method: "POST", body }),
    }),
    execute: build.mutation<Accepted, ExecuteRequest>({
      query: (body) => ({ url: "workflows/execute", method: "POST", body }),
      invalidatesTags: [{ type: "Execution", id: "LIST" }],
    }),
  }),
});

export const { useWorkflowsQuery, useWorkflowQuery, useRouteMutation, useExecuteMutation } =
  workflowsApi;
