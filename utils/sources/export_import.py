"""Storing imported listening history: one transaction per import, undo, and single-use upload links.

Parsing lives in utils.sources.export_reader; this module turns parsed plays into rows of the same listening
tables the sync fills (marked source='import'), so every community feature counts imported members too.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from database import Database
from storage.keys import local_id, track_key
from storage.sources import LISTENING_SOURCES, cross_source_filter
from utils.errors import LinkExpired
from utils.events import ChangeListeners
from utils.logger import get_logger
from utils.models import ImportSummary
from utils.sources.export_reader import SKIP_THRESHOLD_MS, ImportLimits, ParsedHistory, TrackInfo, parse_export
from utils.sources.listenbrainz_export import FORMAT_LISTENBRAINZ

log = get_logger("import")

UPLOAD_PURPOSE = "upload"
UPLOAD_LINK_TTL_SECONDS = 30 * 60
# Plays of the same song this close together, reaching us two ways (account data is to the minute, the
# extended history to the second, a sync to the millisecond), are one play.
SAME_PLAY_WINDOW_MS = 60_000
_MINUTE_MS = 60_000
_ORIGIN_STORED = -1

PlayRow = tuple[int, str, int, str, int]
Move = tuple[int, str, str]  # (played_at, stored track id, track id it should be)


def hash_token(token: str) -> str:
    """Only this hash of an upload link's secret is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class UploadLink:
    """Who an upload link belongs to, and until when it works."""

    discord_id: int
    guild_id: int | None
    expires_at: float
    display_name: str | None


