"""Fast JSON and RFC 9457 problem responses."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

from nanobrain.core import jsoncodec

_OPTIONS = jsoncodec.OPTIONS


def dumps(content: Any) -> bytes:
    """JSON bytes, integers past 64 bits exactly; raises `jsoncodec.Unencodable`."""
    try:  # `jsoncodec.dumps` inlined: every response body goes through here
        return orjson.dumps(content, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return jsoncodec.dumps(content)


class JSON(Response):
    media_type = "application/json"

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ):
        if headers is not None:
            super().__init__(content, status_code, headers)
            return
        # The hot path: the two headers built directly (Starlette's init_headers scans for them).
        self.status_code = status_code
        self.background = None
        self.body = dumps(content)
        self.raw_headers = [
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", b"application/json"),
        ]

    def render(self, content: Any) -> bytes:
        return dumps(content)


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    problem_type: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An `application/problem+json` response; `extra` adds members such as `errors`."""
    body = {
        "type": problem_type,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(
        dumps(body), status_code=status, headers=headers, media_type="application/problem+json"
    )
