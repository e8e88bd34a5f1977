"""The bundled UI at `/`: caching by kind of file, client-side routes, and API paths untouched."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from nanobrain.web.ui import LONG_CACHE, STATIC_DIR, with_ui
from tests.support.server import ROOT, Server


def _entry_script(index_html: str) -> str:
    match = re.search(r'src="\./(assets/[^"]+\.js)"', index_html)
    assert match, index_html
    return match.group(1)


def test_the_built_ui_is_committed_with_the_package() -> None:
    index = (STATIC_DIR / "index.html").read_text()
    assert (STATIC_DIR / _entry_script(index)).is_file()


def test_index_is_revalidated_and_hashed_assets_are_cached_for_a_year(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        index = http.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["cache-control"] == "no-cache"
        assert '<base href="/" />' in index.text
        asset = http.get("/" + _entry_script(index.text))
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == LONG_CACHE
        assert "javascript" in asset.headers["content-type"]
        assert "x-request-id" in asset.headers


@pytest.mark.parametrize("path", ["/history", "/workflows/simulation", "/executions/abc?x=1"])
def test_client_side_routes_get_the_app(server: Server, path: str) -> None:
    response = httpx.get(server.url + path, timeout=10)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert '<div id="root">' in response.text


def test_a_missing_asset_is_a_404_not_the_app(server: Server) -> None:
    response = httpx.get(f"{server.url}/assets/index-stale.js", timeout=10)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api", "/v1/models-x", "/mcp/x"])
def test_api_namespaces_keep_their_own_404_problems(server: Server, path: str) -> None:
    response = httpx.get(server.url + path, timeout=10)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_other_methods_still_reach_the_api(server: Server) -> None:
    assert httpx.post(f"{server.api}/workflows", timeout=10).status_code == 405
    assert httpx.post(f"{server.url}/history", timeout=10).status_code == 404


def test_a_ui_under_a_prefix_resolves_against_that_prefix(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<html><head><base href="/" /></head></html>')

    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("api")(scope, receive, send)

    app = with_ui(api, root_path="/nb", directory=tmp_path)

    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path="/nb")
        async with httpx.AsyncClient(transport=transport, base_url="http://ui") as client:
            return await client.get(path)

    page = asyncio.run(fetch("/nb/chat"))
    assert '<base href="/nb/" />' in page.text
    assert asyncio.run(fetch("/nb/api/v1/health")).text == "api"


def test_without_a_build_the_app_is_served_alone(tmp_path: Path) -> None:
    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("api")(scope, receive, send)

    assert with_ui(api, directory=tmp_path) is api


def test_the_frontend_test_fixtures_match_what_the_server_sends(server: Server) -> None:
    """The Vitest schema tests use the examples' catalog as captured in fixtures; keep it true."""
    fixtures = ROOT / "frontend" / "src" / "test" / "fixtures"
    for name in ("workflows", "tools"):
        captured = json.loads((fixtures / f"{name}.json").read_text())
        served = {item["name"]: item for item in httpx.get(f"{server.api}/{name}").json()}
        for item in captured:
            assert item == served[item["name"]], (
                f"{name}.json is stale for {item['name']}: "
                f"curl {server.api}/{name} > frontend/src/test/fixtures/{name}.json"
            )
