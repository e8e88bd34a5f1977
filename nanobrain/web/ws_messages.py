"""The WebSocket's client messages (API.md, "WebSocket"), one pydantic model per `type`.

A message is one of a discriminated union, so a malformed one is refused with the reason before
anything acts on it, and each type names the one permission it needs: the same as its HTTP
equivalent, whose rate-limit group it is counted in.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from nanobrain.security.policy import EXECUTE, READ


def _event_id(value: Any) -> Any:
    """An event id: a non-negative integer, or its digits (what `Last-Event-ID` holds)."""
    if isinstance(value, bool):
        raise ValueError("an event id is a non-negative integer")
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    return value


RequestId = Annotated[str, Field(max_length=200)] | int | None
Name = Annotated[str, Field(max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    permission: ClassVar[str | None] = None  # what the principal needs to send it

    id: RequestId = None  # echoed as `request_id` in what answers it


class Auth(_Message):
    """(Re-)authenticate the socket: a bearer token or an API key."""

    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=16_384)]


class Ping(_Message):
    permission = READ
    type: Literal["ping"]


class Execute(_Message):
    """`POST /workflows/execute`, followed live."""

    permission = EXECUTE
    type: Literal["workflow.execute"]
    workflow: Name | None = None
    input: dict[str, Any] | None = None
    query: Annotated[str, Field(max_length=10_000)] | None = None
    session_id: Id | None = None


class Chat(_Message):
    """`POST /chat/stream`: a chat turn, followed live."""

    permission = EXECUTE
    type: Literal["chat.message"]
    content: Annotated[str, Field(min_length=1, max_length=100_000)]
    session_id: Id | None = None
    workflow: Name | None = None
    attachments: Annotated[list[Id], Field(max_length=20)] = []


class Subscribe(_Message):
    """`GET /workflows/{execution_id}/events` from event `after` on."""

    permission = READ
    type: Literal["subscribe"]
    execution_id: Id
    after: Annotated[int, BeforeValidator(_event_id), Field(ge=0)] = 0


class Cancel(_Message):
    """`DELETE /workflows/{execution_id}/cancel`."""

    permission = EXECUTE
    type: Literal["cancel"]
    execution_id: Id


ClientMessage = Auth | Ping | Execute | Chat | Subscribe | Cancel
MESSAGES: dict[str, type[_Message]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in (Auth, Ping, Execute, Chat, Subscribe, Cancel)
}  # type -> model: each model's `permission` is what that type needs
parse_message: TypeAdapter[ClientMessage] = TypeAdapter(
    Annotated[ClientMessage, Field(discriminator="type")]
)