class HistoryImporter:
    """Imports Spotify listening-history exports for members, linked to Spotify or not."""

    def __init__(self, db: Database, settings: Any, *, limits: ImportLimits | None = None,
                 link_ttl_seconds: float = UPLOAD_LINK_TTL_SECONDS) -> None:
        self.db = db
        self.settings = settings
        self.limits = limits or ImportLimits()
        self.link_ttl_seconds = link_ttl_seconds
        # called with the member id after their stored plays changed (the music service drops cached models)
        self.on_change = ChangeListeners("import")
        # called with the member id after they took imported plays back (`undo`): unlike new plays, models built on
        # them must stop answering at once, not go on until a background refit
        self.on_removed = ChangeListeners("import removed")

    # -- importing --------------------------------------------------------------------------------------

    async def import_file(self, discord_id: int, display_name: str | None, fileobj: IO[bytes], filename: str, *,
                          guild_id: int | None = None) -> ImportSummary:
        """Import a zip or JSON export; raises BadImportFile (nothing stored) when it can't be used."""
        parsed = await asyncio.to_thread(parse_export, fileobj, filename, self.limits)
        summary = await self.db.run_write(self._store, discord_id, display_name, guild_id, parsed, filename, None)
        self.on_change.notify(discord_id)
        return summary

    async def import_bytes(self, discord_id: int, display_name: str | None, data: bytes, filename: str, *,
                           guild_id: int | None = None) -> ImportSummary:
        return await self.import_file(discord_id, display_name, io.BytesIO(data), filename, guild_id=guild_id)

    def import_file_blocking(self, discord_id: int, display_name: str | None, fileobj: IO[bytes], filename: str, *,
                             guild_id: int | None = None) -> ImportSummary:
        """The same as `import_file`, for threads that may block (the web server, scripts)."""
        parsed = parse_export(fileobj, filename, self.limits)
        summary = self._store(discord_id, display_name, guild_id, parsed, filename, None)
        self.on_change.notify(discord_id)
        return summary

    async def undo(self, discord_id: int) -> int:
        """Remove every imported play of a member (synced plays stay); return how many were removed."""
        removed = await self.db.run_write(self.db.undo_imports, discord_id)
        if removed:
            self.on_removed.notify(discord_id)
            self.on_change.notify(discord_id)
        return removed

    # -- upload links ------------------------------------------------------------------------------------

    def create_upload_link(self, discord_id: int, guild_id: int | None, display_name: str | None = None) -> str:
        """A private page address where this member can upload a big export: single use, 30 minutes (blocking)."""
        token = secrets.token_urlsafe(32)
        self.db.ensure_user(discord_id, display_name)
        self.db.create_state(hash_token(token), UPLOAD_PURPOSE, discord_id, guild_id, self.link_ttl_seconds)
        return f"{self.settings.public_base_url}/import/{token}"

    def check_upload_link(self, token: str) -> UploadLink:
        """Who the link belongs to, without using it up; raises LinkExpired (blocking)."""
        status, row = self.db.peek_state(hash_token(token), UPLOAD_PURPOSE) if token else ("unknown", None)
        if status != "ok" or row is None:
            raise LinkExpired()
        user = self.db.get_user(row["discord_id"]) or {}
        return UploadLink(row["discord_id"], row["guild_id"], row["expires_at"], user.get("display_name"))

    def import_upload(self, token: str, fileobj: IO[bytes], filename: str) -> ImportSummary:
        """Import through an upload link (blocking). The link is used up only when the import succeeds."""
        link = self.check_upload_link(token)
        parsed = parse_export(fileobj, filename, self.limits)
        summary = self._store(link.discord_id, None, link.guild_id, parsed, filename, hash_token(token))
        self.on_change.notify(link.discord_id)
        return summary

    # -- storing -----------------------------------------------------------------------------------------

    def _store(self, discord_id: int, display_name: str | None, guild_id: int | None, parsed: ParsedHistory,
               filename: str, token_hash: str | None) -> ImportSummary:
        """Write one import in ONE transaction (and spend the upload link in it, so both happen or neither)."""
        db = self.db
        with db.transaction() as conn:
            if token_hash is not None:
                status, _row = db.spend_state(token_hash, UPLOAD_PURPOSE)
                if status != "ok":
                    raise LinkExpired()
            db.ensure_user(discord_id, display_name)
            if guild_id is not None:
                db.add_guild_member(guild_id, discord_id)
            rows, moves = self._new_plays(discord_id, parsed)
            rows = _not_scrobbled(conn, discord_id, rows, parsed.tracks, listens=FORMAT_LISTENBRAINZ in parsed.formats)
            tracks = _unique_tracks(parsed.tracks)
            known_tracks = _existing(conn, "tracks", "track_id", [t.track_id for t in tracks])
            new_tracks = [t for t in tracks if t.track_id not in known_tracks]
            artist_names = {t.artist_id: t.artist_name for t in new_tracks}
            known_artists = _existing(conn, "artists", "artist_id", list(artist_names))
            db.upsert_artists([{"artist_id": aid, "name": name} for aid, name in artist_names.items()
                               if aid not in known_artists])
            db.upsert_tracks([{"track_id": t.track_id, "name": t.name, "artist_id": t.artist_id,
                               "artist_name": t.artist_name, "album_name": t.album_name} for t in new_tracks])
            added = db.insert_plays(discord_id, rows)
            if moves:
                conn.executemany(f"UPDATE plays SET track_id = ? WHERE discord_id = ? AND played_at = ? "
                                 f"AND track_id = ? AND {_NOT_STORED_THERE}",
                                 [(new, discord_id, at, old, new) for at, old, new in moves])
            if added:  # a file imported again leaves no trace at all
                db.record_import(discord_id, _source_name(filename), added, parsed.entries_broken)
        skips = sum(1 for row in rows if row[4])
        times = [play[0] for play in parsed.plays]
        summary = _summary(parsed, added=added, already=len(parsed.plays) - added, skips=skips,
                           first_ms=min(times), last_ms=max(times))
        log.info("Imported history for member %s: %s plays added, %s already there, %s broken entries, %s files",
                 discord_id, added, summary.plays_already_there, parsed.entries_broken, len(parsed.files_read))
        return summary

    def _new_plays(self, discord_id: int, parsed: ParsedHistory) -> tuple[list[PlayRow], list[Move]]:
        """Rows `(played_at, track_id, ms_played, 'import', skipped)` for plays not stored yet (nor twice here),
        and the stored plays this file shows were put on the wrong song (see `_stored_index`), to move."""
        tracks = parsed.tracks
        first = min(p[0] for p in parsed.plays) - SAME_PLAY_WINDOW_MS
        last = max(p[0] for p in parsed.plays) + SAME_PLAY_WINDOW_MS
        index, merged = self._stored_index(discord_id, first, last)
        cross_format = len(parsed.formats) > 1
        seen: set[tuple[int, str]] = set()
        rows: list[PlayRow] = []
        moves: list[Move] = []
        for played_at, ms_played, track_index, exact in parsed.plays:
            track = tracks[track_index]
            key = (played_at, track.track_id)
            if key in seen:
                continue
            old_track = merged.get(played_at)
            if old_track is not None and old_track != track.track_id:
                del merged[played_at]  # that stored play is this one, on the song it really was
                moves.append((played_at, old_track, track.track_id))
                seen.add(key)
                continue
            if (index or cross_format) and _near(index, played_at, track.name_key, exact):
                continue
            seen.add(key)
            if cross_format:
                index.setdefault(played_at // _MINUTE_MS, []).append((played_at, track.name_key, exact))
            rows.append((played_at, track.track_id, ms_played, "import", int(ms_played < SKIP_THRESHOLD_MS)))
        return rows, moves

    def _stored_index(self, discord_id: int, first: int, last: int) -> tuple[dict[int, list[tuple[int, str, int]]],
                                                                             dict[int, str]]:
        """The member's stored plays in a time span, by minute, to recognise the same play arriving another way;
        and, by time, those on an old merged song: before migration 3, names outside ASCII were keyed as "", so
        two songs such as 群青 and 夜に駆ける by one artist became one local song, whose id no longer fits its key."""
        index: dict[int, list[tuple[int, str, int]]] = {}
        merged: dict[int, str] = {}
        for played_at, name_key, track_id in self.db.conn.execute(
                "SELECT p.played_at, t.name_key, p.track_id FROM plays p JOIN tracks t ON t.track_id = p.track_id "
                "WHERE p.discord_id = ? AND p.played_at BETWEEN ? AND ?", (discord_id, first, last)):
            index.setdefault(played_at // _MINUTE_MS, []).append((played_at, name_key, _ORIGIN_STORED))
            if track_id.startswith("local:") and track_id != local_id(name_key):
                merged[played_at] = track_id
        return index, merged


def _not_scrobbled(conn: Any, discord_id: int, rows: list[PlayRow], tracks: Sequence[TrackInfo], *,
                   listens: bool = False) -> list[PlayRow]:
    """The rows Last.fm or ListenBrainz have not brought already (one listening history per member). Listens from
    a ListenBrainz export are stamped when they started, so they are matched to Spotify's plays the same way."""
    keys = {t.track_id: t.name_key for t in tracks}
    against = ("spotify", *LISTENING_SOURCES) if listens else LISTENING_SOURCES
    kept = cross_source_filter(conn, discord_id, "import", [(r[0], r[1], keys.get(r[1], r[1])) for r in rows],
                               against=against)
    if len(kept) == len(rows):
        return rows
    spared = {(at, tid) for at, tid, _key in kept}
    return [row for row in rows if (row[0], row[1]) in spared]


# Moving a play to another track skips one already stored there (as SQLite's UPDATE OR IGNORE would, portably).
_NOT_STORED_THERE = ("NOT EXISTS (SELECT 1 FROM plays same WHERE same.discord_id = plays.discord_id "
                     "AND same.played_at = plays.played_at AND same.track_id = ?)")


def _near(index: dict[int, list[tuple[int, str, int]]], played_at: int, name_key: str, origin: int) -> bool:
    """True when the same song is already known within the window, from a stored play or another format."""
    minute = played_at // _MINUTE_MS
    for bucket in (minute - 1, minute, minute + 1):
        for other_at, other_key, other_origin in index.get(bucket, ()):
            if other_key == name_key and other_origin != origin and abs(other_at - played_at) < SAME_PLAY_WINDOW_MS:
                return True
    return False


def _unique_tracks(tracks: Sequence[TrackInfo]) -> list[TrackInfo]:
    by_id: dict[str, TrackInfo] = {}
    for track in tracks:
        by_id.setdefault(track.track_id, track)
    return list(by_id.values())


def _existing(conn: Any, table: str, column: str, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(row[0] for row in conn.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", chunk))
    return found


def _source_name(filename: str) -> str:
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    return name[:120] or "upload"


# -- the summary a member reads -----------------------------------------------------------------------------

def _summary(parsed: ParsedHistory, *, added: int, already: int, skips: int, first_ms: int,
             last_ms: int) -> ImportSummary:
    files = len(parsed.files_read)
    span = f"{_month(first_ms)} to {_month(last_ms)}" if _month(first_ms) != _month(last_ms) else _month(first_ms)
    if added:
        parts = [f"Imported {_n(added, 'play')} from {_n(files, 'file')}, covering {span}."]
        if skips:
            parts.append(f"{_n(skips, 'of them was', 'of them were')} shorter than 30 seconds, so "
                         f"{'it counts' if skips == 1 else 'they count'} as skips, not listens.")
        if already:
            parts.append(f"{_n(already, 'play was', 'plays were')} already here, so we didn't add "
                         f"{'it' if already == 1 else 'them'} again.")
    else:
        parts = [f"Everything in this file ({span}) was already here, so nothing new was added."]
    left_out = []
    if parsed.non_music:
        left_out.append(_n(parsed.non_music, "podcast or other non-music entry", "podcast or other non-music entries"))
    if parsed.entries_broken:
        left_out.append(_n(parsed.entries_broken, "damaged entry", "damaged entries")
                        + " we couldn't read")
    if left_out:
        parts.append("We left out " + " and ".join(left_out) + ".")
    return ImportSummary(plays_added=added, plays_already_there=already, skips=skips,
                         entries_skipped_broken=parsed.entries_broken, podcasts_ignored=parsed.non_music,
                         first_played_at=first_ms / 1000, last_played_at=last_ms / 1000, files_read=files,
                         message=" ".join(parts))


def _n(count: int, one: str, many: str | None = None) -> str:
    if many is None:
        many = one + "s"
    return f"{count:,} {one if count == 1 else many}"


def _month(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%B %Y")


# -- optional: resolving local tracks to Spotify ids -----------------------------------------------------------

def resolve_local_tracks(db: Database, client: Any, limit: int = 50) -> int:
    """Look up imported tracks known only by name on Spotify and move their plays to the real track (blocking).

    `client` is a SpotifyClient (its blocking `search(q, types, limit)`), for any linked member. Not on the
    import path: run it now and then, e.g. after a sync, within the app's rate limits. Returns tracks resolved.
    """
    candidates = db.query(
        "SELECT t.track_id, t.name, t.artist_name, t.name_key FROM tracks t WHERE t.track_id LIKE 'local:%' "
        "AND EXISTS (SELECT 1 FROM plays p WHERE p.track_id = t.track_id) ORDER BY t.track_id LIMIT ?", (limit,))
    resolved = 0
    for local in candidates:
        found = _search_match(client, local["name"], local["artist_name"], local["name_key"])
        if found is None:
            continue
        _move_plays(db, local["track_id"], found)
        resolved += 1
    return resolved


def _search_match(client: Any, name: str, artist: str, name_key: str) -> dict[str, Any] | None:
    answer = client.search(f'track:"{name}" artist:"{artist}"', types=("track",), limit=5) or {}
    for track in answer.get("tracks") or []:
        artists = [a for a in track.get("artists") or [] if a.get("id")]
        if track.get("id") and artists and any(
                track_key(a.get("name") or "", track.get("name") or "") == name_key for a in artists):
            return track
    return None


def _move_plays(db: Database, local_track_id: str, track: dict[str, Any]) -> None:
    """Point a local track's plays at the real one; a play already stored under it is kept once."""
    artists = [a for a in track.get("artists") or [] if a.get("id")]
    album = track.get("album") or {}
    with db.transaction() as conn:
        db.upsert_artists([{"artist_id": a["id"], "name": a.get("name") or "Unknown artist"} for a in artists])
        db.upsert_tracks([{"track_id": track["id"], "name": track.get("name") or "Unknown track",
                           "artist_id": artists[0]["id"], "artist_name": artists[0].get("name") or "Unknown artist",
                           "album_id": album.get("id"), "album_name": album.get("name"),
                           "duration_ms": track.get("duration_ms")}])
        conn.execute(f"UPDATE plays SET track_id = ? WHERE track_id = ? AND {_NOT_STORED_THERE}",
                     (track["id"], local_track_id, track["id"]))
        conn.execute("DELETE FROM plays WHERE track_id = ?", (local_track_id,))
        conn.execute("DELETE FROM tracks WHERE track_id = ?", (local_track_id,))

