"""Database URLs as people write them, turned into the asynchronous drivers NanoBrain uses.

Every PostgreSQL tool and host hands out `postgresql://...` (or `postgres://...`), which
SQLAlchemy would give to psycopg; NanoBrain runs on asyncpg, so a URL that names no driver gets
asyncpg (and aiosqlite for SQLite). libpq's `sslmode` is asyncpg's `ssl`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_ASYNC_SCHEMES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_database_url(url: str) -> str:
    """`url` with the asynchronous driver when it names none; any other URL unchanged."""
    scheme, sep, rest = url.partition("://")
    driver = _ASYNC_SCHEMES.get(scheme.lower())
    if sep and driver is not None:
        url = f"{driver}://{rest}"
    if url.startswith("postgresql+asyncpg://") and "sslmode=" in rest:
        parts = urlsplit(url)
        query = [("ssl" if k == "sslmode" else k, v) for k, v in parse_qsl(parts.query)]
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url


def backend(url: str) -> str:
    """The database a URL names: `postgresql`, `sqlite`, ... (the scheme without its driver)."""
    scheme = url.partition("://")[0].partition("+")[0].lower()
    return "postgresql" if scheme == "postgres" else scheme
