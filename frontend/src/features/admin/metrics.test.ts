import { describe, expect, it } from "vitest";
import { parsePrometheus, summarizeMetrics } from "./metrics";

const TEXT = `# HELP nanobrain_http_requests_total HTTP requests served
# TYPE nanobrain_http_requests_total counter
nanobrain_http_requests_total{method="GET",route="/api/v1/workflows",status="200"} 12.0
nanobrain_http_requests_total{method="POST",route="/api/v1/workflows/execute",status="500"} 1.0
nanobrain_executions_total{status="succeeded",workflow="simulation"} 3.0
nanobrain_executions_total{status="cancelled",workflow="simulation"} 1.0
nanobrain_executions_active 2.0
`;

describe("metrics summary", () => {
  it("parses the exposition format with labels", () => {
    const samples = parsePrometheus(TEXT);
    expect(samples[0]).toEqual({
      name: "nanobrain_http_requests_total",
      labels: { method: "GET", route: "/api/v1/workflows", status: "200" },
      value: 12,
    });
  });

  it("sums requests, server errors, and executions by outcome", () => {
    expect(summarizeMetrics(parsePrometheus(TEXT))).toEqual({
      requests: 13,
      serverErrors: 1,
      activeExecutions: 2,
      executions: [
        { workflow: "simulation", status: "cancelled", count: 1 },
        { workflow: "simulation", status: "succeeded", count: 3 },
      ],
    });
  });
});
