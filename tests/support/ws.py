"""A small synchronous WebSocket client for the `/api/v1/ws` protocol."""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


def open_socket(api: str, token: str | None = None) -> ClientConnection:
    url = api.replace("http://", "ws://") + "/ws" + (f"?token={token}" if token else "")
    return connect(url, open_timeout=10)


def send(ws: ClientConnection, **message: Any) -> None:
    ws.send(json.dumps(message))


def receive(ws: ClientConnection, timeout: float = 20) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def close_of(ws: ClientConnection, timeout: float = 20) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
