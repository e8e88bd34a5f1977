"""Which failures mean a backing service is out (the database, Redis, the disk), as opposed to a
bug: the web layer answers those with 503 and `Retry-After`, and the background tasks that hit
them wait and try again instead of giving up.

The drivers report an outage in many shapes: a refused connection surfaces as the bare
`ConnectionRefusedError` of the socket (asyncpg does not wrap it, nor SQLAlchemy's pool), a
PostgreSQL that restarts as `CannotConnectNowError` or a connection SQLAlchemy invalidated, a
Redis that went away as redis-py's `ConnectionError` (inside taskiq's `SendTaskError` when a job
was being pushed), a full disk as SQLite's `SQLITE_FULL` or `ENOSPC`.
"""

from __future__ import annotations

import errno
import sqlite3
import traceback
from typing import Any

import asyncpg
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa

from nanobrain.runtime.errors import RuntimeProblem, StoreUnavailable
from nanobrain.store.failures import database_unavailable

RETRY_AFTER_SECONDS = 2
OUTAGE_RETRY_SECONDS = 0.5  # between attempts to record an outcome through an outage
DATABASE, REDIS, STORAGE = "database", "redis", "storage"

_REDIS = (
    redis_errors.ConnectionError,  # also BusyLoadingError: a restarted Redis loading its data
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica during a failover
)
_POSTGRES = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
)
# SQLite's primary result codes that mean the file or the disk, not the statement, is at fault.
_SQLITE_OUTAGE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_READONLY,
}
_SQLITE_MESSAGES = (
    "disk is full",
    "disk i/o error",
    "database is locked",
    "unable to open",
    "readonly database",
)
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}


class Unavailable(RuntimeProblem):
    """A backing service is out: 503 with `Retry-After`; the request may be sent again."""

    status = 503
    title = "Service unavailable"

    def __init__(self, dependency: str, detail: str | None = None):
        super().__init__(
            detail or f"the {dependency} is unavailable; try again shortly",
            dependency=dependency,
            retry_after=RETRY_AFTER_SECONDS,
        )
        self.dependency = dependency
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def unavailable(exc: BaseException) -> str | None:
    """The dependency (`database`, `redis`, `storage`) whose outage `exc` reports, or None when
    it reports anything else. Follows the explicit cause a library wrapped it in."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__
        seen += 1
    return None


def _classify(exc: BaseException) -> str | None:
    if isinstance(exc, Unavailable):
        return exc.dependency
    if isinstance(exc, StoreUnavailable):  # the record writer could not write in time
        return DATABASE
    if isinstance(exc, _REDIS):
        return REDIS
    if isinstance(exc, (*_POSTGRES, sa.TimeoutError, sa.DisconnectionError)):
        return DATABASE  # sa.TimeoutError: no pooled connection in time
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated or _driver_outage(exc.orig):
            return DATABASE
        # PostgreSQL names the class of its error: a connection, resources (a full disk),
        # an operator (shutting down), the system (I/O), a lock or a serialization conflict.
        if getattr(exc.orig, "sqlstate", None) and database_unavailable(exc):
            return DATABASE
        return None
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        return STORAGE
    if isinstance(exc, (ConnectionError, TimeoutError)) or (
        isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS
    ):
        return _whose(exc)  # a socket error: from whichever client raised it
    return None


def _driver_outage(orig: Any) -> bool:
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_OUTAGE
        return any(text in str(orig).lower() for text in _SQLITE_MESSAGES)
    if isinstance(orig, _POSTGRES):
        return True
    cause = getattr(orig, "__cause__", None)  # SQLAlchemy's asyncpg adapter wraps the original
    return isinstance(cause, (*_POSTGRES, ConnectionError, OSError))


def _whose(exc: BaseException) -> str | None:
    """The client library a bare socket error came out of, from its traceback."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = frame.filename
        if "/redis/" in path or "/taskiq_redis/" in path:
            return REDIS
        if "/asyncpg/" in path or "/sqlalchemy/" in path or "/aiosqlite/" in path:
            return DATABASE
    return None
