"""SpotifyClient against the fake Spotify over real sockets: retry policy, refresh, errors, paging, async facade."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from fakes.spotify_server import FakeSpotify
from utils.errors import LinkBroken, NotAllowlisted, RateLimited, SpotifyUnavailable
from utils.sources import spotify_client
from utils.sources.spotify_client import SpotifyClient, SpotifyRequestFailed


def _calls(fake: FakeSpotify, prefix: str, method: str = "GET") -> int:
    return len(fake.requests_to(prefix, method))


def test_me_uses_the_configured_api_url(fake_spotify, make_client):
    client, _ = make_client("bob")
    assert client.me()["id"] == "bob"
    assert _calls(fake_spotify, "/v1/me") == 1


def test_short_retry_after_is_waited_out(fake_spotify, make_client):
    client, _ = make_client()
    fake_spotify.fail_next("/v1/me/top/tracks", 429, retry_after=1)
    started = time.monotonic()
    tracks = client.top_tracks("short_term", limit=5)
    assert time.monotonic() - started >= 0.9
    assert [t["id"] for t in tracks] == fake_spotify.top_tracks("alice", "short_term")[:5]
    assert spotify_client.stats()["http_429"] == 1


def test_long_retry_after_fails_fast_for_every_client(fake_spotify, make_client):
    client, _ = make_client()
    fake_spotify.fail_next("/v1/me", 429, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        client.me()
    assert time.monotonic() - started < 0.5
    assert "about an hour" in caught.value.user_message
    assert spotify_client.stats()["rate_limited"] is True
    # The limit is per app: another member's client does not even try while it lasts.
    other, _ = make_client("bob")
    before = len(fake_spotify.request_log)
    with pytest.raises(RateLimited):
        other.top_artists()
    assert len(fake_spotify.request_log) == before


def test_server_errors_are_retried_then_succeed(fake_spotify, make_client):
    client, _ = make_client()
    fake_spotify.fail_next("/v1/me/top/artists", 500, count=2)
    artists = client.top_artists("long_term", limit=3)
    assert [a["id"] for a in artists] == fake_spotify.top_artists("alice", "long_term")[:3]
    assert _calls(fake_spotify, "/v1/me/top/artists") == 3


def test_server_errors_forever_give_spotify_unavailable(fake_spotify, make_client):
    client, _ = make_client(max_retries=2)
    fake_spotify.fail_next("/v1/me", 503, count=50)
    with pytest.raises(SpotifyUnavailable):
        client.me()
    assert _calls(fake_spotify, "/v1/me") == 3


def test_slow_replies_time_out_as_unavailable(fake_spotify, make_client):
    client, _ = make_client(timeout=0.1, max_retries=1)
    fake_spotify.set_delay(0.5)
    started = time.monotonic()
    with pytest.raises(SpotifyUnavailable):
        client.me()
    assert time.monotonic() - started < 1.5


def test_unreachable_spotify_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = SpotifyClient(lambda _force: "token", f"http://127.0.0.1:{port}/v1/", timeout=1.0, max_retries=1,
                           backoff_base=0.01)
    with pytest.raises(SpotifyUnavailable):
        client.me()


def test_expired_token_is_refreshed_once_and_the_call_succeeds(fake_spotify, make_client):
    client, box = make_client()
    fake_spotify.expire_access_tokens()
    assert client.me()["id"] == "alice"
    assert box.calls == [False, True]
    assert fake_spotify.token_refresh_count["alice"] == 1


def test_401_after_a_fresh_token_means_the_link_is_broken(fake_spotify, make_client):
    client, box = make_client()
    fake_spotify.fail_next("/v1/me", 401, count=5)
    with pytest.raises(LinkBroken):
        client.me()
    assert box.calls == [False, True]


def test_revoked_access_surfaces_the_providers_link_broken(fake_spotify, make_client):
    client, _ = make_client("carol")
    fake_spotify.revoke("carol")
    with pytest.raises(LinkBroken):
        client.me()


def test_user_missing_from_the_allowlist_gets_not_allowlisted(fake_spotify, make_client):
    client, _ = make_client("dave")
    fake_spotify.set_allowlist({"alice"})
    with pytest.raises(NotAllowlisted) as caught:
        client.me()
    assert "bot owner" in caught.value.user_message
    allowed, _ = make_client("alice")
    assert allowed.me()["id"] == "alice"


def test_other_refusals_are_not_retried(fake_spotify, make_client):
    client, _ = make_client()
    fake_spotify.fail_next("/v1/tracks", 404)
    with pytest.raises(SpotifyRequestFailed) as caught:
        client.track(fake_spotify.top_tracks("alice")[0])
    assert caught.value.status == 404
    assert _calls(fake_spotify, "/v1/tracks") == 1


def test_250_uris_go_in_three_ordered_requests(fake_spotify, make_client):
    client, _ = make_client()
    playlist = client.create_playlist("Server mix", "Made by the bot", public=False)
    uris = [f"spotify:track:{t}" for t in list(fake_spotify.catalogue.tracks)[:250]]
    assert client.add_to_playlist(playlist["id"], uris)
    adds = fake_spotify.requests_to(f"/v1/playlists/{playlist['id']}/items", "POST")
    assert len(adds) == 3
    stored = fake_spotify.playlists[playlist["id"]]
    assert stored.uris == tuple(uris)
    assert (stored.owner, stored.name, stored.public, stored.description) == (
        "alice", "Server mix", False, "Made by the bot")


def test_pagination_follows_next_links(fake_spotify, make_client):
    client, _ = make_client("erin")
    tracks = client.top_tracks("medium_term", limit=70)
    assert [t["id"] for t in tracks] == fake_spotify.top_tracks("erin", "medium_term")[:70]
    assert _calls(fake_spotify, "/v1/me/top/tracks") == 2
    results = client.search("a", types=("track", "artist"), limit=15)
    assert len(results["tracks"]) == 15
    assert len({t["id"] for t in results["tracks"]}) == 15
    album = next(a for a in fake_spotify.catalogue.albums.values() if len(a.track_ids) >= 8)
    assert [t["id"] for t in client.album_tracks(album.id)] == list(album.track_ids)
    artist_id = album.artist_ids[0]
    assert {a["id"] for a in client.artist_albums(artist_id, limit=20)} == {
        a.id for a in fake_spotify.catalogue.artist_albums(artist_id)}


def test_recently_played_gives_a_cursor_for_the_next_sync(fake_spotify, make_client):
    client, _ = make_client("frank")
    first = client.recently_played()
    assert len(first["items"]) == 50
    assert first["cursor"] == fake_spotify.plays("frank")[-1][0]
    assert client.recently_played(after_ms=first["cursor"])["items"] == []
    track_id = fake_spotify.top_tracks("frank")[0]
    fake_spotify.add_play("frank", track_id, first["cursor"] + 60_000)
    later = client.recently_played(after_ms=first["cursor"])
    assert [p["track"]["id"] for p in later["items"]] == [track_id]
    assert later["cursor"] == first["cursor"] + 60_000


async def test_async_facade_keeps_the_event_loop_free(fake_spotify, make_client):
    client, _ = make_client("grace")
    fake_spotify.set_delay(0.3)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    me, top = await asyncio.gather(client.run(lambda c: c.me()), client.async_top_tracks("short_term", 5))
    task.cancel()
    assert me["id"] == "grace"
    assert len(top) == 5
    assert ticks >= 5


def test_tokens_never_reach_the_log(fake_spotify, make_client, caplog):
    client, box = make_client()
    caplog.set_level(logging.DEBUG)
    fake_spotify.fail_next("/v1/me", 500)
    fake_spotify.expire_access_tokens()
    client.me()
    assert caplog.records
    assert box.access not in caplog.text
    assert box.refresh not in caplog.text


def test_stats_is_a_plain_dict_for_the_admin_command(fake_spotify, make_client):
    client, _ = make_client()
    fake_spotify.fail_next("/v1/me", 502)
    client.me()
    figures = spotify_client.stats()
    assert figures["calls"] == 2
    assert figures["errors"] == 1
    assert figures["retries"] == 1
    assert figures["rate_limited"] is False
    assert "502" in figures["last_error"]


# -- writes: never made twice --------------------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_create_that_may_have_happened_is_not_retried(fake_spotify, make_client, status):
    client, _ = make_client()
    fake_spotify.fail_next("/v1/me/playlists", status, count=5)
    with pytest.raises(spotify_client.WriteUncertain) as caught:
        client.create_playlist("Mix")
    assert isinstance(caught.value, SpotifyUnavailable)  # callers that don't care see "isn't answering"
    assert _calls(fake_spotify, "/v1/me/playlists", "POST") == 1


def test_an_add_that_may_have_happened_is_not_retried(fake_spotify, make_client):
    client, _ = make_client()
    playlist = client.create_playlist("Mix")
    uris = [f"spotify:track:{t}" for t in fake_spotify.top_tracks("alice")[:3]]
    fake_spotify.fail_next("/v1/playlists/", 500, count=5)
    with pytest.raises(spotify_client.WriteUncertain):
        client.add_to_playlist(playlist["id"], uris)
    assert _calls(fake_spotify, f"/v1/playlists/{playlist['id']}/items", "POST") == 1


def test_a_write_spotify_says_it_did_not_do_is_retried(fake_spotify, make_client):
    client, _ = make_client()
    fake_spotify.fail_next("/v1/me/playlists", 503)
    fake_spotify.fail_next("/v1/playlists/", 429, retry_after=1)
    playlist = client.create_playlist("Mix")
    uris = [f"spotify:track:{t}" for t in fake_spotify.top_tracks("alice")[:3]]
    client.add_to_playlist(playlist["id"], uris)
    assert len(fake_spotify.playlists) == 1
    assert fake_spotify.playlists[playlist["id"]].uris == tuple(uris)


def test_writes_wait_longer_for_a_slow_spotify_than_reads(fake_spotify, make_client):
    client, _ = make_client(timeout=0.3, write_timeout=3.0, max_retries=0)
    fake_spotify.set_delay(0.6)
    with pytest.raises(SpotifyUnavailable):
        client.me()
    playlist = client.create_playlist("Slow mix")
    assert list(fake_spotify.playlists) == [playlist["id"]]


def test_a_write_whose_reply_timed_out_is_not_retried(fake_spotify, make_client):
    client, _ = make_client(timeout=0.2, write_timeout=0.3)
    fake_spotify.set_delay(0.6)
    with pytest.raises(spotify_client.WriteUncertain):
        client.create_playlist("Mix")
    fake_spotify.set_delay(0)
    time.sleep(0.5)
    assert len(fake_spotify.playlists) == 1  # Spotify made it after all: only once
    assert _calls(fake_spotify, "/v1/me/playlists", "POST") == 1


def test_a_write_that_never_reached_spotify_is_retried():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = SpotifyClient(lambda _force: "token", f"http://127.0.0.1:{port}/v1/", timeout=1.0, max_retries=1,
                           backoff_base=0.01)
    with pytest.raises(SpotifyUnavailable) as caught:
        client.create_playlist("Mix")
    assert not isinstance(caught.value, spotify_client.WriteUncertain)
    assert spotify_client.stats()["retries"] == 1


def test_playlist_uris_reads_every_page_in_order(fake_spotify, make_client):
    client, _ = make_client()
    playlist = client.create_playlist("Long mix")
    uris = [f"spotify:track:{t}" for t in list(fake_spotify.catalogue.tracks)[:120]]
    client.add_to_playlist(playlist["id"], uris)
    assert client.playlist_uris(playlist["id"]) == uris


# -- optional look-ups: never wait -----------------------------------------------------------------------

def test_an_impatient_client_gives_up_at_once_on_a_short_slow_down(fake_spotify, make_client):
    client, _ = make_client(max_wait=30.0)
    lookups = client.impatient()
    fake_spotify.fail_next("/v1/search", 429, retry_after=20)
    started = time.monotonic()
    with pytest.raises(RateLimited):
        lookups.search("a")
    before = len(fake_spotify.request_log)
    with pytest.raises(RateLimited):  # the slow-down is remembered: the next look-up does not even ask
        lookups.artist(next(iter(fake_spotify.catalogue.artists)))
    assert len(fake_spotify.request_log) == before
    assert time.monotonic() - started < 1
