"""What a chart shows: a member's or a server's top albums, artists or tracks as chart squares.

Tracks and artists come from the music service's own top lists (so a chart and `/top` agree, privacy checks
included); albums are counted here from stored plays, with Spotify's top tracks filling in for members whose
plays are few (Spotify's own periods only).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from database import TIME_RANGES, Database
from utils.errors import NotEnoughData
from utils.images.service import ChartEntry, entries_from_items
from utils.listening.periods import check_time_range, window_ms

KINDS = ("albums", "artists", "tracks")
# An album is its Spotify id, or for imported plays without one, its name and artist.
_ALBUM_KEY = "COALESCE(t.album_id, lower(t.album_name) || ' - ' || lower(t.artist_name))"


def top_albums(db: Database, member_ids: Sequence[int], time_range: str, limit: int, now: float) -> list[ChartEntry]:
    """The most played albums of these members in the period, with their covers; plays say how many."""
    time_range = check_time_range(time_range)
    if not member_ids:
        return []
    since, until = window_ms(time_range, now)
    marks = ",".join("?" * len(member_ids))
    rows = db.query(
        f"SELECT {_ALBUM_KEY} AS album, MAX(t.album_name) AS name, MAX(t.artist_name) AS artist, "
        f"MAX(t.image_url) AS image_url, COUNT(*) AS plays FROM plays p JOIN tracks t ON t.track_id = p.track_id "
        f"WHERE p.discord_id IN ({marks}) AND p.skipped = 0 AND p.played_at >= ? AND p.played_at < ? "
        f"AND t.album_name IS NOT NULL AND t.album_name != '' GROUP BY album ORDER BY plays DESC, album LIMIT ?",
        [*member_ids, since, until, limit])
    entries = {row["album"]: ChartEntry(row["name"], row["artist"], int(row["plays"]), row["image_url"]) for row in rows}
    if time_range in TIME_RANGES and len(entries) < limit:
        for row in _albums_of_top_tracks(db, member_ids, time_range):
            if len(entries) >= limit:
                break
            entries.setdefault(row["album"], ChartEntry(row["name"], row["artist"], None, row["image_url"]))
    return list(entries.values())


def _albums_of_top_tracks(db: Database, member_ids: Sequence[int], time_range: str) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(member_ids))
    return db.query(
        f"SELECT {_ALBUM_KEY} AS album, MAX(t.album_name) AS name, MAX(t.artist_name) AS artist, "
        f"MAX(t.image_url) AS image_url, MIN(tt.rank) AS best, COUNT(*) AS tracks FROM top_tracks tt "
        f"JOIN tracks t ON t.track_id = tt.track_id WHERE tt.discord_id IN ({marks}) AND tt.time_range = ? "
        f"AND t.album_name IS NOT NULL AND t.album_name != '' GROUP BY album ORDER BY tracks DESC, best, album",
        [*member_ids, time_range])


async def member_entries(music: Any, db: Database, member_id: int, kind: str, time_range: str,
                         limit: int) -> list[ChartEntry]:
    """A member's chart squares (`music` is the MusicService; its privacy checks run in the cog first)."""
    if kind == "albums":
        entries = await db.run(top_albums, db, [member_id], time_range, limit, time.time())
        if not entries:
            raise NotEnoughData()
        return entries
    return entries_from_items(await music.top(member_id, kind, time_range, limit))


async def server_entries(community: Any, db: Database, guild_id: int, kind: str, time_range: str,
                         limit: int) -> list[ChartEntry]:
    """A server's chart squares, from the members who share their listening there (`community`: CommunityService)."""
    if kind == "albums":
        members = await community.access.require_community(guild_id)  # the same check and members as /server top
        entries = await db.run(top_albums, db, members, time_range, limit, time.time())
        if not entries:
            raise NotEnoughData("Nobody on this server has shared listening for that period yet.")
        return entries
    return entries_from_items(await community.server_top(guild_id, kind, time_range, limit))
