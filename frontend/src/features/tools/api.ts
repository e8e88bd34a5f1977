// Agents and tools: what they are, and running a tool once.
import { api } from "../../api/api";
import type { AgentCapabilities, AgentInfo, ToolInfo, ToolResult } from "../../api/types";

export const toolsApi = api.injectEndpoints({
  endpoints: (build) => ({
    tools: build.query<ToolInfo[], void>({ query: () => "tools", providesTags: ["Tool"] }),
    agents: build.query<AgentInfo[], void>({ query: () => "agents", providesTags: ["Agent"] }),
    agentCapabilities: build.query<AgentCapabilities, string>({
      query: (name) => `agents/${encodeURIComponent(name)}/capabilities`,
      providesTags: ["Agent"],
    }),
    executeTool: build.mutation<ToolResult, { name: string; arguments: Record<string, unknown> }>({
      query: ({ name, ...body }) => ({
        url: `tools/${encodeURIComponent(name)}/execute`,
        method: "POST",
        body,
      }),
    }),
  }),
});

export const { useToolsQuery, useAgentsQuery, useAgentCapabilitiesQuery, useExecuteToolMutation } =
  toolsApi;
