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
# The execution record writer (`runtime/records.py`): its backlog, how long the oldest change has
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
