// A summary of the Prometheus exposition from /metrics, for the admin page.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(LABEL)) {
      if (key !== undefined && value !== undefined) labels[key] = value.replace(/\\(.)/g, "$1");
    }
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return samples;
}

export interface MetricsSummary {
  requests: number;
  serverErrors: number;
  activeExecutions: number;
  /** Finished executions by workflow and outcome. */
  executions: { workflow: string; status: string; count: number }[];
}

export function summarizeMetrics(samples: Sample[]): MetricsSummary {
  let requests = 0;
  let serverErrors = 0;
  let activeExecutions = 0;
  const executions: MetricsSummary["executions"] = [];
  for (const sample of samples) {
    if (sample.name === "nanobrain_http_requests_total") {
      requests += sample.value;
      if ((sample.labels.status ?? "").startsWith("5")) serverErrors += sample.value;
    } else if (sample.name === "nanobrain_executions_active") {
      activeExecutions = sample.value;
    } else if (sample.name === "nanobrain_executions_total") {
      executions.push({
        workflow: sample.labels.workflow ?? "",
        status: sample.labels.status ?? "",
        count: sample.value,
      });
    }
  }
  executions.sort(
    (a, b) => a.workflow.localeCompare(b.workflow) || a.status.localeCompare(b.status),
  );
  return { requests, serverErrors, activeExecutions, executions };
}
