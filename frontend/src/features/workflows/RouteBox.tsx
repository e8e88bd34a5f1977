import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { errorMessage } from "../../api/client";
import type { RouteReply } from "../../api/types";
import { ErrorMessage } from "../../components/ErrorMessage";
import { prefillFromQuery } from "../../form/adapt";
import { useAppDispatch } from "../../store";
import { replaced } from "../../store/forms";
import { useRouteMutation, useWorkflowsQuery } from "./api";

const percent = (value: number) => `${Math.round(value * 100)}%`;

/** "What do you want to do?": asks the request analyzer, shows its pick and the alternatives,
 * and opens the chosen workflow's form pre-filled with the request where it fits. */
export function RouteBox() {
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const { data: workflows } = useWorkflowsQuery();
  const [route, { isLoading: busy }] = useRouteMutation();
  const [query, setQuery] = useState("");
  const [reply, setReply] = useState<RouteReply | null>(null);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!query.trim()) return;
    setError(null);
    const result = await route({ query });
    if (result.data) setReply(result.data);
    else setError(errorMessage(result.error));
  };

  const open = (name: string) => {
    const workflow = workflows?.find((w) => w.name === name);
    const prefill = workflow ? prefillFromQuery(workflow.input_schema, query) : {};
    if (Object.keys(prefill).length > 0) {
      dispatch(replaced({ key: `workflow:${name}`, data: prefill }));
    }
    void navigate(`/workflows/${encodeURIComponent(name)}`);
  };

  return (
    <form
      className="route-box card"
      onSubmit={(event) => void submit(event)}
      aria-label="Describe what you want to do"
    >
      <label htmlFor="route-query">What do you want to do?</label>
      <div className="route-row">
        <input
          id="route-query"
          value={query}
          placeholder="e.g. GC content of my FASTA file"
          onChange={(event) => setQuery(event.target.value)}
        />
        <button type="submit" disabled={busy || !query.trim()}>
          {busy ? "Finding…" : "Find workflow"}
        </button>
      </div>
      <ErrorMessage message={error} />
      {reply && (
        <div className="route-result" aria-live="polite">
          {reply.workflow ? (
            <>
              <p>
                Best match: <strong>{reply.workflow}</strong>{" "}
                <span className="badge">{percent(reply.confidence)} confident</span>{" "}
                <span className="muted">
                  intent {reply.intent}, domain {reply.domain}
                </span>
              </p>
              <button type="button" onClick={() => open(reply.workflow ?? "")}>
                Open {reply.workflow}
              </button>
            </>
          ) : (
            <p>No workflow matches that request; try other words or pick one below.</p>
          )}
          {reply.alternatives.length > 0 && (
            <p className="alternatives">
              Alternatives:{" "}
              {reply.alternatives.map((alt) => (
                <button
                  key={alt.workflow}
                  type="button"
                  className="button-link"
                  onClick={() => open(alt.workflow)}
                >
                  {alt.workflow} ({percent(alt.confidence)})
                </button>
              ))}
            </p>
          )}
        </div>
      )}
    </form>
  );
}
