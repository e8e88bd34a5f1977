import type { ErrorSchema } from "@rjsf/utils";
import { errorMessage, problemOf } from "../../api/client";
import type { Accepted } from "../../api/types";
import type { AppDispatch } from "../../store";
import { problemToErrorSchema } from "../../form/adapt";
import { workflowsApi } from "./api";

export type Submission =
  { ok: true; accepted: Accepted } | { ok: false; message: string; fieldErrors?: ErrorSchema };

/** Start a workflow; a 422 comes back as messages for the form's fields. */
export async function executeWorkflow(
  dispatch: AppDispatch,
  workflow: string,
  input: Record<string, unknown>,
): Promise<Submission> {
  const result = await dispatch(
    workflowsApi.endpoints.execute.initiate({ workflow, input }, { track: false }),
  );
  if (result.data) return { ok: true, accepted: result.data };
  const problem = problemOf(result.error);
  if (problem?.status === 422) {
    return {
      ok: false,
      message: problem.detail ?? "the input is not valid",
      fieldErrors: problemToErrorSchema(problem.errors),
    };
  }
  return { ok: false, message: errorMessage(result.error) };
}
