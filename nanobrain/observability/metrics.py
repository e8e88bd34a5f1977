"""Prometheus metrics. Labels are bounded (route templates, workflow names), never ids."""

from __future__ import annotations

from prometheus_client import Gauge

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
