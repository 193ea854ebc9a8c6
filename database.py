"""SQLite storage: connections, versioned migrations, and the bot's queries (listening reads are in
storage_listening.py, the tables in storage_schema.py, name keys in storage_keys.py).

Knows tables, not Discord or Spotify. Every method is blocking; async code calls them through
`await db.run(db.method, ...)`, which runs them on a small pool of threads, each with its own
connection, so the event loop never waits on the disk.

Identifiers: a track or artist is keyed by its Spotify id when known, or by `local:<hash>` for imported
history that has no id yet. `name_key` (normalised "artist - title", or artist name) joins the two, so
community features count a song once whatever way it reached us. Names in every script keep their letters in keys
(storage_keys.py); each connection has `normalise`, `track_key` and `local_id` as SQL functions, so SQL computes
the same keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from storage_keys import artist_key, register_sql_functions, track_key
from storage_listening import ListeningReads
from storage_schema import MIGRATIONS, SCHEMA_VERSION, USER_TABLES

P = ParamSpec("P")
T = TypeVar("T")
TIME_RANGES = ("short_term", "medium_term", "long_term")
LINK_NONE, LINK_OK, LINK_BROKEN = "none", "linked", "broken"
UNFINISHED_PLAYLISTS = "unfinished_playlists"  # key of the saved-recommendations payload (see utils.music_recommend)


def _usable_cpus() -> int:
    """CPUs this process may run on (affinity and container cpusets count; os.cpu_count ignores them)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 2


