"""What PostgreSQL answers, in the shape storage expects (sqlite3-like rows and cursors), and reads sent as one message
of prepared statements (`run_prepared`). Part of storage/postgres.py, kept apart for its size."""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from storage.dialect import POSTGRES


class Row(tuple):
    """A result row like sqlite3.Row: by position, unpacked, or by column name."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


class Cursor:
    """The fetched result of one statement (rows are read in full before the connection goes back to the pool)."""

    def __init__(self, rows: list[tuple[Any, ...]], names: list[str] | None, rowcount: int) -> None:
        self.description = [(name,) for name in names] if names is not None else None
        self.rowcount = rowcount
        self._rows = rows
        self.names = names or []
        self._names = {name: i for i, name in enumerate(self.names)}
        self._next = 0

    @classmethod
    def of(cls, cur: psycopg.Cursor) -> Cursor:
        """What `cur` ran gave: its rows, if it returns rows, and how many rows it changed."""
        names = column_names(cur)
        return cls(cur.fetchall() if names is not None else [], names, cur.rowcount)

    def _row(self, values: tuple[Any, ...]) -> Row:
        row = Row(values)
        row.names = self._names
        return row

    def fetchone(self) -> Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._row(self._rows[self._next - 1])

    def fetchall(self) -> list[Row]:
        rows = [self._row(values) for values in self._rows[self._next:]]
        self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


def column_names(cur: psycopg.Cursor) -> list[str] | None:
    """The names of the columns of `cur`'s result (None for a statement that returns no rows). Read from the result
    itself: `cur.description` makes a Column object for each, which costs more than the rows for a short result."""
    result = cur.pgresult
    if result is None or not result.nfields:
        return None
    return [(result.fname(i) or b"").decode() for i in range(result.nfields)]


PREPARED_PREFIX = "bot_read_"


@functools.lru_cache(maxsize=256)
def _prepared_name(sql: str) -> tuple[str, str]:
    """The name of a read prepared on the server (from its text, so every process names it alike), and its body."""
    body = POSTGRES.numbered(sql)
    return PREPARED_PREFIX + hashlib.blake2b(body.encode(), digest_size=8).hexdigest(), body


def run_prepared(raw: psycopg.Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Cursor]:
    """Several reads as ONE simple-query message of `EXECUTE name(values)`, each PREPAREd on this connection the
    first time (in the same message), so the server plans none of them again. A pipeline sends and reads each
    statement by itself (a system call, a wait and a wake-up of the server each): for a profile's five reads that
    cost the bot 0.8 ms of its own time against 0.55 ms here (the server's time stays within a tenth of a
    millisecond), time the bot's one Python interpreter can spend on other commands. The values are quoted by
    psycopg (ClientCursor)."""
    known: set[str] = raw.__dict__.setdefault("prepared_reads", set())
    parts: list[str] = []
    values: list[Any] = []
    answers: list[bool] = []  # which results are the reads' (a PREPARE answers too, with no rows)
    new: list[str] = []
    for sql, params in statements:
        name, body = _prepared_name(sql)
        if name not in known and name not in new:
            parts.append(f"PREPARE {name} AS {body}")
            answers.append(False)
            new.append(name)
        parts.append(f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}")
        answers.append(True)
        values.extend(params)
    with psycopg.ClientCursor(raw) as cur:
        cur.execute("; ".join(parts), values)
        known.update(new)
        results = []
        for answer in answers:
            if answer:
                results.append(Cursor.of(cur))
            cur.nextset()
    return results


def forget_prepared(raw: psycopg.Connection) -> None:
    """Drop this connection's prepared reads (what psycopg prepares by itself stays)."""
    for (name,) in raw.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE %s",
                               (PREPARED_PREFIX + "%",)).fetchall():
        raw.execute(f"DEALLOCATE {name}")
    raw.__dict__["prepared_reads"] = set()


def as_dicts(cursor: Cursor) -> list[dict[str, Any]]:
    """The cursor's rows as dicts by column name (map rather than a loop in Python: a fifth quicker)."""
    return list(map(dict, map(zip, itertools.repeat(cursor.names), cursor._rows)))
