"""Finding songs known only by name (Last.fm, ListenBrainz, an export without ids) on Spotify, for playlists.

Each song is searched once, ever: every answer is remembered in `song_matches`, a miss too, so a song Spotify
doesn't have is never searched again. A match must have the same key (storage.keys: normalised artist and title,
in any script) as the song, for one of its artists. Searching stops at a rate limit or an outage: the songs not
searched yet count as not found this time and are searched at the next save.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from database import Database
from storage.keys import track_key
from utils.errors import RateLimited, SpotifyUnavailable
from utils.logger import get_logger
from utils.models import Item

log = get_logger("song_match")

MAX_SEARCHES_PER_SAVE = 300


def find_on_spotify(db: Database, client: Any, items: Sequence[Item]) -> list[Item]:
    """`items` with Spotify ids filled in where a match is known or found (blocking: searches Spotify)."""
    wanted = [i for i in items if i.kind == "track" and i.uri is None and i.artist_name]
    if not wanted:
        return list(items)
    found = db.song_matches(i.key for i in wanted)
    searches = 0
    for item in wanted:
        if item.key in found or searches >= MAX_SEARCHES_PER_SAVE:
            continue
        searches += 1
        try:
            track_id = _search(client, item)
        except (RateLimited, SpotifyUnavailable):
            log.info("Spotify search stopped after %d songs; the rest wait for the next save", searches)
            break
        db.save_song_match(item.key, track_id)
        found[item.key] = track_id
    return [dataclasses.replace(i, spotify_id=found[i.key]) if i in wanted and found.get(i.key) else i
            for i in items]


def _search(client: Any, item: Item) -> str | None:
    query = f'track:"{item.name}" artist:"{item.artist_name}"'
    answer = client.search(query, types=("track",), limit=5) or {}
    for track in answer.get("tracks") or []:
        if not track.get("id"):
            continue
        if any(track_key(artist.get("name") or "", track.get("name") or "") == item.key
               for artist in track.get("artists") or []):
            return str(track["id"])
    return None
