"""A minimal Server-Sent Events reader over httpx, to check the wire format as sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class SSE:
    event: str
    id: str | None
    data: Any


def read_events(response: httpx.Response) -> Iterator[SSE]:
    event, event_id, data = "message", None, []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield SSE(event, event_id, json.loads("\n".join(data)))
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
    client: httpx.Client, url: str, headers: dict[str, str] | None = None, timeout: float = 30
) -> list[SSE]:
    with client.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_events(response))
