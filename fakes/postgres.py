"""Throwaway PostgreSQL schemas for tests and benchmarks, on a server named by TEST_DATABASE_URL.

`scripts/test.sh` starts a server under a temporary folder and sets TEST_DATABASE_URL; with
TEST_DATABASE_BACKEND=postgres as well, the `db` fixture and the bot test worlds store on PostgreSQL, each test in a
schema of its own, dropped afterwards. Without a server, PostgreSQL tests skip and say why.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

NO_SERVER = ("no PostgreSQL server for tests: set TEST_DATABASE_URL=postgresql://user@host:port/db "
             "(./scripts/test.sh starts one where PostgreSQL is installed)")


def server_url() -> str | None:
    """The test server's address, if there is one."""
    return os.environ.get("TEST_DATABASE_URL") or None


def storing_on_postgres() -> bool:
    """Whether this run stores the `db` fixture and bot worlds on PostgreSQL (TEST_DATABASE_BACKEND=postgres)."""
    return os.environ.get("TEST_DATABASE_BACKEND", "").lower() in ("postgres", "postgresql") and bool(server_url())


def with_search_path(url: str, schema: str) -> str:
    """`url` whose connections see `schema` first."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextlib.contextmanager
def throwaway_schema(base_url: str | None = None) -> Iterator[str]:
    """A new empty schema on the test server; yields a URL that uses it, and drops it afterwards."""
    import psycopg

    base_url = base_url or server_url()
    if not base_url:
        raise RuntimeError(NO_SERVER)
    name = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield with_search_path(base_url, name)
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@contextlib.contextmanager
def database_target(tmp_path: Path) -> Iterator[str | Path]:
    """Where a test's database lives: a SQLite file in `tmp_path`, or a throwaway schema when storing on PostgreSQL."""
    if storing_on_postgres():
        with throwaway_schema() as url:
            yield url
    else:
        yield tmp_path / "bot.db"