class Database(ListeningReads):
    """A SQLite file with WAL, foreign keys, a busy timeout and a pool of per-thread connections."""

    def __init__(self, path: str | Path, *, pool_size: int | None = None, busy_timeout_ms: int = 10_000) -> None:
        # Turning rows into Python objects holds the GIL: threads beyond the CPU count only queue for it.
        pool_size = pool_size or max(2, min(4, _usable_cpus()))
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="db")
        # Long writes (a sync's results, an import) queue on one thread of their own: SQLite takes one writer at a
        # time anyway, and the pool's threads stay free for the reads every command makes.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-write")
        self.is_open = False

    # -- connections and transactions -------------------------------------------------------

    def open(self) -> Database:
        """Create the file if needed and bring its schema up to date."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.migrate()
        self.is_open = True
        return self

    def close(self) -> None:
        self.is_open = False
        self._writer.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        register_sql_functions(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        for attempt in range(200):  # two openers switching a new file to WAL clash at once, without the busy wait
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 199:
                    raise
                time.sleep(0.01)
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front so writers queue, never deadlock."""
        conn = self.conn
        if conn.in_transaction:  # nested: join the outer one
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking database method on the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def run_write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a long write (many rows in one transaction) on the writer thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(*args, **kwargs))

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples zipped with the column names: a third quicker than dict(Row)
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- migrations ---------------------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self.scalar("PRAGMA user_version"))

    def migrate(self, target: int = SCHEMA_VERSION) -> None:
        """Apply every migration above the file's `user_version`, each in its own transaction."""
        conn = self.conn
        for version in range(self.schema_version() + 1, target + 1):
            with self.transaction():
                if self.schema_version() >= version:  # another connection applied it while we waited for the lock
                    continue
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")

    # -- users ----------------------------------------------------------------------------------

    def ensure_user(self, discord_id: int, display_name: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO users (discord_id, display_name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(discord_id) DO UPDATE SET display_name = COALESCE(excluded.display_name, display_name)",
                (discord_id, display_name, time.time()),
            )

    def get_user(self, discord_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM users WHERE discord_id = ?", (discord_id,))
        return rows[0] if rows else None

    def set_link_state(self, discord_id: int, state: str, *, spotify_user_id: str | None = None,
                       spotify_display_name: str | None = None) -> None:
        with self.transaction() as conn:
            before = conn.execute("SELECT spotify_user_id FROM users WHERE discord_id = ?", (discord_id,)).fetchone()
            if spotify_user_id is not None and before is not None and before[0] not in (None, spotify_user_id):
                _forget_unfinished_playlists(conn, discord_id)  # another Spotify account: those are not theirs
            conn.execute(
                "UPDATE users SET link_state = ?, spotify_user_id = COALESCE(?, spotify_user_id), "
                "spotify_display_name = COALESCE(?, spotify_display_name), "
                "linked_at = CASE WHEN ? = 'linked' THEN ? ELSE linked_at END WHERE discord_id = ?",
                (state, spotify_user_id, spotify_display_name, state, time.time(), discord_id),
            )

    def unlink_user(self, discord_id: int) -> None:
        """Forget the Spotify link (tokens) but keep listening data until the member asks to forget it."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM tokens WHERE discord_id = ?", (discord_id,))
            conn.execute("UPDATE users SET link_state = 'none' WHERE discord_id = ?", (discord_id,))
            _forget_unfinished_playlists(conn, discord_id)  # the next link may be another Spotify account

    def set_hidden(self, discord_id: int, hidden: bool) -> None:
        self.ensure_user(discord_id)
        with self.transaction() as conn:
            conn.execute("UPDATE users SET hidden = ? WHERE discord_id = ?", (int(hidden), discord_id))

    def linked_user_ids(self) -> list[int]:
        return [row["discord_id"] for row in self.query(
            "SELECT discord_id FROM users WHERE link_state = 'linked' ORDER BY discord_id")]

    def users_due_for_sync(self, synced_before: float) -> list[int]:
        rows = self.query(
            "SELECT discord_id FROM users WHERE link_state = 'linked' "
            "AND (last_synced_at IS NULL OR last_synced_at < ?) ORDER BY COALESCE(last_synced_at, 0)",
            (synced_before,))
        return [row["discord_id"] for row in rows]

    def display_names(self, discord_ids: Iterable[int]) -> dict[int, str]:
        ids = list(discord_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.query(f"SELECT discord_id, display_name FROM users WHERE discord_id IN ({marks})", ids)
        return {row["discord_id"]: row["display_name"] or f"member {row['discord_id']}" for row in rows}

    # -- tokens (ciphertext only: spotify_auth encrypts before calling these) ----------------------

    def save_tokens(self, discord_id: int, access_token: bytes, refresh_token: bytes, expires_at: float,
                    scope: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO tokens (discord_id, access_token, refresh_token, expires_at, scope, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(discord_id) DO UPDATE SET access_token = excluded.access_token, "
                "refresh_token = excluded.refresh_token, expires_at = excluded.expires_at, scope = excluded.scope, "
                "updated_at = excluded.updated_at",
                (discord_id, access_token, refresh_token, expires_at, scope, time.time()),
            )

    def get_tokens(self, discord_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM tokens WHERE discord_id = ?", (discord_id,))
        return rows[0] if rows else None

    def all_token_rows(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM tokens")

    # -- single-use states (OAuth `state`, upload links): stored as hashes ------------------------

    def create_state(self, state_hash: str, purpose: str, discord_id: int, guild_id: int | None,
                     ttl_seconds: float) -> None:
        now = time.time()
        with self.transaction() as conn:
            conn.execute("DELETE FROM auth_states WHERE expires_at < ?", (now - 86400,))
            conn.execute(
                "INSERT INTO auth_states (state_hash, purpose, discord_id, guild_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (state_hash, purpose, discord_id, guild_id, now, now + ttl_seconds))

    def peek_state(self, state_hash: str, purpose: str) -> tuple[str, dict[str, Any] | None]:
        """Check a state without spending it: 'ok', 'unknown', 'expired' or 'used'."""
        rows = self.query("SELECT * FROM auth_states WHERE state_hash = ? AND purpose = ?", (state_hash, purpose))
        if not rows:
            return "unknown", None
        row = rows[0]
        if row["used_at"] is not None:
            return "used", row
        if row["expires_at"] < time.time():
            return "expired", row
        return "ok", row

    def spend_state(self, state_hash: str, purpose: str) -> tuple[str, dict[str, Any] | None]:
        """Atomically use a state once: 'ok' for the first caller only."""
        with self.transaction() as conn:
            status, row = self.peek_state(state_hash, purpose)
            if status == "ok":
                conn.execute("UPDATE auth_states SET used_at = ? WHERE state_hash = ?", (time.time(), state_hash))
        return status, row

    # -- guilds ------------------------------------------------------------------------------------

    def set_guild_members(self, guild_id: int, discord_ids: Iterable[int]) -> None:
        """Replace the known members of a guild with those of `discord_ids` that we hold data on."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM guild_members WHERE guild_id = ?", (guild_id,))
            conn.executemany(
                "INSERT OR IGNORE INTO guild_members (guild_id, discord_id) "
                "SELECT ?, discord_id FROM users WHERE discord_id = ?", [(guild_id, uid) for uid in discord_ids])

    def add_guild_member(self, guild_id: int, discord_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO guild_members (guild_id, discord_id) "
                         "SELECT ?, discord_id FROM users WHERE discord_id = ?", (guild_id, discord_id))

    def remove_guild_member(self, guild_id: int, discord_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM guild_members WHERE guild_id = ? AND discord_id = ?", (guild_id, discord_id))

    def remove_guild(self, guild_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM guild_members WHERE guild_id = ?", (guild_id,))
            conn.execute("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))

    def visible_members(self, guild_id: int) -> list[int]:
        """Members of the guild who count in community features: not hidden, with some listening data."""
        rows = self.query(
            "SELECT gm.discord_id FROM guild_members gm JOIN users u ON u.discord_id = gm.discord_id "
            "WHERE gm.guild_id = ? AND u.hidden = 0 AND (EXISTS (SELECT 1 FROM plays p WHERE p.discord_id = u.discord_id) "
            "OR EXISTS (SELECT 1 FROM top_tracks t WHERE t.discord_id = u.discord_id)) ORDER BY gm.discord_id",
            (guild_id,))
        return [row["discord_id"] for row in rows]

    def guild_ids(self) -> list[int]:
        return [row["guild_id"] for row in self.query("SELECT DISTINCT guild_id FROM guild_members")]

    def get_guild_settings(self, guild_id: int) -> dict[str, Any]:
        rows = self.query("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return rows[0] if rows else {"guild_id": guild_id, "community_enabled": 1, "digest_channel_id": None,
                                     "last_digest_at": None}

    def update_guild_settings(self, guild_id: int, **changes: Any) -> dict[str, Any]:
        allowed = {"community_enabled", "digest_channel_id", "last_digest_at"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        merged = {**self.get_guild_settings(guild_id), **changes}
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO guild_settings (guild_id, community_enabled, digest_channel_id, last_digest_at) "
                "VALUES (:guild_id, :community_enabled, :digest_channel_id, :last_digest_at) "
                "ON CONFLICT(guild_id) DO UPDATE SET community_enabled = excluded.community_enabled, "
                "digest_channel_id = excluded.digest_channel_id, last_digest_at = excluded.last_digest_at", merged)
        return merged

    def digest_guilds(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM guild_settings WHERE digest_channel_id IS NOT NULL AND community_enabled = 1")

    # -- catalogue ---------------------------------------------------------------------------------

    def upsert_artists(self, artists: Sequence[dict[str, Any]]) -> None:
        """Insert or refresh artists; `genres` a list, `fetched_at` set only when full details were fetched."""
        rows = [(a["artist_id"], a["name"], artist_key(a["name"]), json.dumps(a.get("genres") or []),
                 a.get("image_url"), a.get("fetched_at")) for a in artists]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO artists (artist_id, name, name_key, genres, image_url, fetched_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(artist_id) DO UPDATE SET name = excluded.name, name_key = excluded.name_key, "
                "genres = CASE WHEN excluded.fetched_at IS NOT NULL THEN excluded.genres ELSE genres END, "
                "image_url = COALESCE(excluded.image_url, image_url), "
                "fetched_at = COALESCE(excluded.fetched_at, fetched_at)", rows)

    def upsert_tracks(self, tracks: Sequence[dict[str, Any]]) -> None:
        rows = [(t["track_id"], t["name"], track_key(t["artist_name"], t["name"]), t.get("artist_id"),
                 t["artist_name"], t.get("album_id"), t.get("album_name"), t.get("image_url"), t.get("duration_ms"))
                for t in tracks]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name, album_id, album_name, image_url, "
                "duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(track_id) DO UPDATE SET "
                "name = excluded.name, name_key = excluded.name_key, artist_id = COALESCE(excluded.artist_id, artist_id), "
                "artist_name = excluded.artist_name, album_id = COALESCE(excluded.album_id, album_id), "
                "album_name = COALESCE(excluded.album_name, album_name), image_url = COALESCE(excluded.image_url, image_url), "
                "duration_ms = COALESCE(excluded.duration_ms, duration_ms)", rows)

    def artists_needing_details(self, artist_ids: Iterable[str], stale_before: float) -> list[str]:
        ids = [a for a in dict.fromkeys(artist_ids) if not a.startswith("local:")]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        fresh = {row["artist_id"] for row in self.query(
            f"SELECT artist_id FROM artists WHERE artist_id IN ({marks}) AND fetched_at >= ?", [*ids, stale_before])}
        return [a for a in ids if a not in fresh]

    def tracks_by_key(self, keys: Iterable[str], columns: str = "*") -> dict[str, dict[str, Any]]:
        """One display row per track key, preferring a real Spotify track over a local one.

        `columns` (a fixed SQL column list, never user input) narrows the rows when only a few are needed.
        """
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        select = columns if columns == "*" else f"name_key, {columns}"
        for chunk in _chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(
                    f"SELECT {select} FROM tracks WHERE name_key IN ({marks}) ORDER BY track_id LIKE 'local:%'", chunk):
                found.setdefault(row["name_key"], row)
        return found

    def artists_by_key(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(
                    f"SELECT * FROM artists WHERE name_key IN ({marks}) ORDER BY artist_id LIKE 'local:%'", chunk):
                found.setdefault(row["name_key"], row)
        return found

    def catalogue_for_artists(self, artist_keys: Iterable[str], limit_per_artist: int = 30) -> dict[str, list[str]]:
        """Track keys we know for each artist key (from anyone's data and catalogue look-ups)."""
        keys = list(dict.fromkeys(artist_keys))
        result: dict[str, list[str]] = {k: [] for k in keys}
        for chunk in _chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(
                    f"SELECT DISTINCT a.name_key AS artist, t.name_key AS track FROM tracks t "
                    f"JOIN artists a ON a.artist_id = t.artist_id WHERE a.name_key IN ({marks})", chunk):
                if len(result[row["artist"]]) < limit_per_artist:
                    result[row["artist"]].append(row["track"])
        return result

    # -- listening data ----------------------------------------------------------------------------

    def store_sync(self, discord_id: int, *, artists: Sequence[dict[str, Any]], tracks: Sequence[dict[str, Any]],
                   top_tracks: dict[str, list[str]], top_artists: dict[str, list[str]],
                   plays: Sequence[tuple[int, str, int | None]], recent_cursor_ms: int | None,
                   synced_at: float) -> int:
        """Write everything one sync fetched for a member in ONE transaction; return plays added."""
        with self.transaction() as conn:
            self.upsert_artists(artists)
            self.upsert_tracks(tracks)
            for time_range, ids in top_tracks.items():
                self._replace_top(conn, "top_tracks", "track_id", discord_id, time_range, ids)
            for time_range, ids in top_artists.items():
                self._replace_top(conn, "top_artists", "artist_id", discord_id, time_range, ids)
            added = self.insert_plays(discord_id, [(at, tid, ms, "spotify", 0) for at, tid, ms in plays])
            conn.execute(
                "UPDATE users SET last_synced_at = ?, recent_cursor_ms = MAX(COALESCE(recent_cursor_ms, 0), ?) "
                "WHERE discord_id = ?", (synced_at, recent_cursor_ms or 0, discord_id))
        return added

    @staticmethod
    def _replace_top(conn: sqlite3.Connection, table: str, column: str, discord_id: int, time_range: str,
                     ids: Sequence[str]) -> None:
        if time_range not in TIME_RANGES:
            raise ValueError(f"unknown time range {time_range!r}")
        conn.execute(f"DELETE FROM {table} WHERE discord_id = ? AND time_range = ?", (discord_id, time_range))
        conn.executemany(f"INSERT INTO {table} (discord_id, time_range, rank, {column}) VALUES (?, ?, ?, ?)",
                         [(discord_id, time_range, rank, item) for rank, item in enumerate(ids, start=1)])

    def insert_plays(self, discord_id: int, plays: Sequence[tuple[int, str, int | None, str, int]]) -> int:
        """Add plays `(played_at_ms, track_id, ms_played, source, skipped)`; a play already stored is ignored."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO plays (discord_id, played_at, track_id, ms_played, source, skipped) "
                "VALUES (?, ?, ?, ?, ?, ?)", [(discord_id, *play) for play in plays])
            return conn.total_changes - before

    def load_profile(self, discord_id: int, recent_limit: int = 50) -> dict[str, Any]:
        """Everything a profile shows: the user row, tops per range with details, recent plays, totals."""
        user = self.get_user(discord_id)
        top_tracks = {r: [] for r in TIME_RANGES}
        for row in self.query(
                "SELECT tt.time_range, tt.rank, t.* FROM top_tracks tt JOIN tracks t ON t.track_id = tt.track_id "
                "WHERE tt.discord_id = ? ORDER BY tt.time_range, tt.rank", (discord_id,)):
            top_tracks[row.pop("time_range")].append(row)
        top_artists = {r: [] for r in TIME_RANGES}
        for row in self.query(
                "SELECT ta.time_range, ta.rank, a.* FROM top_artists ta JOIN artists a ON a.artist_id = ta.artist_id "
                "WHERE ta.discord_id = ? ORDER BY ta.time_range, ta.rank", (discord_id,)):
            row["genres"] = json.loads(row["genres"])
            top_artists[row.pop("time_range")].append(row)
        recent = self.query(
            "SELECT p.played_at, p.ms_played, p.source, p.skipped, t.* FROM plays p JOIN tracks t ON t.track_id = p.track_id "
            "WHERE p.discord_id = ? ORDER BY p.played_at DESC LIMIT ?", (discord_id, recent_limit))
        totals = self.query(
            "SELECT COUNT(*) AS plays, MIN(played_at) AS first_played_at, SUM(source = 'import') AS imported "
            "FROM plays WHERE discord_id = ? AND skipped = 0", (discord_id,))[0]
        return {"user": user, "top_tracks": top_tracks, "top_artists": top_artists, "recent": recent, "totals": totals}

    # -- feedback and saved recommendations -----------------------------------------------------------

    def set_feedback(self, discord_id: int, item_kind: str, item_key: str, value: int) -> None:
        self.ensure_user(discord_id)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO feedback (discord_id, item_kind, item_key, value, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(discord_id, item_kind, item_key) DO UPDATE SET value = excluded.value, "
                "created_at = excluded.created_at", (discord_id, item_kind, item_key, value, time.time()))

    def get_feedback(self, discord_id: int) -> dict[str, int]:
        return {row["item_key"]: row["value"] for row in self.query(
            "SELECT item_key, value FROM feedback WHERE discord_id = ?", (discord_id,))}

    def save_last_recommendations(self, discord_id: int, payload: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO saved_recommendations (discord_id, payload, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(discord_id) DO UPDATE SET payload = excluded.payload, created_at = excluded.created_at",
                (discord_id, json.dumps(payload), time.time()))

    def last_recommendations(self, discord_id: int) -> dict[str, Any] | None:
        value = self.scalar("SELECT payload FROM saved_recommendations WHERE discord_id = ?", (discord_id,))
        return json.loads(value) if value else None

    # -- imports ---------------------------------------------------------------------------------------

    def record_import(self, discord_id: int, source_name: str, plays_added: int, entries_skipped: int) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO imports (discord_id, created_at, source_name, plays_added, entries_skipped) "
                "VALUES (?, ?, ?, ?, ?)", (discord_id, time.time(), source_name, plays_added, entries_skipped))

    def undo_imports(self, discord_id: int) -> int:
        """Remove one member's imported plays (synced plays stay); return how many."""
        with self.transaction() as conn:
            removed = conn.execute("DELETE FROM plays WHERE discord_id = ? AND source = 'import'", (discord_id,))
            conn.execute("DELETE FROM imports WHERE discord_id = ?", (discord_id,))
            return removed.rowcount

    # -- app state, counts ----------------------------------------------------------------------------

    def set_state(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO app_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                         "value = excluded.value", (key, json.dumps(value)))

    def get_state(self, key: str, default: Any = None) -> Any:
        value = self.scalar("SELECT value FROM app_state WHERE key = ?", (key,))
        return default if value is None else json.loads(value)

    def last_sync_at(self) -> float | None:
        """When any sync last finished: the scheduled run, or one member's (/sync, the first after linking)."""
        scheduled = self.get_state("last_sync_at")
        member = self.scalar("SELECT MAX(last_synced_at) FROM users")
        times = [t for t in (scheduled, member) if isinstance(t, int | float)]
        return max(times, default=None)

    def counts(self) -> dict[str, int]:
        """Totals for status pages: no personal data."""
        return {
            "linked_users": self.scalar("SELECT COUNT(*) FROM users WHERE link_state = 'linked'"),
            "users_with_data": self.scalar("SELECT COUNT(DISTINCT discord_id) FROM plays"),
            "plays": self.scalar("SELECT COUNT(*) FROM plays"),
            "tracks": self.scalar("SELECT COUNT(*) FROM tracks"),
            "artists": self.scalar("SELECT COUNT(*) FROM artists"),
        }

    # -- privacy: export and erasure (GDPR) ----------------------------------------------------------------

    def export_user(self, discord_id: int) -> dict[str, Any]:
        """Everything held on one member, as plain data (tokens are omitted: they are secrets, not data)."""
        export: dict[str, Any] = {}
        for table, column in USER_TABLES:
            if table == "tokens":
                linked = self.scalar("SELECT COUNT(*) FROM tokens WHERE discord_id = ?", (discord_id,))
                export["spotify_link"] = {"linked": bool(linked), "tokens": "kept encrypted, not included"}
                continue
            rows = self.query(f"SELECT * FROM {table} WHERE {column} = ?", (discord_id,))
            if table == "auth_states":
                rows = [{k: v for k, v in row.items() if k != "state_hash"} for row in rows]
            export[table] = rows
        track_ids = {row["track_id"] for key in ("plays", "top_tracks") for row in export.get(key, [])}
        export["tracks"] = list(self.tracks_by_id(track_ids).values())
        return export

    def tracks_by_id(self, track_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(track_ids)
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(f"SELECT * FROM tracks WHERE track_id IN ({marks})", chunk):
                found[row["track_id"]] = row
        return found

    def erase_user(self, discord_id: int) -> None:
        """Delete every row held on one member, in every table, in one transaction."""
        with self.transaction() as conn:
            for table, column in USER_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (discord_id,))
            conn.execute("DELETE FROM users WHERE discord_id = ?", (discord_id,))


def _forget_unfinished_playlists(conn: sqlite3.Connection, discord_id: int) -> None:
    """Drop the half-made playlists remembered in the member's saved recommendations (utils.music_recommend)."""
    conn.execute("UPDATE saved_recommendations SET payload = json_remove(payload, ?) WHERE discord_id = ? "
                 "AND json_valid(payload)", (f"$.{UNFINISHED_PLAYLISTS}", discord_id))


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
