"""OpenID discovery documents and JSON Web Key Sets of other issuers, fetched and cached.

An unknown key id triggers one refetch (the issuer may have rotated its keys), at most once a
minute per key set, so a flood of tokens with made-up key ids cannot flood the issuer.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from nanobrain.security.tokens import InvalidToken

CACHE_SECONDS = 3600.0
REFETCH_SECONDS = 60.0


class DiscoveryError(Exception):
    pass


class JwksClient:
    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self._documents: dict[str, tuple[dict[str, Any], float]] = {}
        self._keysets: dict[str, tuple[jwt.PyJWKSet, float]] = {}

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self.http.get(url, timeout=10)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DiscoveryError(f"cannot fetch {url}: {type(exc).__name__}") from exc
        if not isinstance(document, dict):
            raise DiscoveryError(f"{url} did not answer with a JSON object")
        return document

    async def discovery(self, issuer: str) -> dict[str, Any]:
        cached = self._documents.get(issuer)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        document = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if document.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
            raise DiscoveryError(f"the discovery document of {issuer} names another issuer")
        self._documents[issuer] = (document, time.monotonic() + CACHE_SECONDS)
        return document

    async def signing_key(self, jwks_uri: str, kid: str | None) -> jwt.PyJWK:
        keyset = await self._keyset(jwks_uri, refresh=False)
        key = _find(keyset, kid)
        if key is None:
            keyset = await self._keyset(jwks_uri, refresh=True)
            key = _find(keyset, kid)
        if key is None:
            raise InvalidToken("unknown key id")
        return key

    async def _keyset(self, uri: str, refresh: bool) -> jwt.PyJWKSet:
        cached = self._keysets.get(uri)
        now = time.monotonic()
        if cached is not None:
            fresh = cached[1] > now and not refresh
            just_fetched = cached[1] - CACHE_SECONDS + REFETCH_SECONDS > now
            if fresh or just_fetched:
                return cached[0]
        try:
            keyset = jwt.PyJWKSet.from_dict(await self._get_json(uri))
        except jwt.PyJWKSetError as exc:
            raise DiscoveryError(f"{uri} holds no usable keys") from exc
        self._keysets[uri] = (keyset, now + CACHE_SECONDS)
        return keyset


def _find(keyset: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
    keys = [key for key in keyset.keys if kid is None or key.key_id == kid]
    return keys[0] if len(keys) == 1 or (keys and kid is not None) else None
