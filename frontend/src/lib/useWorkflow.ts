import { useEffect, useState } from "react";
import { errorMessage, request } from "../api/client";
import type { WorkflowInfo } from "../api/types";
import { useAppSelector } from "../store";

/** A workflow's definition: from the loaded catalog, else fetched on its own. */
export function useWorkflow(name: string): { workflow?: WorkflowInfo; error: string | null } {
  const fromCatalog = useAppSelector((state) =>
    state.catalog.workflows.find((workflow) => workflow.name === name),
  );
  const [fetched, setFetched] = useState<WorkflowInfo | undefined>();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (fromCatalog) return;
    let active = true;
    request<WorkflowInfo>(`workflows/${encodeURIComponent(name)}`).then(
      (workflow) => active && setFetched(workflow),
      (caught: unknown) => active && setError(errorMessage(caught)),
    );
    return () => {
      active = false;
    };
  }, [name, fromCatalog]);
  return { workflow: fromCatalog ?? fetched, error };
}
