"""Prometheus metrics. Labels are bounded (route templates, workflow names), never ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from nanobrain.observability.loop_metrics import LoopCounter, LoopHistogram

HTTP_REQUESTS = LoopCounter(
    "nanobrain_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_SECONDS = LoopHistogram(
    "nanobrain_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
EXECUTIONS = LoopCounter(
    "nanobrain_executions_total", "Executions finished, by outcome", ["workflow", "status"]
)
EXECUTION_SECONDS = LoopHistogram(
    "nanobrain_execution_duration_seconds",
    "Execution run time",
    ["workflow"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600),
)
EXECUTIONS_ACTIVE = Gauge("nanobrain_executions_active", "Executions queued or running")
STREAMS_OPEN = Gauge("nanobrain_streams_open", "SSE streams and WebSockets being served")
STREAMS_REFUSED = LoopCounter(
    "nanobrain_streams_refused_total",
    "Streams refused: their principal held its role's share of open streams",
    ["transport"],
)
# Executor saturation (set when /metrics is scraped; distributed: across the live workers).
EXECUTOR_RUNNING = Gauge("nanobrain_executor_running", "Executions running")
EXECUTOR_CAPACITY = Gauge("nanobrain_executor_capacity", "Execution slots (of the live workers)")
EXECUTIONS_QUEUED = Gauge(
    "nanobrain_executions_queued", "Executions waiting for a slot or for their principal's share"
)
OLDEST_QUEUED_SECONDS = Gauge(
    "nanobrain_executions_oldest_queued_seconds", "How long the longest queued one has waited"
)
# The execution record writer (`runtime/records/`): its backlog, how long the oldest change has
# waited, and the writes it could not make (`unavailable`: the database refused the attempt, it
# is retried; `unwritable`: a record it cannot store, replaced by its execution's failed outcome).
RECORD_BACKLOG = Gauge("nanobrain_record_backlog", "Execution record changes not yet written")
RECORD_OLDEST_UNWRITTEN = Gauge(
    "nanobrain_record_oldest_unwritten_seconds", "Age of the oldest unwritten record change"
)
RECORD_WRITE_FAILURES = Counter(
    "nanobrain_record_write_failures_total", "Failed execution record writes", ["reason"]
)
for _reason in ("unavailable", "unwritable"):
    RECORD_WRITE_FAILURES.labels(_reason)
