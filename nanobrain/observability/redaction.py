"""Credentials never reach a log line: every text a logger writes passes through `redact`.

Clients put credentials where loggers look: a browser's WebSocket sends its token as `?token=`,
an OpenID Connect callback carries `?code=&state=`, an exception may quote a URL or a header. The
patterns below replace them with `[REDACTED]` wherever they appear: query parameters with a
credential's name, NanoBrain's own API keys (`nbk_`) and refresh tokens (`nbr_`), JWTs,
`Bearer`/`Basic` credentials, and values of credential-named fields in JSON, dict reprs and
headers.

`redact` is the one function; `redact_query` is the access log's cheaper variant for a raw query
string, `redact_event_dict` has the shape of a structlog processor, and `RedactingFilter` applies
`redact` to stdlib log records (installed on the root logger's handlers, it covers third-party
lines and tracebacks too).
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import unquote_plus

REDACTED = "[REDACTED]"

# Query parameters and fields whose value is a credential, whatever it looks like.
SENSITIVE_NAMES = frozenset(
    {
        "access_token",
        "api-key",
        "api_key",
        "apikey",
        "auth",
        "authorization",
        "client_secret",
        "code",
        "cookie",
        "id_token",
        "jwt",
        "key",
        "passwd",
        "password",
        "refresh_token",
        "secret",
        "session",
        "session_token",
        "set-cookie",
        "state",
        "token",
        "x-api-key",
    }
)
_NAMES = "|".join(sorted((re.escape(name) for name in SENSITIVE_NAMES), key=len, reverse=True))
# Fields whose value is a credential, in JSON, dict reprs and `name=value` text (`key` and `code`
# alone are too common in ordinary text to redact after a colon).
_FIELD_NAMES = (
    r"access_token|refresh_token|id_token|client_secret|api[_-]?key|password|passwd|secret|token"
)
# Headers that carry credentials: their whole value, to the end of the line or the quote.
_HEADER_NAMES = r"authorization|proxy-authorization|x-api-key|cookie|set-cookie"

_PATTERN = re.compile(
    # a URL's query parameter: ?token=..., &code=...
    rf"(?P<param>[?&;](?:{_NAMES})=)[^&;#\s\"'<>]*"
    # Authorization: Bearer ..., 'cookie': 'a=1; b=2'
    rf"|(?P<header>\b(?:{_HEADER_NAMES})[\"']?\s*[:=]\s*[\"']?)[^\r\n\"']+"
    # "password": "...", 'token': '...', password=...
    rf"|(?P<field>\b(?:{_FIELD_NAMES})[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}}\]]+"
    # NanoBrain's API keys and refresh tokens
    r"|(?P<nb>\bnb[kr]_)[A-Za-z0-9_\-]+"
    # a JWT (its header is a JSON object: base64url of '{"' is 'eyJ')
    r"|(?P<jwt>\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*)"
    # an Authorization scheme's credentials anywhere else
    r"|(?P<scheme>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]+",
    re.IGNORECASE,
)


def _replace(match: re.Match[str]) -> str:
    for group in ("param", "header", "field", "nb", "scheme"):
        prefix = match.group(group)
        if prefix is not None:
            return prefix + REDACTED
    return REDACTED  # a JWT


# Every pattern above needs one of these (in lower case): checking for them first is a few
# substring searches, where the pattern costs microseconds on a line that holds nothing.
_TRIGGERS = ("=", ":", "nbk_", "nbr_", "eyj", "bearer", "basic")


def redact(text: str) -> str:
    """`text` with every credential it holds replaced by `[REDACTED]`."""
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text
    return _PATTERN.sub(_replace, text)


def redact_query(query: str) -> str:
    """A raw query string with the values of credential-named parameters, and every value that
    decodes to something holding a credential, replaced by `[REDACTED]`."""
    if not query:
        return query
    pairs = query.split("&")
    for index, pair in enumerate(pairs):
        name, equals, value = pair.partition("=")
        if not equals:
            continue
        if unquote_plus(name).strip().lower() in SENSITIVE_NAMES:
            pairs[index] = f"{name}={REDACTED}"
            continue
        decoded = unquote_plus(value)
        if redact(decoded) != decoded:  # e.g. `?q=nbk_...`, or one percent-encoded
            pairs[index] = f"{name}={REDACTED}"
    return "&".join(pairs)


def redact_event_dict(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: `redact` every string value of the event."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


class RedactingFilter(logging.Filter):
    """Redacts a stdlib record's message, traceback and stack before any handler formats it.

    Install it on handlers (a logger's own filters do not see its children's records)."""

    _traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "redacted", False):
            return True
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.redacted = True
        return True
