// The one RTK Query slice for server state. It starts empty: each feature adds its endpoints
// (src/features/*/api.ts) with `injectEndpoints`, so lazily loaded pages bring their own.
import { createApi } from "@reduxjs/toolkit/query/react";
import { apiBaseQuery } from "./baseQuery";

export const TAGS = [
  "Workflow",
  "Tool",
  "Agent",
  "Execution",
  "ChatSession",
  "User",
  "ApiKey",
  "Audit",
  "Health",
] as const;

export const api = createApi({
  reducerPath: "api",
  baseQuery: apiBaseQuery,
  tagTypes: TAGS,
  endpoints: () => ({}),
});
