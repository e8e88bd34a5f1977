import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { errorMessage } from "../../api/client";
import type { WorkflowInfo } from "../../api/types";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useWorkflowsQuery } from "./api";
import { filterWorkflows, tagCounts } from "./catalog";
import { RouteBox } from "./RouteBox";

const NO_WORKFLOWS: WorkflowInfo[] = [];

function WorkflowCard({ workflow }: { workflow: WorkflowInfo }) {
  const summary = workflow.description.split("\n\n")[0] ?? "";
  return (
    <li className="card workflow-card" data-workflow={workflow.name}>
      <div className="card-head">
        <h2>
          <Link to={`/workflows/${encodeURIComponent(workflow.name)}`}>{workflow.title}</Link>
        </h2>
        <span className="badge mode" data-mode={workflow.mode}>
          {workflow.mode}
        </span>
      </div>
      <p>{summary}</p>
      {workflow.examples.length > 0 && (
        <ul className="examples" aria-label="Examples">
          {workflow.examples.slice(0, 3).map((example) => (
            <li key={example}>“{example}”</li>
          ))}
        </ul>
      )}
      <ul className="tags" aria-label="Tags">
        {workflow.tags.map((tag) => (
          <li key={tag} className="tag">
            {tag}
          </li>
        ))}
      </ul>
    </li>
  );
}

export function CatalogPage() {
  const catalog = useWorkflowsQuery();
  const workflows = catalog.data ?? NO_WORKFLOWS;
  const [search, setSearch] = useState("");
  const [tags, setTags] = useState<string[]>([]);
  const shown = useMemo(() => filterWorkflows(workflows, search, tags), [workflows, search, tags]);
  const allTags = useMemo(() => tagCounts(workflows), [workflows]);
  const toggle = (tag: string) =>
    setTags((current) =>
      current.includes(tag) ? current.filter((t) => t !== tag) : [...current, tag],
    );

  return (
    <section className="catalog">
      <RouteBox />
      <div className="catalog-head">
        <h1>Workflows</h1>
        <label className="search">
          <span className="visually-hidden">Search workflows</span>
          <input
            type="search"
            placeholder="Search workflows"
            value={search}
            onChange={(event) => setSearch(event.target.value)}
          />
        </label>
      </div>
      <div className="tag-filter" role="group" aria-label="Filter by tag">
        {allTags.map(([tag, count]) => (
          <button
            key={tag}
            type="button"
            className="chip"
            aria-pressed={tags.includes(tag)}
            onClick={() => toggle(tag)}
          >
            {tag} <span className="muted">{count}</span>
          </button>
        ))}
      </div>
      {catalog.isLoading && <p role="status">Loading workflows…</p>}
      <ErrorMessage message={catalog.error ? errorMessage(catalog.error) : null} />
      {catalog.isSuccess && shown.length === 0 && <p>No workflow matches.</p>}
      <ul className="card-grid">
        {shown.map((workflow) => (
          <WorkflowCard key={workflow.name} workflow={workflow} />
        ))}
      </ul>
    </section>
  );
}
