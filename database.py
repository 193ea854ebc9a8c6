"""The front door to storage: `Database`, one SQLite file (or a PostgreSQL server) with every query the bot makes.

`Database("data/bot.db")` stores in a SQLite file; `Database("postgresql://user:pass@host:5432/db")` on PostgreSQL,
with the same queries (storage/postgres.py, storage/dialect.py). `python -m database copy --from data/bot.db --to
postgresql://...` moves a bot's data from the one to the other (storage/copy.py).

The pieces live in the `storage` package: connections, transactions and migrations (storage/connection.py),
members, tokens and servers (storage/members.py), artists, tracks and listening (storage/music.py), reads of
listening (storage/listening.py), crowns and a year in music (storage/crowns.py, storage/recap_reads.py), claims
that several processes share (storage/coordination.py), export and erasure (storage/account_data.py), the tables
as versioned migrations (storage/schema.py) and how names become
keys (storage/keys.py).

Knows tables, not Discord or Spotify. Every method is blocking; async code calls them through
`await db.run(db.method, ...)`, which runs them on a small pool of threads, each with its own
connection, so the event loop never waits on the disk.

Identifiers: a track or artist is keyed by its Spotify id when known, or by `local:<hash>` for imported
history that has no id yet. `name_key` (normalised "artist - title", or artist name) joins the two, so
community features count a song once whatever way it reached us. Names in every script keep their letters in keys
(storage/keys.py), computed in Python before they are stored (SQLite connections also have them as SQL functions,
for the old migrations).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from storage.account_data import AccountData
from storage.coordination import Coordination
from storage.crowns import CrownStore
from storage.dialect import is_postgres_url
from storage.errors import DatabaseBusy, DatabaseStartError, DatabaseUnavailable, is_temporary_failure
from storage.listening import ListeningReads
from storage.members import LINK_BROKEN, LINK_NONE, LINK_OK, UNFINISHED_PLAYLISTS, MemberStore
from storage.music import TIME_RANGES, MusicStore
from storage.postgres import PostgresConnections, on_postgres
from storage.recap_reads import RecapReads
from storage.sources import SourceStore

__all__ = ["LINK_BROKEN", "LINK_NONE", "LINK_OK", "TIME_RANGES", "UNFINISHED_PLAYLISTS", "Database", "DatabaseBusy",
           "DatabaseStartError", "DatabaseUnavailable", "is_temporary_failure"]


class Database(MemberStore, MusicStore, ListeningReads, RecapReads, CrownStore, AccountData, Coordination,
               SourceStore):
    """A SQLite file with WAL, foreign keys, a busy timeout and a pool of per-thread connections; given a
    `postgresql://` address, the same class on PostgreSQL's pooled connections instead."""

    def __new__(cls, path: str | Path, *args: Any, **kwargs: Any) -> Self:
        if is_postgres_url(str(path)) and not issubclass(cls, PostgresConnections):
            cls = on_postgres(cls)
        return super().__new__(cls)


if __name__ == "__main__":  # python -m database copy --from data/bot.db --to postgresql://...
    import sys

    from storage.copy import main

    sys.exit(main())
