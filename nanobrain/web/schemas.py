"""Request and response models of the HTTP contract (API.md). Used for validation and OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nanobrain.core.execution import ExecutionRecord

StatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Mode = Literal["sync", "job", "stream", "chat"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExecuteRequest(_Strict):
    workflow: str | None = Field(default=None, max_length=200)
    input: dict[str, Any] | None = None
    query: str | None = Field(default=None, max_length=10_000)
    session_id: str | None = Field(default=None, max_length=64)
    wait: bool = False


class Links(BaseModel):
    status: str
    results: str
    events: str
    cancel: str


class Accepted(BaseModel):
    execution_id: str
    workflow: str
    status: StatusName
    links: Links
    routed_to: str | None = None


class Progress(BaseModel):
    fraction: float | None
    message: str | None
    step: str | None


class ExecutionStatusBody(BaseModel):
    execution_id: str
    workflow: str
    status: StatusName
    progress: Progress
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, Any] | None
    session_id: str | None = None


class ExecutionOutcome(ExecutionStatusBody):
    output: Any = None
    links: Links | None = None
    routed_to: str | None = None


class ExecutionSummary(ExecutionStatusBody):
    kind: str
    input: Any = None


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None


class Results(BaseModel):
    execution_id: str
    status: StatusName
    output: Any
    artifacts: list[dict[str, Any]]


class WorkflowInfo(BaseModel):
    name: str
    title: str
    description: str
    tags: list[str]
    version: str
    mode: Mode
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    examples: list[str]


class FileInfo(BaseModel):
    file_id: str
    filename: str
    size: int
    content_type: str
    sha256: str
    created_at: datetime


class RouteRequest(_Strict):
    query: str = Field(min_length=1, max_length=10_000)


class Alternative(BaseModel):
    workflow: str
    confidence: float


class RouteReply(BaseModel):
    workflow: str | None
    confidence: float
    intent: str
    domain: str
    alternatives: list[Alternative]


class ToolInfo(BaseModel):
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class ToolExecuteRequest(_Strict):
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolResult(BaseModel):
    result: Any
    execution_id: str


class AgentInfo(BaseModel):
    name: str
    description: str
    tools: list[str]


class AgentCapabilities(BaseModel):
    name: str
    description: str
    instructions: str
    tools: list[ToolInfo]
    input_schema: dict[str, Any]
    streaming: bool


def links(execution_id: str, prefix: str) -> dict[str, str]:
    base = f"{prefix}/workflows/{execution_id}"
    return {
        "status": f"{base}/status",
        "results": f"{base}/results",
        "events": f"{base}/events",
        "cancel": f"{base}/cancel",
    }


def status_body(record: ExecutionRecord) -> dict[str, Any]:
    return {
        "execution_id": record.id,
        "workflow": record.workflow,
        "status": record.status.value,
        "progress": {
            "fraction": record.progress_fraction,
            "message": record.progress_message,
            "step": record.progress_step,
        },
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "error": record.error,
        "session_id": record.session_id,
    }
