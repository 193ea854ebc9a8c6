"""Songs known only by name are found on Spotify once, ever; misses are remembered too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from database import Database
from fakes.spotify_server import FakeSpotify
from storage.keys import local_id, track_key
from utils.models import Item
from utils.sources.song_match import find_on_spotify


def by_name(artist: str, title: str) -> Item:
    key = track_key(artist, title)
    return Item(key=key, kind="track", name=title, artist_name=artist, spotify_id=local_id(key))


def test_each_song_is_searched_once_and_misses_are_remembered(
        db: Database, fake_spotify: FakeSpotify, make_client: Callable[..., Any]) -> None:
    client, _box = make_client("alice")
    track = next(iter(fake_spotify.catalogue.tracks.values()))
    artist = fake_spotify.catalogue.artists[track.artist_ids[0]].name
    items = [by_name(artist.upper(), track.name), by_name("Nobody Here", "Unheard Song"),
             Item(key="x - y", kind="track", name="y", artist_name="x", spotify_id="realid")]
    fake_spotify.clear_log()
    found = find_on_spotify(db, client, items)
    assert [i.uri for i in found] == [f"spotify:track:{track.id}", None, "spotify:track:realid"]
    assert len(fake_spotify.requests_to("/v1/search")) == 2
    assert db.song_matches([items[0].key, items[1].key]) == {items[0].key: track.id, items[1].key: None}
    fake_spotify.clear_log()
    again = find_on_spotify(db, client, items)
    assert [i.uri for i in again] == [i.uri for i in found]
    assert fake_spotify.requests_to("/v1/search") == []  # never searched twice, not even a miss
