"""Telling a database that refuses writes now from one that refuses what was written.

A writer retries the first kind with backoff (the database is down, full, locked, read-only, or
restarting: the same write will go in later) and must not retry the second (a value the database
cannot hold: it never will), or one bad record would hold up every other.
"""

from __future__ import annotations

from sqlalchemy import exc as sa

# PostgreSQL SQLSTATE classes of a database that cannot take the write now: connection
# exception, transaction rollback (serialization, deadlock), insufficient resources (disk full,
# out of memory), operator intervention (shutting down, starting up), system error (I/O).
_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_LOCK_NOT_AVAILABLE = "55P03"


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database does not take writes at the moment; False when it
    refused the data itself (a value it cannot store, a constraint), or for any other error."""
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True
        state = getattr(exc.orig, "sqlstate", None)
        if isinstance(state, str) and state:
            return state[:2] in _UNAVAILABLE_CLASSES or state == _LOCK_NOT_AVAILABLE
        # SQLite: locked, read-only, disk full, I/O error are all OperationalError; what it
        # refuses in a value is a DataError, IntegrityError or ProgrammingError.
        return isinstance(exc, sa.OperationalError | sa.InterfaceError)
    if isinstance(exc, sa.StatementError):
        return False  # a value could not be turned into a parameter
    return isinstance(exc, OSError | TimeoutError | sa.TimeoutError | sa.DisconnectionError)


def database_refused_value(exc: BaseException) -> bool:
    """True when the database refused a value itself (SQLSTATE class 22, data exception: text
    with a NUL character in PostgreSQL, a string too long for its column, a number out of
    range): the request that brought the value is at fault, not the server."""
    if not isinstance(exc, sa.DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str) and state:
        return state[:2] == "22"
    return isinstance(exc, sa.DataError)
