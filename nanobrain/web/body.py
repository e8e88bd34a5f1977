"""Reading request bodies within limits: JSON with size and depth caps, multipart with a byte cap
enforced while the body streams in (413 before the whole upload is read)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from nanobrain.config import LimitsConfig
from nanobrain.web.problems import ProblemError

CHUNK = 1 << 20


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        f"the request body is larger than the {limit}-byte limit",
        headers={"Connection": "close"},  # stop reading the rest
        limit=limit,
    )


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ProblemError(400, "invalid Content-Length header") from exc


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_capped(request: Request, limit: int) -> bytes:
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise ProblemError(400, "the client disconnected before sending the whole body") from exc
    return b"".join(chunks)


def parse_json(raw: bytes, limits: LimitsConfig, what: str = "request body") -> Any:
    if not raw.strip():
        raise ProblemError(400, f"the {what} is empty; send a JSON object")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProblemError(400, f"the {what} is not valid JSON: {exc}") from exc
    # Nesting needs a bracket per level: count them in C before walking the value in Python.
    max_depth = limits.max_json_depth
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


async def read_form(request: Request, limit: int, max_fields: int = 100) -> FormData:
    """Parse multipart/form-data, refusing (413) as soon as more than `limit` bytes arrive."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    received = 0
    upstream = request.receive

    async def counting_receive() -> Message:
        nonlocal received
        message = await upstream()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    capped = Request(request.scope, counting_receive)
    try:
        return await capped.form(max_files=max_fields, max_fields=max_fields)
    except ClientDisconnect as exc:
        raise ProblemError(400, "the client disconnected before sending the whole body") from exc
    except ProblemError:
        raise
    except Exception as exc:  # the multipart parser's own errors are client mistakes
        raise ProblemError(400, f"malformed multipart body: {exc}") from exc


async def upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk
