"""Last.fm and ListenBrainz in storage: each member's links, their history pages, and the Spotify song matches.

One listening history per member: a play reaching us from two services (a Spotify recent play and the Last.fm
scrobble of it, a scrobble also sent to ListenBrainz, an imported play) is stored once. Services stamp a play at
different moments (Last.fm when it started, Spotify when it ended), so two plays of the same song (by key) from
different services within `CROSS_SOURCE_WINDOW_MS` are one play, each stored play standing for at most one
arriving play, nearest first: a song played three times in a row is still three plays.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from storage.connection import Connections, chunks
from storage.keys import artist_key, local_id, track_key

CROSS_SOURCE_WINDOW_MS = 10 * 60_000
LISTENING_SOURCES = ("lastfm", "listenbrainz")
_ALL_SOURCES = ("spotify", "import", *LISTENING_SOURCES)

# (played_at_ms, track_id, name_key)
Candidate = tuple[int, str, str]


class AccountTaken(Exception):
    """That service account is already linked to another Discord member."""


class LinkGone(Exception):
    """The link a walk was filling is gone (unlinked, forgotten) or now names another account."""


class SourceStore(Connections):
    """Links to Last.fm / ListenBrainz, their history pages, and remembered Spotify searches."""

    # -- links ------------------------------------------------------------------------------------------

    def save_source_link(self, discord_id: int, source: str, account_name: str, session_key: bytes | None) -> bool:
        """Link (or link again) a member's account; True when it is new or another account than before (the
        history starts over). Raises AccountTaken when another member has linked that account."""
        key = account_name.casefold()
        now = time.time()
        with self.transaction() as conn:
            owner = conn.execute("SELECT discord_id FROM source_links WHERE source = ? AND account_key = ?",
                                 (source, key)).fetchone()
            if owner is not None and owner[0] != discord_id:
                raise AccountTaken(account_name)
            before = conn.execute("SELECT account_key FROM source_links WHERE discord_id = ? AND source = ?",
                                  (discord_id, source)).fetchone()
            if before is not None and before[0] == key:  # the same account again: keep where the history stands
                conn.execute("UPDATE source_links SET session_key = ?, account_name = ?, problem = NULL, "
                             "status = CASE WHEN status = 'broken' THEN 'current' ELSE status END "
                             "WHERE discord_id = ? AND source = ?", (session_key, account_name, discord_id, source))
                return False
            conn.execute("DELETE FROM source_links WHERE discord_id = ? AND source = ?", (discord_id, source))
            conn.execute(
                "INSERT INTO source_links (discord_id, source, account_name, account_key, session_key, linked_at, "
                "status) VALUES (?, ?, ?, ?, ?, ?, 'backfill')", (discord_id, source, account_name, key, session_key, now))
            return True

    def source_link(self, discord_id: int, source: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM source_links WHERE discord_id = ? AND source = ?", (discord_id, source))
        return rows[0] if rows else None

    def source_links(self, discord_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM source_links WHERE discord_id = ? ORDER BY source", (discord_id,))

    def all_source_links(self) -> list[dict[str, Any]]:
        """Every link that can sync (not broken), least recently synced first."""
        return self.query("SELECT * FROM source_links WHERE status != 'broken' "
                          "ORDER BY COALESCE(last_synced_at, 0), discord_id")

    def source_link_summary(self) -> dict[str, dict[str, Any]]:
        """Per service: how many links, how many still bringing in their history or broken, and the last sync."""
        rows = self.query("SELECT source, COUNT(*) AS links, SUM(CASE WHEN status = 'backfill' THEN 1 ELSE 0 END) "
                          "AS backfilling, SUM(CASE WHEN status = 'broken' THEN 1 ELSE 0 END) AS broken, "
                          "MAX(last_synced_at) AS last_synced_at "
                          "FROM source_links GROUP BY source")
        return {row["source"]: row for row in rows}

    def claim_walk(self, discord_id: int, source: str, holder: str, until: float, now: float) -> bool:
        """Take (or keep) the link's walk for `holder` until `until`, unless another process holds it; True if so."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE source_links SET walk_holder = ?, walk_until = ? WHERE discord_id = ? AND source = ? "
                "AND (walk_holder IS NULL OR walk_holder = ? OR walk_until IS NULL OR walk_until < ?)",
                (holder, until, discord_id, source, holder, now))
            return cursor.rowcount > 0

    def release_walk(self, discord_id: int, source: str, holder: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE source_links SET walk_holder = NULL, walk_until = NULL WHERE discord_id = ? "
                         "AND source = ? AND walk_holder = ?", (discord_id, source, holder))

    def remove_source_link(self, discord_id: int, source: str) -> bool:
        """Forget the link (and its session key); the plays it brought stay until the member asks to forget."""
        with self.transaction() as conn:
            gone = conn.execute("DELETE FROM source_links WHERE discord_id = ? AND source = ?", (discord_id, source))
            return gone.rowcount > 0

    def update_source_link(self, discord_id: int, source: str, **values: Any) -> None:
        allowed = {"status", "problem", "last_synced_at", "plays_expected", "backfill_cursor", "newest_seen"}
        if not values or not set(values) <= allowed:
            raise ValueError(f"unknown link fields {sorted(set(values) - allowed)}")
        sets = ", ".join(f"{name} = ?" for name in values)
        with self.transaction() as conn:
            conn.execute(f"UPDATE source_links SET {sets} WHERE discord_id = ? AND source = ?",
                         (*values.values(), discord_id, source))

    # -- history pages ----------------------------------------------------------------------------------

    def store_source_page(self, discord_id: int, source: str, plays: Sequence[tuple[Any, ...]], *,
                          cursor: int | None = None, expected: int | None = None, account: str | None = None) -> int:
        """Store one page of plays `(uts, artist, title, album, spotify_id)` and where the walk stands, in ONE
        transaction (so a restart resumes exactly after the last stored page). Returns plays added.

        Raises LinkGone (keeping nothing) when the link was removed, or now names another account than `account`,
        while the page was on its way."""
        with self.transaction() as conn:
            link = conn.execute("SELECT account_key FROM source_links WHERE discord_id = ? AND source = ?",
                                (discord_id, source)).fetchone()
            if link is None or (account is not None and link[0] != account.casefold()):
                raise LinkGone(source)
            rows = self._page_rows(conn, plays)
            kept = cross_source_filter(conn, discord_id, source, rows)
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO plays (discord_id, played_at, track_id, ms_played, source, skipped) "
                             "VALUES (?, ?, ?, NULL, ?, 0)", [(discord_id, at, tid, source) for at, tid, _key in sorted(kept)])
            added = conn.total_changes - before
            newest = max((int(p[0]) for p in plays), default=None)
            conn.execute(
                "UPDATE source_links SET plays_fetched = plays_fetched + ?, plays_added = plays_added + ?, "
                "backfill_cursor = COALESCE(?, backfill_cursor), plays_expected = COALESCE(?, plays_expected), "
                "newest_seen = CASE WHEN newest_seen IS NULL OR newest_seen < ? THEN ? ELSE newest_seen END "
                "WHERE discord_id = ? AND source = ?",
                (len(plays), added, cursor, expected, newest, newest, discord_id, source))
        return added

    @staticmethod
    def _page_rows(conn: sqlite3.Connection, plays: Sequence[tuple[Any, ...]]) -> list[Candidate]:
        """Each play on a track row: the Spotify track when one with that key is known (or the service names
        one), else a local track made from the names (created here when new)."""
        keys = [track_key(p[1], p[2]) for p in plays]
        unique = list(dict.fromkeys(keys))
        known: dict[str, str] = {}
        for chunk in chunks(unique, 500):
            marks = ",".join("?" * len(chunk))
            for name_key, track_id in conn.execute(
                    f"SELECT name_key, track_id FROM tracks WHERE name_key IN ({marks}) "
                    f"ORDER BY track_id LIKE 'local:%' DESC", chunk):
                known[name_key] = track_id  # ordered so a Spotify track, when there is one, is written last
        new_tracks: dict[str, tuple[Any, ...]] = {}
        new_artists: dict[str, tuple[str, str, str]] = {}
        rows: list[Candidate] = []
        for play, key in zip(plays, keys, strict=True):
            track_id = known.get(key)
            if track_id is None:
                spotify_id = play[4] if len(play) > 4 else None
                track_id = spotify_id or local_id(key)
                known[key] = track_id
                artist_id = local_id(artist_key(play[1]))
                new_artists.setdefault(artist_id, (artist_id, play[1], artist_key(play[1])))
                new_tracks[track_id] = (track_id, play[2], key, artist_id, play[1], play[3])
            rows.append((int(play[0]) * 1000, track_id, key))
        if new_artists:
            conn.executemany("INSERT INTO artists (artist_id, name, name_key) VALUES (?, ?, ?) "
                             "ON CONFLICT (artist_id) DO NOTHING", list(new_artists.values()))
        if new_tracks:
            conn.executemany("INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name, album_name) "
                             "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (track_id) DO NOTHING", list(new_tracks.values()))
        return rows

    # -- Spotify matches for songs known only by name ----------------------------------------------------

    def song_matches(self, keys: Iterable[str]) -> dict[str, str | None]:
        """The remembered Spotify search answer per song key (None: searched, no match); unsearched keys absent."""
        found: dict[str, str | None] = {}
        for chunk in chunks(list(dict.fromkeys(keys)), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(f"SELECT name_key, track_id FROM song_matches WHERE name_key IN ({marks})", chunk):
                found[row["name_key"]] = row["track_id"]
        return found

    def save_song_match(self, name_key: str, track_id: str | None) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO song_matches (name_key, track_id, searched_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (name_key) DO UPDATE SET track_id = excluded.track_id, "
                         "searched_at = excluded.searched_at", (name_key, track_id, time.time()))


def cross_source_filter(conn: sqlite3.Connection, discord_id: int, source: str, rows: Sequence[Candidate],
                        against: Sequence[str] | None = None) -> list[Candidate]:
    """The rows that are not a play already stored from another service (see the module docstring)."""
    if not rows:
        return []
    others = [s for s in (against or _ALL_SOURCES) if s != source]
    low = min(r[0] for r in rows) - CROSS_SOURCE_WINDOW_MS
    high = max(r[0] for r in rows) + CROSS_SOURCE_WINDOW_MS
    marks = ",".join("?" * len(others))
    stored: dict[str, list[int]] = {}
    for played_at, name_key in conn.execute(
            f"SELECT p.played_at, t.name_key FROM plays p JOIN tracks t ON t.track_id = p.track_id "
            f"WHERE p.discord_id = ? AND p.played_at BETWEEN ? AND ? AND p.source IN ({marks})",
            (discord_id, low, high, *others)):
        stored.setdefault(name_key, []).append(played_at)
    if not stored:
        return list(rows)
    used: set[tuple[str, int]] = set()
    kept: list[Candidate] = []
    for row in sorted(rows):
        times = stored.get(row[2])
        match = None
        if times:
            near = [t for t in times if abs(t - row[0]) <= CROSS_SOURCE_WINDOW_MS and (row[2], t) not in used]
            match = min(near, key=lambda t: abs(t - row[0]), default=None)
        if match is None:
            kept.append(row)
        else:
            used.add((row[2], match))
    return kept
