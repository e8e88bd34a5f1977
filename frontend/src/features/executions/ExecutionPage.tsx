import { useState } from "react";
import { useLocation, useNavigate, useParams } from "react-router-dom";
import { ErrorMessage } from "../../components/ErrorMessage";
import { JsonView } from "../../results/JsonView";
import { useAppDispatch, useAppSelector } from "../../store";
import { replaced } from "../../store/forms";
import { executeWorkflow } from "../workflows/execute";
import { useExecutionsQuery } from "./api";
import { ExecutionPanel } from "./ExecutionPanel";
import { started } from "./executionsSlice";

type Input = Record<string, unknown>;

/** The inputs of an execution: handed over by the history page, else looked up in the history. */
function useExecutionInput(id: string, workflow: string | undefined): Input | null {
  const location = useLocation();
  const handed = (location.state as { input?: Input } | null)?.input ?? null;
  const { found } = useExecutionsQuery(
    { workflow, limit: 200 },
    {
      skip: handed !== null || !workflow,
      selectFromResult: ({ data }) => ({
        found: (data?.items.find((item) => item.execution_id === id)?.input ??
          null) as Input | null,
      }),
    },
  );
  return handed ?? found;
}

/** One past (or running) execution: inputs, status, events and results; re-run it as it was. */
export default function ExecutionPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const dispatch = useAppDispatch();
  const workflow = useAppSelector((state) => state.executions[id]?.workflow || undefined);
  const input = useExecutionInput(id, workflow);
  const [error, setError] = useState<string | null>(null);

  const rerun = async () => {
    if (!workflow || !input) return;
    dispatch(replaced({ key: `workflow:${workflow}`, data: input }));
    const result = await executeWorkflow(dispatch, workflow, input);
    if (!result.ok) {
      setError(result.message);
      return;
    }
    dispatch(started({ id: result.accepted.execution_id, workflow }));
    void navigate(
      `/workflows/${encodeURIComponent(workflow)}?execution=${result.accepted.execution_id}`,
    );
  };

  return (
    <div className="execution-page">
      <div className="page-head">
        <h1>Execution</h1>
        <code className="muted">{id}</code>
        <button type="button" onClick={() => void rerun()} disabled={!workflow || !input}>
          Re-run with the same inputs
        </button>
      </div>
      <ErrorMessage message={error} />
      {input && <JsonView label="Inputs" value={input} open />}
      <ExecutionPanel id={id} showEvents />
    </div>
  );
}
