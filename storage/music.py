"""The music we know (artists, tracks) and each member's listening: sync results, plays, feedback, saved lists."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from storage.connection import Connections, chunks
from storage.dialect import Dialect
from storage.keys import artist_key, track_key
from storage.sources import LISTENING_SOURCES, cross_source_filter

TIME_RANGES = ("short_term", "medium_term", "long_term")


class MusicStore(Connections):
    """Writes and reads of artists, tracks, top lists, plays, feedback, saved recommendations and imports."""


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
                 t["artist_name"], artist_key(t["artist_name"]), t.get("album_id"), t.get("album_name"),
                 t.get("image_url"), t.get("duration_ms")) for t in tracks]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name, artist_key, album_id, album_name, "
                "image_url, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(track_id) DO UPDATE SET "
                "name = excluded.name, name_key = excluded.name_key, artist_id = COALESCE(excluded.artist_id, artist_id), "
                "artist_name = excluded.artist_name, artist_key = excluded.artist_key, "
                "album_id = COALESCE(excluded.album_id, album_id), "
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
        for chunk in chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(
                    f"SELECT {select} FROM tracks WHERE name_key IN ({marks}) ORDER BY track_id LIKE 'local:%'", chunk):
                found.setdefault(row["name_key"], row)
        return found

    def artists_by_key(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(
                    f"SELECT * FROM artists WHERE name_key IN ({marks}) ORDER BY artist_id LIKE 'local:%'", chunk):
                found.setdefault(row["name_key"], row)
        return found

    def catalogue_for_artists(self, artist_keys: Iterable[str], limit_per_artist: int = 30) -> dict[str, list[str]]:
        """Track keys we know for each artist key (from anyone's data and catalogue look-ups)."""
        keys = list(dict.fromkeys(artist_keys))
        result: dict[str, list[str]] = {k: [] for k in keys}
        for chunk in chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for artist, track in self.rows(
                    f"SELECT DISTINCT a.name_key AS artist, t.name_key AS track FROM tracks t "
                    f"JOIN artists a ON a.artist_id = t.artist_id WHERE a.name_key IN ({marks})", chunk):
                tracks = result[artist]
                if len(tracks) < limit_per_artist:
                    tracks.append(track)
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
            added = self.insert_plays(discord_id, self._not_scrobbled(conn, discord_id, plays, tracks))
            conn.execute(
                "UPDATE users SET last_synced_at = ?, recent_cursor_ms = MAX(COALESCE(recent_cursor_ms, 0), ?) "
                "WHERE discord_id = ?", (synced_at, recent_cursor_ms or 0, discord_id))
        return added

    @staticmethod
    def _not_scrobbled(conn: sqlite3.Connection, discord_id: int, plays: Sequence[tuple[int, str, int | None]],
                       tracks: Sequence[dict[str, Any]]) -> list[tuple[int, str, int | None, str, int]]:
        """Spotify plays as rows, without those Last.fm or ListenBrainz already brought (one history per member)."""
        keys = {t["track_id"]: track_key(t["artist_name"], t["name"]) for t in tracks}
        kept = cross_source_filter(conn, discord_id, "spotify", [(at, tid, keys.get(tid, tid)) for at, tid, _ms in plays],
                                   against=LISTENING_SOURCES)
        spared = {(at, tid) for at, tid, _key in kept}
        return [(at, tid, ms, "spotify", 0) for at, tid, ms in plays if (at, tid) in spared]

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
            self.insert_ignoring(conn, "plays", ("discord_id", "played_at", "track_id", "ms_played", "source", "skipped"),
                                 [(discord_id, *play) for play in plays])
            return conn.total_changes - before

    def load_profile(self, discord_id: int, recent_limit: int = 50) -> dict[str, Any]:
        """Everything a profile shows: the user row, tops per range with details, recent plays, totals."""
        with self.reading():
            return self._load_profile(discord_id, recent_limit)

    def _load_profile(self, discord_id: int, recent_limit: int) -> dict[str, Any]:
        user, tracks, artists, recent, totals = self.queries(profile_statements(self.dialect, discord_id, recent_limit))
        top_artists = _by_time_range(*artists)
        # Each artist's genres are a JSON list: read as one list of lists, ten times quicker than one at a time.
        rows = [row for time_range in TIME_RANGES for row in top_artists[time_range]]
        for row, genres in zip(rows, json.loads(f"[{','.join(row['genres'] for row in rows)}]"), strict=True):
            row["genres"] = genres
        return {"user": _dicts(*user)[0] if user[1] else None, "top_tracks": _by_time_range(*tracks),
                "top_artists": top_artists, "recent": _dicts(*recent), "totals": _dicts(*totals)[0]}

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


# What a profile shows of each song and artist (utils/listening/reads.py track_item, artist_item): not the album,
# length or catalogue dates. Fewer columns to send and read: a tenth of a profile read on PostgreSQL.
PROFILE_TRACK_COLUMNS = ("track_id", "name", "name_key", "artist_name", "image_url")
PROFILE_ARTIST_COLUMNS = ("artist_id", "name", "name_key", "genres", "image_url")


def _dicts(names: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as dicts by column name (map rather than a loop in Python: a fifth quicker); a column past the names
    (see _by_time_range) is left out."""
    return list(map(dict, map(zip, itertools.repeat(names), rows)))


def _by_time_range(names: Sequence[str], rows: list[tuple[Any, ...]]) -> dict[str, list[dict[str, Any]]]:
    """Top-list rows whose last column is their time range, as dicts (without it) under each range."""
    grouped: dict[str, list[dict[str, Any]]] = {time_range: [] for time_range in TIME_RANGES}
    for values, row in zip(rows, _dicts(names[:-1], rows), strict=True):
        grouped[values[-1]].append(row)
    return grouped


def profile_statements(dialect: Dialect, discord_id: int, recent_limit: int) -> list[tuple[str, tuple[Any, ...]]]:
    """A profile's five reads: the user row, top tracks and top artists with their details (the time range last, see
    _by_time_range), recent plays, totals."""
    join = dialect.join_one  # one look-up per row (on PostgreSQL a plain join may hash a whole table for each read)
    track = ", ".join(f"t.{column}" for column in PROFILE_TRACK_COLUMNS)
    artist = ", ".join(f"a.{column}" for column in PROFILE_ARTIST_COLUMNS)
    return [
        ("SELECT * FROM users WHERE discord_id = ?", (discord_id,)),
        (f"SELECT tt.rank, {track}, tt.time_range FROM top_tracks tt " + join("tracks", "t", "track_id", "tt.track_id")
         + " WHERE tt.discord_id = ? ORDER BY tt.time_range, tt.rank", (discord_id,)),
        (f"SELECT ta.rank, {artist}, ta.time_range FROM top_artists ta "
         + join("artists", "a", "artist_id", "ta.artist_id") + " WHERE ta.discord_id = ? ORDER BY ta.time_range, ta.rank",
         (discord_id,)),
        (f"SELECT p.played_at, p.ms_played, p.source, p.skipped, {track} FROM plays p "
         + join("tracks", "t", "track_id", "p.track_id") + " WHERE p.discord_id = ? ORDER BY p.played_at DESC LIMIT ?",
         (discord_id, recent_limit)),
        ("SELECT COUNT(*) AS plays, MIN(played_at) AS first_played_at, SUM(CASE WHEN source = 'import' THEN 1 ELSE 0 END) "
         "AS imported FROM plays WHERE discord_id = ? AND skipped = 0", (discord_id,)),
    ]
