"""A minimal Server-Sent Events reader over httpx, to check the wire format as sent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class SSE:
    event: str
    id: str | None
    data: Any


def read_events(response: httpx.Response, until: float | None = None) -> Iterator[SSE]:
    """The events as they come; `until` (a `time.monotonic()` value) stops reading then, even
    while only keep-alive comments arrive."""
    event, event_id, data = "message", None, []
    for line in response.iter_lines():
        if until is not None and time.monotonic() > until:
            return
        if line == "":
            if data:
                text = "\n".join(data)
                yield SSE(event, event_id, text if text == "[DONE]" else json.loads(text))
            event, event_id, data = "message", None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)


def collect(
    client: httpx.Client,
    url: str,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
    method: str = "GET",
    json_body: Any = None,
) -> list[SSE]:
    with client.stream(method, url, headers=headers, timeout=timeout, json=json_body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_events(response))
