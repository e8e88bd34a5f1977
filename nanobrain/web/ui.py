"""The bundled web UI: the built single-page app in `web/static/`, served at `/`.

Paths outside the API's namespaces belong to the UI. Hashed build assets never change under their
name, so they are cached for a year; `index.html` names the current ones, so it is revalidated on
every load. Any other path is a client-side route and gets `index.html`, except a missing asset
(a stale hashed name), which is a 404: answering HTML for a script only hides the real error.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from nanobrain.web.responses import problem

STATIC_DIR = Path(__file__).parent / "static"
API_NAMESPACES = ("/api", "/v1", "/mcp")
ASSETS = "assets/"
LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
BASE_TAG = '<base href="/" />'


class UIFiles(StaticFiles):
    """Static files with SPA fallback and cache headers by kind of file."""

    def __init__(self, directory: Path, root_path: str = ""):
        super().__init__(directory=directory)
        # The app resolves its assets and API calls against <base href>, so a UI served under a
        # prefix (server_config.root_path) needs only this one substitution.
        html = (directory / "index.html").read_text(encoding="utf-8")
        self.index_html = html.replace(BASE_TAG, f'<base href="{root_path.rstrip("/")}/" />')

    def index(self) -> Response:
        return Response(
            self.index_html, media_type="text/html", headers={"Cache-Control": REVALIDATE}
        )

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path in (".", "index.html"):
            return self.index()
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            if path.startswith(ASSETS):
                return problem(404, f"no UI asset {path!r}; reload the page for the current build")
            return self.index()
        response.headers["Cache-Control"] = LONG_CACHE if path.startswith(ASSETS) else REVALIDATE
        return response


class UIFallback:
    """Sends GET and HEAD requests outside the API's namespaces to the UI, everything else to
    `app`, so API paths keep their own 404 and 405 problems."""

    def __init__(self, app: ASGIApp, ui: UIFiles):
        self.app = app
        self.ui = ui

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = _route_path(scope)
            if not any(path == ns or path.startswith(ns + "/") for ns in API_NAMESPACES):
                response = await self.ui.get_response(self.ui.get_path(scope), scope)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def with_ui(app: ASGIApp, root_path: str = "", directory: Path = STATIC_DIR) -> ASGIApp:
    """`app` with the UI in front of it, when the UI has been built into `directory`."""
    if not (directory / "index.html").is_file():
        return app
    return UIFallback(app, UIFiles(directory, root_path))
