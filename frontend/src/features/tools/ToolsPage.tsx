import type { ErrorSchema } from "@rjsf/utils";
import { useState } from "react";
import { useSearchParams } from "react-router-dom";
import { errorMessage, problemOf } from "../../api/client";
import type { ToolInfo } from "../../api/types";
import { ErrorMessage } from "../../components/ErrorMessage";
import { problemToErrorSchema } from "../../form/adapt";
import { SchemaForm } from "../../form/SchemaForm";
import { ResultView } from "../../results/ResultView";
import {
  useAgentCapabilitiesQuery,
  useAgentsQuery,
  useExecuteToolMutation,
  useToolsQuery,
} from "./api";

function ToolRunner({ tool }: { tool: ToolInfo }) {
  const [result, setResult] = useState<{ value: unknown } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<ErrorSchema | undefined>();
  const [execute, { isLoading: busy }] = useExecuteToolMutation();

  const run = async (args: Record<string, unknown>) => {
    setError(null);
    setFieldErrors(undefined);
    const reply = await execute({ name: tool.name, arguments: args });
    if (reply.data) {
      setResult({ value: reply.data.result });
      return;
    }
    setResult(null);
    setError(errorMessage(reply.error));
    const problem = problemOf(reply.error);
    if (problem?.errors) setFieldErrors(problemToErrorSchema(problem.errors));
  };

  return (
    <section className="card" aria-labelledby="tool-title">
      <h2 id="tool-title">{tool.title || tool.name}</h2>
      <p className="description">{tool.description}</p>
      <SchemaForm
        formKey={`tool:${tool.name}`}
        schema={tool.input_schema}
        onSubmit={(args) => void run(args)}
        serverErrors={fieldErrors}
        disabled={busy}
      >
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {busy ? "Running…" : "Try it"}
          </button>
        </div>
      </SchemaForm>
      <ErrorMessage message={error} />
      {result && (
        <div className="tool-result" aria-live="polite">
          <h3>Result</h3>
          <ResultView output={result.value} />
        </div>
      )}
    </section>
  );
}

function AgentDetails({ name }: { name: string }) {
  const { data: capabilities, error } = useAgentCapabilitiesQuery(name);
  if (error) return <p className="error">{errorMessage(error)}</p>;
  if (!capabilities) return <p role="status">Loading…</p>;
  return (
    <section className="card" aria-labelledby="agent-title">
      <h2 id="agent-title">{name}</h2>
      <p>{capabilities.description}</p>
      {capabilities.instructions && (
        <details>
          <summary>Instructions</summary>
          <p>{capabilities.instructions}</p>
        </details>
      )}
      <p>
        Streaming: <strong>{capabilities.streaming ? "yes" : "no"}</strong>
      </p>
      <h3>Tools</h3>
      <ul>
        {capabilities.tools.map((tool) => (
          <li key={tool.name}>
            <strong>{tool.name}</strong> <span className="muted">{tool.description}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Agents with their capabilities, and every tool with a form to try it. */
export default function ToolsPage() {
  const { data: tools = [] } = useToolsQuery();
  const { data: agents = [] } = useAgentsQuery();
  const [params, setParams] = useSearchParams();
  const selectedTool = tools.find((tool) => tool.name === params.get("tool"));
  const selectedAgent = params.get("agent");

  return (
    <div className="tools-page">
      <aside className="card side-list" aria-label="Agents and tools">
        <h1>Agents &amp; tools</h1>
        <h2>Agents</h2>
        <ul>
          {agents.map((agent) => (
            <li key={agent.name}>
              <button
                type="button"
                className="button-link"
                aria-current={selectedAgent === agent.name}
                onClick={() => setParams({ agent: agent.name })}
              >
                {agent.name}
              </button>
              <p className="muted small">{agent.description}</p>
            </li>
          ))}
        </ul>
        <h2>Tools</h2>
        <ul>
          {tools.map((tool) => (
            <li key={tool.name}>
              <button
                type="button"
                className="button-link"
                aria-current={selectedTool?.name === tool.name}
                onClick={() => setParams({ tool: tool.name })}
              >
                {tool.name}
              </button>
              <p className="muted small">{tool.description.split("\n")[0]}</p>
            </li>
          ))}
        </ul>
      </aside>
      <div className="tools-main">
        {selectedTool && <ToolRunner key={selectedTool.name} tool={selectedTool} />}
        {selectedAgent && <AgentDetails key={selectedAgent} name={selectedAgent} />}
        {!selectedTool && !selectedAgent && (
          <p className="muted">Pick an agent to see what it can do, or a tool to try it.</p>
        )}
      </div>
    </div>
  );
}
