import type { ErrorSchema } from "@rjsf/utils";
import { ApiError, errorMessage, request } from "../api/client";
import type { Accepted } from "../api/types";
import { problemToErrorSchema } from "../form/adapt";

export type Submission =
  { ok: true; accepted: Accepted } | { ok: false; message: string; fieldErrors?: ErrorSchema };

/** Start a workflow; a 422 comes back as messages for the form's fields. */
export async function executeWorkflow(
  workflow: string,
  input: Record<string, unknown>,
): Promise<Submission> {
  try {
    const accepted = await request<Accepted>("workflows/execute", { json: { workflow, input } });
    return { ok: true, accepted };
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) {
      return {
        ok: false,
        message: error.problem.detail ?? "the input is not valid",
        fieldErrors: problemToErrorSchema(error.problem.errors),
      };
    }
    return { ok: false, message: errorMessage(error) };
  }
}
