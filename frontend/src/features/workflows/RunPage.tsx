import type { ErrorSchema } from "@rjsf/utils";
import { lazy, Suspense, useState } from "react";
import { useParams, useSearchParams } from "react-router-dom";
import { ErrorMessage } from "../../components/ErrorMessage";
import { SchemaForm } from "../../form/SchemaForm";
import { useAppDispatch } from "../../store";
import type { FormData } from "../../store/forms";
import { ExecutionPanel } from "../executions/ExecutionPanel";
import { started } from "../executions/executionsSlice";
import { executeWorkflow } from "./execute";
import { useWorkflow } from "./useWorkflow";

const MarkdownView = lazy(() => import("../../results/MarkdownView"));

/** The generated page of one workflow: its form, and the execution it started. */
export default function RunPage() {
  const { name = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const dispatch = useAppDispatch();
  const { workflow, error } = useWorkflow(name);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<ErrorSchema | undefined>();
  const executionId = params.get("execution");

  if (error) return <ErrorMessage message={error} />;
  if (!workflow) return <p role="status">Loading {name}…</p>;

  const run = async (input: FormData) => {
    setBusy(true);
    setMessage(null);
    setFieldErrors(undefined);
    const result = await executeWorkflow(dispatch, workflow.name, input);
    setBusy(false);
    if (result.ok) {
      dispatch(started({ id: result.accepted.execution_id, workflow: workflow.name }));
      setParams({ execution: result.accepted.execution_id });
    } else {
      setMessage(result.message);
      setFieldErrors(result.fieldErrors);
    }
  };

  return (
    <div className="run-page">
      <section className="card run-form" aria-labelledby="workflow-title">
        <div className="card-head">
          <h1 id="workflow-title">{workflow.title}</h1>
          <span className="badge mode" data-mode={workflow.mode}>
            {workflow.mode}
          </span>
        </div>
        <Suspense fallback={<p className="description">{workflow.description}</p>}>
          <div className="description">
            <MarkdownView text={workflow.description} />
          </div>
        </Suspense>
        <SchemaForm
          formKey={`workflow:${workflow.name}`}
          schema={workflow.input_schema}
          onSubmit={(input) => void run(input)}
          serverErrors={fieldErrors}
          disabled={busy}
        >
          <div className="form-actions">
            <button type="submit" disabled={busy}>
              {busy ? "Starting…" : "Run"}
            </button>
          </div>
        </SchemaForm>
        <ErrorMessage message={message} />
      </section>
      {executionId && <ExecutionPanel key={executionId} id={executionId} />}
    </div>
  );
}
