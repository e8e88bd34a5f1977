"""A route that fails unexpectedly answers the 500 problem and the client's keep-alive connection
survives it: FastAPI's error middleware would answer the same and then re-raise the exception to
uvicorn, which drops the connection (and every request pipelined on it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from nanobrain.web import problems
from nanobrain.web.middleware import ProblemOnError
from tests.support.server import free_port
from tests.support.waiting import wait_until


def failing_app(keep_alive: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("an unexpected fault")

    @app.get("/fine")
    async def fine() -> dict[str, bool]:
        return {"fine": True}

    problems.install(app)
    if keep_alive:
        app.add_middleware(ProblemOnError)
    return app


@pytest.fixture(params=[True, False], ids=["with ProblemOnError", "without"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    port = free_port()
    config = uvicorn.Config(
        failing_app(request.param), port=port, log_level="critical", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, what="uvicorn started")
    yield f"http://127.0.0.1:{port}", request.param
    server.should_exit = True
    thread.join(10)


def test_an_unexpected_error_is_a_problem_and_keeps_the_connection(
    served: tuple[str, bool],
) -> None:
    url, keep_alive = served
    with httpx.Client(base_url=url) as client:
        before = local_address(client.get("/fine"))
        failed = client.get("/boom")
        try:
            dropped = local_address(client.get("/fine")) != before
        except httpx.TransportError:  # the next request met the closed connection
            dropped = True
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert "an unexpected fault" not in failed.text, "no internals in the answer"
    assert dropped is not keep_alive


def local_address(response: httpx.Response) -> object:
    return response.extensions["network_stream"].get_extra_info("client_addr")
