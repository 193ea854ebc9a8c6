"""Database failures a member or owner can act on: the server is away or busy, or the setting is wrong."""

from __future__ import annotations

import sqlite3


class DatabaseUnavailable(Exception):
    """The database server can't be reached right now, or stayed busy: a moment later it should work again.

    Raised by the PostgreSQL connections (the pool reconnects by itself); nothing half-written was kept.
    """


class DatabaseBusy(DatabaseUnavailable):
    """Another writer held the write lock past the wait (PostgreSQL's lock timeout; SQLite says "locked")."""


class DatabaseStartError(Exception):
    """The database named in the settings can't be used at start-up; `str()` says what to fix, never a password."""


def is_temporary_failure(error: BaseException) -> bool:
    """Whether trying again in a moment should work: SQLite stayed locked past its wait, or the server was away."""
    if isinstance(error, DatabaseUnavailable):
        return True
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)
