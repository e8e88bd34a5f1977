"""A small synchronous WebSocket client for the `/api/v1/ws` protocol."""

from __future__ import annotations

import json
import ssl
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


def open_socket(
    api: str, token: str | None = None, ssl_context: ssl.SSLContext | None = None
) -> ClientConnection:
    """`ssl_context`: for an https `api` (wss), the context that trusts its certificate."""
    url = api.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
    url += f"?token={token}" if token else ""
    return connect(url, open_timeout=10, ssl=ssl_context)


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
