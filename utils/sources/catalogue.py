"""Catalogue expansion through Spotify's open endpoints, for members whose own data is all there is.

Favourite artist -> their albums -> album tracks, and a search by the member's genres. Every call goes
through the member's client (async facade, off the event loop), with a cap on calls per request; what
comes back is cached in the database (`upsert_tracks` / `upsert_artists`) so the next /recommend needs
no Spotify at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from database import Database
from storage.keys import track_key
from utils.errors import BotError
from utils.logger import get_logger
from utils.sources.spotify_sync import track_rows

log = get_logger(__name__)


class CatalogueExpander:
    """Looks up more tracks of a member's favourite artists and genres, within `max_calls` Spotify calls."""

    def __init__(self, db: Database, *, max_calls: int = 8, albums_per_artist: int = 2,
                 genre_cache_seconds: float = 6 * 3600) -> None:
        self.db = db
        self.max_calls = max_calls
        self.albums_per_artist = albums_per_artist
        self.genre_cache_seconds = genre_cache_seconds
        # genre -> (when, track keys): search results are not tied to an artist we know, so keep them here
        self._genre_tracks: dict[str, tuple[float, list[str]]] = {}
        # artist keys already expanded recently: don't spend calls on them again
        self._expanded: dict[str, float] = {}

    def genre_tracks(self, genres: Sequence[str]) -> dict[str, list[str]]:
        now = time.time()
        return {g: keys for g in genres if (hit := self._genre_tracks.get(g)) and now - hit[0] < self.genre_cache_seconds
                for keys in [hit[1]]}

    async def expand(self, client: Any, artist_ids: dict[str, str], genres: Sequence[str]) -> int:
        """Fetch tracks for genres, then artists (key -> Spotify id); return how many tracks were stored."""
        budget = self.max_calls
        stored = 0
        now = time.time()
        try:
            for genre in list(genres)[:2]:  # a genre search finds new artists: worth its one call first
                if budget <= 0 or self.genre_tracks([genre]):
                    continue
                found = await client.async_search(f'genre:"{genre}"', ("track",), 10)
                budget -= 1
                tracks = [t for t in (found or {}).get("tracks") or [] if t and t.get("id")]
                stored += await self._store(tracks, genre=genre)
                self._genre_tracks[genre] = (time.time(), [track_key(_first_artist(t), t.get("name") or "")
                                                           for t in tracks])
            for key, artist_id in artist_ids.items():
                if budget <= 0:
                    break
                if now - self._expanded.get(key, 0.0) < self.genre_cache_seconds:
                    continue
                used, count = await self._artist(client, artist_id, budget)
                self._expanded[key] = now  # only once done: a look-up cut short is tried again next time
                budget -= used
                stored += count
        except BotError as error:
            # a catalogue look-up is a bonus: a rate limit or outage just ends it, and the member gets what we have
            # (the client passed in should be `impatient()`, so a slow-down request ends it without waiting)
            log.info("catalogue look-up stopped: %s", type(error).__name__)
        return stored

    async def _artist(self, client: Any, artist_id: str, budget: int) -> tuple[int, int]:
        albums = await client.async_artist_albums(artist_id, 10, "album,single")
        used, stored = 1, 0
        albums = [a for a in albums or [] if a and a.get("id")][: self.albums_per_artist]
        for album in albums:
            if used >= budget:
                break
            album_tracks = await client.async_album_tracks(album["id"])
            used += 1
            tracks = [{**t, "album": {"id": album["id"], "name": album.get("name"), "images": album.get("images")}}
                      for t in album_tracks or [] if t and t.get("id")]
            # keep only this artist's own tracks (albums may be compilations)
            tracks = [t for t in tracks if any(a.get("id") == artist_id for a in t.get("artists") or [])]
            stored += await self._store(tracks)
        return used, stored

    async def _store(self, tracks: list[dict[str, Any]], genre: str | None = None) -> int:
        rows, artists = [], {}
        for track in tracks:
            row, track_artists = track_rows(track)
            rows.append(row)
            for artist in track_artists:
                if genre:
                    artist = {**artist, "genres": [genre]}  # only used when the artist is new to us
                artists.setdefault(artist["artist_id"], artist)
        if rows:
            await self.db.run(self._write, list(artists.values()), rows)
        return len(rows)

    def _write(self, artists: list[dict[str, Any]], tracks: list[dict[str, Any]]) -> None:
        with self.db.transaction():
            self.db.upsert_artists(artists)
            self.db.upsert_tracks(tracks)


def _first_artist(track: dict[str, Any]) -> str:
    artists = track.get("artists") or []
    return artists[0].get("name", "") if artists else ""

