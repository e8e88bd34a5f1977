"""Process-wide logging for `nanobrain serve` and `nanobrain worker`: one handler on the root
logger, every record through `RedactingFilter`, and uvicorn's own request lines silenced (they
print query strings as sent; NanoBrain's access log replaces them, `nanobrain.web.access_log`)."""

from __future__ import annotations

import logging

from nanobrain.observability.redaction import RedactingFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("aiosqlite", "asyncio", "multipart", "python_multipart", "sse_starlette")


class UvicornRequestLines(logging.Filter):
    """Drops uvicorn's WebSocket handshake and connection lines (`"WebSocket /path?query"
    [accepted]`, `connection open`): the access log has one line per session instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if not isinstance(message, str):
            return True
        return not (
            message.startswith('%s - "WebSocket ')
            or message in ("connection open", "connection closed")
        )


def configure_logging(level: str) -> None:
    """Log at `level` to standard error, with credentials redacted from every line. Pass
    uvicorn `log_config=None` and `access_log=False` so that its loggers use this set-up."""
    logging.basicConfig(level=level.upper(), format=FORMAT)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
    # uvicorn's access lines (`uvicorn.access`) are replaced by NanoBrain's access log.
    access = logging.getLogger("uvicorn.access")
    access.handlers, access.propagate = [], False
    for name in ("uvicorn.error", "websockets.server", "websockets.protocol"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, UvicornRequestLines) for existing in logger.filters):
            logger.addFilter(UvicornRequestLines())
