import { errorMessage } from "../../api/client";
import type { WorkflowInfo } from "../../api/types";
import { useWorkflowQuery, useWorkflowsQuery } from "./api";

/** A workflow's definition: from the catalog once it is loaded, else fetched on its own. */
export function useWorkflow(name: string): { workflow?: WorkflowInfo; error: string | null } {
  const { fromCatalog } = useWorkflowsQuery(undefined, {
    selectFromResult: ({ data }) => ({ fromCatalog: data?.find((w) => w.name === name) }),
  });
  const single = useWorkflowQuery(name, { skip: fromCatalog !== undefined });
  return {
    workflow: fromCatalog ?? single.data,
    error: single.error ? errorMessage(single.error) : null,
  };
}
