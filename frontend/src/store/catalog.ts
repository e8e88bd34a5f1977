// The catalog: workflows, tools and agents the caller may see.
import { createAsyncThunk, createSlice } from "@reduxjs/toolkit";
import { errorMessage, request } from "../api/client";
import type { AgentInfo, ToolInfo, WorkflowInfo } from "../api/types";

type Load = "idle" | "loading" | "ready" | "failed";

export interface CatalogState {
  workflows: WorkflowInfo[];
  tools: ToolInfo[];
  agents: AgentInfo[];
  status: Load;
  error: string | null;
}

export const loadCatalog = createAsyncThunk(
  "catalog/load",
  async (_: void, { rejectWithValue }) => {
    try {
      const [workflows, tools, agents] = await Promise.all([
        request<WorkflowInfo[]>("workflows"),
        request<ToolInfo[]>("tools"),
        request<AgentInfo[]>("agents"),
      ]);
      return { workflows, tools, agents };
    } catch (error) {
      return rejectWithValue(errorMessage(error));
    }
  },
);

const initialState: CatalogState = {
  workflows: [],
  tools: [],
  agents: [],
  status: "idle",
  error: null,
};

const slice = createSlice({
  name: "catalog",
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(loadCatalog.pending, (state) => {
        state.status = "loading";
      })
      .addCase(loadCatalog.fulfilled, (state, action) => {
        Object.assign(state, action.payload, { status: "ready", error: null });
      })
      .addCase(loadCatalog.rejected, (state, action) => {
        state.status = "failed";
        state.error = (action.payload as string | undefined) ?? "the catalog could not be loaded";
      });
  },
});

export default slice.reducer;

/** Search over name, title, description, tags and examples; every selected tag must match. */
export function filterWorkflows(
  workflows: WorkflowInfo[],
  search: string,
  tags: string[],
): WorkflowInfo[] {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  return workflows.filter((workflow) => {
    if (!tags.every((tag) => workflow.tags.includes(tag))) return false;
    const text = [
      workflow.name,
      workflow.title,
      workflow.description,
      ...workflow.tags,
      ...workflow.examples,
    ]
      .join(" ")
      .toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** All tags with how many workflows carry each, most common first. */
export function tagCounts(workflows: WorkflowInfo[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const workflow of workflows) {
    for (const tag of workflow.tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
