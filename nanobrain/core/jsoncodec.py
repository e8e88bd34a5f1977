"""JSON for every value a workflow takes or gives: its input, output, events, errors, chat
messages and session state, wherever they are stored, sent or cached.

orjson does the work. It refuses integers outside 64 bits, which JSON (and Python) allow, so
`dumps` writes those exactly, as their digits, when orjson refuses; and since `orjson.loads`
reads them as floats, `loads` reads a text that holds a long enough run of digits with the
standard library's exact parser. What JSON cannot hold at all (a string with a lone surrogate,
nesting deeper than orjson's limit, an object it does not know) raises `Unencodable`, so the
caller can refuse that one value instead of failing somewhere later for everyone.

Floats that are not finite (NaN, infinities) become `null`, as orjson and pydantic's JSON mode
write them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY
MAX_DEPTH = 254  # orjson's own nesting limit when serializing
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1
# orjson reads integers of up to 64 bits exactly (at most 20 digits); a run of 20 digits is
# where a longer one may begin.
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{20}")
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{20}")


class Unencodable(TypeError):
    """A value that JSON cannot hold; the message says why (never the value itself)."""


def dumps(value: Any, option: int = OPTIONS) -> bytes:
    """`value` as JSON bytes; raises `Unencodable`."""
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError as exc:
        return _dumps_exact(value, option, exc)


def dumps_text(value: Any, option: int = OPTIONS) -> str:
    return dumps(value, option).decode()


def check(value: Any) -> None:
    """Raise `Unencodable` unless `dumps(value)` would succeed."""
    dumps(value)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON, integers of any size exactly. Raises `orjson.JSONDecodeError` (a ValueError)
    on what is not JSON, including `NaN` and numbers too large for a float."""
    value = orjson.loads(data)
    if isinstance(data, str):
        if _LONG_DIGITS_TEXT.search(data) is None:
            return value
        text = data
    else:
        if _LONG_DIGITS_BYTES.search(data) is None:
            return value
        text = bytes(data).decode()
    # orjson accepted it, so it is JSON; only its long integers may have become floats.
    try:
        return json.loads(text)
    except RecursionError:  # deeper than Python's parser goes: floats it is
        return value


def _dumps_exact(value: Any, option: int, refused: orjson.JSONEncodeError) -> bytes:
    try:
        exact, changed = _with_exact_integers(value, 0)
    except RecursionError:
        raise Unencodable(f"it nests deeper than {MAX_DEPTH} levels") from None
    if changed:
        try:
            return orjson.dumps(exact, option=option)
        except orjson.JSONEncodeError as exc:
            refused = exc
    raise Unencodable(_reason(refused)) from None


def _with_exact_integers(value: Any, depth: int) -> tuple[Any, bool]:
    """`value` with each integer orjson cannot write replaced by its digits (an
    `orjson.Fragment`); True if there was any. Only JSON's containers are looked into."""
    if depth > MAX_DEPTH:
        raise RecursionError
    if isinstance(value, int) and not isinstance(value, bool):
        if _INT64_MIN <= value <= _UINT64_MAX:
            return value, False
        return orjson.Fragment(str(int(value))), True
    if isinstance(value, dict):
        changed = False
        items = {}
        for key, item in value.items():
            items[key], item_changed = _with_exact_integers(item, depth + 1)
            changed = changed or item_changed
        return (items, True) if changed else (value, False)
    if isinstance(value, list | tuple):
        changed = False
        converted = []
        for item in value:
            item, item_changed = _with_exact_integers(item, depth + 1)
            converted.append(item)
            changed = changed or item_changed
        return (converted, True) if changed else (value, False)
    return value, False


def _reason(exc: orjson.JSONEncodeError) -> str:
    """orjson's reason, in words a workflow author can act on (it never quotes the value)."""
    text = str(exc)
    if "Recursion limit" in text:
        return f"it nests deeper than {MAX_DEPTH} levels"
    if "surrogates not allowed" in text:
        return "it holds a string with a lone surrogate, which is not valid Unicode"
    if text.startswith("Type is not JSON serializable: "):
        kind = text.removeprefix("Type is not JSON serializable: ")
        return f"it holds a value of type {kind}, which JSON cannot hold (use plain data)"
    if "Dict key must be str" in text:
        return "it holds a mapping with keys that are not strings"
    return text
