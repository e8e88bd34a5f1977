"""NanoBrain's access log: one line per HTTP request and per WebSocket session.

It replaces uvicorn's access log and WebSocket handshake lines, which print the query string as
the client sent it (a browser's WebSocket token with it). Here the query's credentials are
redacted, control characters are escaped (no forged lines), and no header is ever written.

    127.0.0.1 - "GET /api/v1/executions?limit=5" 200 2.1ms 812B req=3f9c...
    127.0.0.1 - "WEBSOCKET /api/v1/ws?token=[REDACTED]" 101 5012.0ms 2048B req=77ab... close=1000

Lines go to the `nanobrain.access` logger at INFO, so the log level turns them off (the
benchmarks run at `warning`), at the cost of one level check per request.
"""

from __future__ import annotations

import logging

from starlette.types import Scope

from nanobrain.observability.redaction import redact, redact_query

LOGGER_NAME = "nanobrain.access"


def _escape(text: str) -> str:
    """Control characters, line separators, quotes and backslashes as `\\xNN` / `\\uNNNN`."""
    return "".join(
        char if char.isprintable() and char not in '"\\' else _code(char) for char in text
    )


def _code(char: str) -> str:
    point = ord(char)
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def target(scope: Scope) -> str:
    """The request's path and query as a log may show them: credentials redacted, escaped."""
    path = redact(scope.get("root_path", "") + scope["path"])
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        path = f"{path}?{redact_query(query)}"
    if path.isprintable() and '"' not in path and "\\" not in path:
        return path
    return _escape(path)


class AccessLog:
    def __init__(self, logger: logging.Logger | None = None):
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def record(
        self,
        scope: Scope,
        status: int,
        seconds: float,
        sent: int,
        close_code: int | None = None,
    ) -> None:
        """Log one finished request or WebSocket session (call only when `enabled`)."""
        client = scope.get("client")
        method = scope["method"] if scope["type"] == "http" else "WEBSOCKET"
        request_id = scope.get("state", {}).get("request_id", "-")
        address = _escape(str(client[0])) if client else "-"
        line = (
            f'{address} - "{method} {target(scope)}" {status} '
            f"{seconds * 1000:.1f}ms {sent}B req={request_id}"
        )
        if close_code is not None:
            line += f" close={close_code}"
        self.logger.info(line, extra={"redacted": True})
