"""The fake Spotify answers in the shapes of Spotify's published OpenAPI description (shared/reference)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft4Validator

from fakes.spotify_server import FakeSpotify

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "spotify-openapi" / "fixed-spotify-open-api.yml"
SEARCH = "#/components/responses/SearchItems/content/application~1json/schema"
SNAPSHOT = "#/components/responses/PlaylistSnapshotId/content/application~1json/schema"
ERROR = "#/components/responses/Unauthorized/content/application~1json/schema"


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` becomes a JSON Schema "or null"; everything else is kept."""
    if isinstance(node, list):
        return [_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def components() -> dict:
    if not SPEC.exists():
        pytest.skip(f"the Spotify OpenAPI description is not here ({SPEC}); it lives in the shared folder")
    with SPEC.open(encoding="utf-8") as handle:
        return _json_schema(yaml.safe_load(handle)["components"])


def check(components: dict, ref: str, instance: Any) -> None:
    name = ref if ref.startswith("#") else f"#/components/schemas/{ref}"
    validator = Draft4Validator({"components": components, "$ref": name})
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@pytest.fixture
def api(fake_spotify: FakeSpotify):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + fake_spotify.token_for("alice")

    def call(method: str, path: str, **kwargs: Any) -> Any:
        answer = session.request(method, fake_spotify.api_url + path, timeout=5, **kwargs)
        assert answer.headers["Content-Type"].startswith("application/json")
        return answer.json()

    return call


def test_user_profile(components, api):
    me = api("GET", "me")
    check(components, "PrivateUserObject", me)
    assert me["id"] == "alice" and me["account_id"]
    assert not {"country", "email", "product", "followers"} & set(me)


def test_top_items(components, api):
    tracks = api("GET", "me/top/tracks", params={"limit": 50, "time_range": "short_term"})
    check(components, "PagingTrackObject", tracks)
    artists = api("GET", "me/top/artists", params={"limit": 10})
    check(components, "PagingArtistObject", artists)
    for track in tracks["items"]:
        assert not {"popularity", "available_markets", "linked_from"} & set(track)
    for artist in artists["items"]:
        assert not {"popularity", "followers"} & set(artist)
        assert isinstance(artist["genres"], list)


def test_recently_played(components, api):
    history = api("GET", "me/player/recently-played", params={"limit": 20})
    check(components, "CursorPagingPlayHistoryObject", history)
    assert len(history["items"]) == 20


def test_catalogue_objects(components, api, fake_spotify):
    album = next(iter(fake_spotify.catalogue.albums.values()))
    track_id = album.track_ids[0]
    check(components, "ArtistObject", api("GET", f"artists/{album.artist_ids[0]}"))
    check(components, "PagingArtistDiscographyAlbumObject", api("GET", f"artists/{album.artist_ids[0]}/albums"))
    check(components, "AlbumObject", api("GET", f"albums/{album.id}"))
    check(components, "PagingSimplifiedTrackObject", api("GET", f"albums/{album.id}/tracks"))
    check(components, "TrackObject", api("GET", f"tracks/{track_id}"))


def test_search(components, api):
    found = api("GET", "search", params={"q": "the", "type": "track,artist,album", "limit": 10})
    check(components, SEARCH, found)
    assert set(found) == {"tracks", "artists", "albums"}


def test_playlist_create_and_add(components, api, fake_spotify):
    created = api("POST", "me/playlists", json={"name": "Mix", "public": False, "description": "for the server"})
    check(components, "PlaylistObject", created)
    uri = f"spotify:track:{fake_spotify.top_tracks('alice')[0]}"
    check(components, SNAPSHOT, api("POST", f"playlists/{created['id']}/items", json={"uris": [uri]}))
    playlist = api("GET", f"playlists/{created['id']}")
    check(components, "PlaylistObject", playlist)
    assert [entry["item"]["uri"] for entry in playlist["items"]["items"]] == [uri]
    assert "tracks" not in playlist  # renamed to `items` in Feb 2026


def test_errors(components, fake_spotify):
    answer = requests.get(fake_spotify.api_url + "me", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert answer.status_code == 401
    check(components, ERROR, answer.json())


def test_the_checker_catches_a_wrong_shape(components, api, fake_spotify):
    track = api("GET", f"tracks/{fake_spotify.top_tracks('alice')[0]}")
    broken = copy.deepcopy(track)
    broken["duration_ms"] = "three minutes"
    with pytest.raises(AssertionError):
        check(components, "TrackObject", broken)
    paging = api("GET", "me/top/tracks", params={"limit": 2})
    del paging["next"]
    with pytest.raises(AssertionError):
        check(components, "PagingTrackObject", paging)
