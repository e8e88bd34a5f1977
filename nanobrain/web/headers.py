"""Security headers on every response, chosen once per (scheme, path kind) at start-up."""

from __future__ import annotations

# API answers (JSON, events, files) are never documents to render: nothing may load or run.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
API_PREFIXES = ("/api/", "/v1/", "/mcp")
# The bundled web UI is served from this origin and only talks to it; images may be inline data.
# 'unsafe-eval': the generated forms validate with Ajv and charts evaluate Vega expressions, and
# both compile code at run time; no script from elsewhere, and no inline script, may run.
APP_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# FastAPI's interactive docs load Swagger UI from its CDN and start it with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"
DOCS_PATH = "/api/docs"


def _headers(csp: str, tls: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
        "content-security-policy": csp,
    }
    if tls:
        headers["strict-transport-security"] = HSTS
    return [(name.encode(), value.encode()) for name, value in headers.items()]


class SecurityHeaders:
    """`for_scope(scope)` -> the header list to add (HSTS only over TLS)."""

    def __init__(self) -> None:
        policies = {"docs": DOCS_CSP, "api": API_CSP, "ui": APP_CSP}
        self._lists = {
            (kind, tls): _headers(csp, tls)
            for kind, csp in policies.items()
            for tls in (False, True)
        }

    def for_scope(self, scheme: str, path: str) -> list[tuple[bytes, bytes]]:
        if path.startswith(DOCS_PATH):
            kind = "docs"
        elif path.startswith(API_PREFIXES):
            kind = "api"
        else:
            kind = "ui"
        return self._lists[kind, scheme in ("https", "wss")]
