// Searching the workflow catalog.
import type { WorkflowInfo } from "../../api/types";

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
