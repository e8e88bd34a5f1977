"""A worker's metrics endpoint: Prometheus' exposition on a port of its own, in a thread.

`/metrics` needs `Authorization: Bearer <monitoring.metrics_token>` when a token is configured;
`/health/live` answers anyone (an orchestrator's liveness probe), and says nothing else.
"""

from __future__ import annotations

import hmac
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # no access lines on stderr
        pass


def guarded(app: WSGIApp, token: str | None) -> WSGIApp:
    expected = token.encode() if token is not None else None

    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health/live":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if expected is not None:
            scheme, _, presented = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                presented.encode("latin-1", "replace"), expected
            ):
                challenge = ("WWW-Authenticate", 'Bearer realm="metrics"')
                start_response("401 Unauthorized", [("Content-Type", "text/plain"), challenge])
                return [b"send the metrics token as Authorization: Bearer\n"]
        return app(environ, start_response)

    return serve


def start_metrics_server(host: str, port: int, token: str | None) -> None:
    """Serve `/metrics` on `host:port` from a daemon thread."""
    server_class = _Server6 if ":" in host else _Server
    httpd = make_server(
        host, port, guarded(make_wsgi_app(), token), server_class, handler_class=_Quiet
    )
    threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True).start()
