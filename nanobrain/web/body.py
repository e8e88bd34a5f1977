"""Reading request bodies, for every router: JSON with a depth cap (a route declares its model
with `JSONBody`), multipart forms. Sizes are capped before this, as the body streams in, by
`BodyLimitMiddleware`. One parser, so one bad body gets one answer whichever route it is sent to:
400 empty, malformed or too deeply nested, 413 too large, 415 not JSON, 422 not the model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar, cast

import orjson
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import ClientDisconnect, Request

from nanobrain.config import LimitsConfig
from nanobrain.core import jsoncodec
from nanobrain.runtime.errors import InvalidInput, validation_errors
from nanobrain.web.openapi import request_body
from nanobrain.web.problems import ProblemError
from nanobrain.web.state import app_state

M = TypeVar("M", bound=BaseModel)

CHUNK = 1 << 20


def media_type(request: Request) -> str:
    for name, value in request.scope["headers"]:  # no Headers object on the hot path
        if name == b"content-type":
            if value == b"application/json":
                return "application/json"
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


async def read_body(request: Request) -> bytes:
    """The whole body; its size is already capped by `BodyLimitMiddleware`."""
    # Starlette's `Request.body()` goes through its generic `stream()`: this is the same loop,
    # inlined, on the path every execute request takes.
    cached: bytes | None = getattr(request, "_body", None)
    if cached is not None:
        return cached
    chunks: list[bytes] = []
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ProblemError(400, "the client disconnected before sending the whole body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body  # what `Request.body()` returns from now on
    return body


def parse_json(raw: bytes, limits: LimitsConfig, what: str = "request body") -> Any:
    """Strict JSON (no `NaN`), integers of any size exactly, within the nesting and string
    limits: 400 (413 for a string too long) otherwise."""
    if not raw.strip():
        raise ProblemError(400, f"the {what} is empty; send a JSON object")
    max_depth = limits.max_json_depth
    try:
        value = jsoncodec.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own, past 1024 levels
            raise ProblemError(400, f"the {what} nests deeper than {max_depth} levels") from exc
        raise ProblemError(400, f"the {what} is not valid JSON: {exc}") from exc
    # Nesting needs a bracket per level: count them in C before walking the value in Python.
    if raw.count(b"[") + raw.count(b"{") > max_depth and _depth(value, max_depth) > max_depth:
        raise ProblemError(400, f"the {what} nests deeper than {max_depth} levels")
    # Likewise, no string can be longer than the body that holds it.
    if len(raw) > limits.max_string_length and _longest_string(value) > limits.max_string_length:
        raise ProblemError(
            413, f"the {what} holds a string longer than {limits.max_string_length} characters"
        )
    return value


def _longest_string(value: Any) -> int:
    longest = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            longest = max(longest, len(item))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return longest


def parse_model(raw: bytes, model: type[M], limits: LimitsConfig, what: str = "request body") -> M:
    """Validate JSON straight into `model` (one pass, in Rust); 400 for what is not JSON, 422
    with `{loc, msg}` errors for JSON that does not fit the model."""
    if not raw or raw.isspace():
        raise ProblemError(400, f"the {what} is empty; send a JSON object")
    if (
        raw.count(b"[") + raw.count(b"{") > limits.max_json_depth
        or len(raw) > limits.max_string_length
        or b"NaN" in raw  # pydantic's parser takes NaN and Infinity, which JSON has not
        or b"Infinity" in raw
    ):
        parse_json(raw, limits, what)  # enforces strict JSON, the nesting and string limits
    try:
        # The validator itself: `model_validate_json`'s wrapper costs a third as much again.
        return cast(M, model.__pydantic_validator__.validate_json(raw))
    except ValidationError as exc:
        errors = validation_errors(exc, ("body",))
        if any(error["type"] == "json_invalid" for error in errors):
            raise ProblemError(400, f"the {what} is not valid JSON", errors=errors) from exc
        raise InvalidInput(f"the {what} does not match {model.__name__}", errors) from exc


def require_json(request: Request) -> None:
    kind = media_type(request)
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise ProblemError(415, f"send application/json, not {kind!r}")


async def read_json(request: Request, limits: LimitsConfig) -> Any:
    require_json(request)
    return parse_json(await read_body(request), limits)


async def read_model(request: Request, model: type[M], limits: LimitsConfig) -> M:
    require_json(request)
    return parse_model(await read_body(request), model, limits)


class JSONBody(Generic[M]):
    """A route's JSON body: read into `model` by `read`, documented by `openapi` (the route's
    `openapi_extra`; `also` documents other media types the route reads itself)."""

    def __init__(self, model: type[M], also: dict[str, Any] | None = None):
        self.model = model
        self.openapi = request_body(model, also)

    async def read(self, request: Request) -> M:
        limits = app_state(request).settings.web_interface.limits
        return await read_model(request, self.model, limits)

    def parse(self, raw: bytes, limits: LimitsConfig, what: str = "request body") -> M:
        return parse_model(raw, self.model, limits, what)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, iteratively (no recursion limit to hit), stopping past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


class _PartTooLarge(ProblemError):
    def __init__(self, what: str, limit: int):
        super().__init__(
            413,
            f"{what} is larger than the {limit}-byte limit",
            headers={"Connection": "close"},  # the rest of the body is not read
            limit=limit,
        )


class _BoundedParser(MultiPartParser):
    """Starlette's multipart parser with a size limit per part, checked as the bytes arrive: a
    field, and a part named in `small_parts` even when sent as a file, may hold `max_field`
    bytes, any other file `max_file`; past it, 413 before the rest is read. (The whole body is
    capped by `BodyLimitMiddleware`.)"""

    def __init__(
        self,
        request: Request,
        max_fields: int,
        max_field: int,
        max_file: int,
        small_parts: tuple[str, ...],
    ):
        super().__init__(
            request.headers,
            request.stream(),
            max_files=max_fields,
            max_fields=max_fields,
            max_part_size=max_field,
        )
        self.max_file = max_file
        self.small_parts = small_parts
        self._part_size = 0
        self._part_limit = max_field

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._part_size = 0

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        part = self._current_part
        small = part.file is None or part.field_name in self.small_parts
        self._part_limit = self.max_part_size if small else self.max_file

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._part_size += end - start
        if self._part_size > self._part_limit:
            name = self._current_part.field_name
            raise _PartTooLarge(f"the part {name!r}", self._part_limit)
        super().on_part_data(data, start, end)


async def read_form(
    request: Request,
    limits: LimitsConfig,
    max_fields: int = 100,
    small_parts: tuple[str, ...] = (),
) -> FormData:
    """Parse multipart/form-data: each field (and each part named in `small_parts`) up to
    `max_body_bytes`, each file up to `max_upload_bytes`; 413 as soon as one passes its limit."""
    parser = _BoundedParser(
        request, max_fields, limits.max_body_bytes, limits.max_upload_bytes, small_parts
    )
    try:
        return await parser.parse()
    except ClientDisconnect as exc:
        raise ProblemError(400, "the client disconnected before sending the whole body") from exc
    except ProblemError:
        raise
    except Exception as exc:  # the multipart parser's own errors are client mistakes
        raise ProblemError(400, f"malformed multipart body: {exc}") from exc


async def upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk
