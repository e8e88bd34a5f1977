"""A real OpenID Connect provider on a loopback port: `oidc-provider-mock`, with PKCE (RFC 7636)
enforced in front of it, as real providers do for public and confidential clients alike.

    python -m tests.support.oidc_provider PORT
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from werkzeug.serving import make_server

StartResponse = Callable[..., Any]


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


class RequirePkce:
    """Remembers the S256 challenge of each authorization code the provider issues, and refuses
    to exchange a code without the verifier that matches it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app
        self.challenges: dict[str, str] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/authorize":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            challenge = query.get("code_challenge", [""])[0]
            method = query.get("code_challenge_method", [""])[0]

            def remember(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
                for name, value in headers:
                    if name.lower() == "location":
                        code = parse_qs(urlsplit(value).query).get("code", [""])[0]
                        if code and challenge and method == "S256":
                            self.challenges[code] = challenge
                return start_response(status, headers, *args)

            return self.app(environ, remember)
        if path == "/oauth2/token" and environ.get("REQUEST_METHOD") == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
            if form.get("grant_type") == "authorization_code":
                challenge = self.challenges.pop(form.get("code", ""), None)
                if challenge is None or s256(form.get("code_verifier", "")) != challenge:
                    return _invalid_grant(start_response)
        return self.app(environ, start_response)


def _invalid_grant(start_response: StartResponse) -> Iterable[bytes]:
    body = json.dumps(
        {"error": "invalid_grant", "error_description": "PKCE verification failed"}
    ).encode()
    start_response(
        "400 BAD REQUEST",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def main() -> None:
    import oidc_provider_mock  # only in the provider's own process

    port = int(sys.argv[1])
    app = oidc_provider_mock.app()
    server = make_server("127.0.0.1", port, RequirePkce(app.wsgi_app), threaded=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
