"""Behaviour of the fake Spotify that tests, the demo and the benchmarks rely on."""

from __future__ import annotations

import itertools
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fakes.spotify_server import NOT_ALLOWLISTED_MESSAGE, FakeSpotify

CLIENT_ID, CLIENT_SECRET = "fake-client-id", "fake-client-secret"  # as in tests/fakes/conftest.py
REDIRECT_URI = "http://127.0.0.1:8765/callback"


def _authorize(fake: FakeSpotify, **extra: str) -> requests.Response:
    params = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, "state": "st-1",
              "scope": "user-top-read user-read-recently-played", **extra}
    return requests.get(fake.authorize_endpoint, params=params, allow_redirects=False, timeout=5)


def _redirect_query(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _token(fake: FakeSpotify, auth: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET), **form: str) -> requests.Response:
    return requests.post(fake.token_endpoint, data=form, auth=auth, timeout=5)


def _get(fake: FakeSpotify, path: str, token: str, **params: object) -> requests.Response:
    return requests.get(fake.api_url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=5)


# ---- accounts service ----


def test_login_page_offers_every_user_and_a_cancel(fake_spotify):
    page = _authorize(fake_spotify)
    assert page.status_code == 200
    assert "Log in to Spotify (fake)" in page.text
    for user_id in fake_spotify.users:
        assert f'id="approve-{user_id}"' in page.text
    assert 'id="cancel"' in page.text


def test_code_flow_gives_tokens_once(fake_spotify):
    query = _redirect_query(_authorize(fake_spotify, login_as="bob"))
    assert query["state"] == "st-1"
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI}
    answer = _token(fake_spotify, **form)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["refresh_token"]
    assert set(body["scope"].split()) == {"user-top-read", "user-read-recently-played"}
    assert _get(fake_spotify, "me", body["access_token"]).json()["id"] == "bob"
    again = _token(fake_spotify, **form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_code_is_bound_to_redirect_uri_and_client_and_expires(fake_spotify):
    code = _redirect_query(_authorize(fake_spotify, login_as="alice"))["code"]
    wrong_uri = _token(fake_spotify, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI + "x")
    assert wrong_uri.json()["error"] == "invalid_grant"
    code = _redirect_query(_authorize(fake_spotify, login_as="alice"))["code"]
    bad_client = _token(fake_spotify, auth=(CLIENT_ID, "wrong"), grant_type="authorization_code", code=code,
                        redirect_uri=REDIRECT_URI)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    fake_spotify.code_ttl = -1
    code = _redirect_query(_authorize(fake_spotify, login_as="alice"))["code"]
    expired = _token(fake_spotify, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI)
    assert expired.status_code == 400 and expired.json()["error_description"] == "Authorization code expired"


def test_deny_and_bad_requests(fake_spotify):
    assert _redirect_query(_authorize(fake_spotify, deny="1")) == {"error": "access_denied", "state": "st-1"}
    assert _authorize(fake_spotify, redirect_uri="http://127.0.0.1:9/elsewhere").status_code == 400
    assert _authorize(fake_spotify, client_id="someone-else").status_code == 400
    assert _redirect_query(_authorize(fake_spotify, scope="ugc-image-upload-nope"))["error"] == "invalid_scope"


def test_refresh_without_rotation_keeps_the_old_refresh_token(fake_spotify):
    refresh = fake_spotify.issue_tokens("carol")["refresh_token"]
    for _ in range(2):
        body = _token(fake_spotify, grant_type="refresh_token", refresh_token=refresh).json()
        assert "refresh_token" not in body and body["access_token"]
    assert fake_spotify.token_refresh_count["carol"] == 2


def test_refresh_with_rotation_retires_the_old_refresh_token(fake_spotify):
    fake_spotify.rotate_refresh_tokens = True
    old = fake_spotify.issue_tokens("carol")["refresh_token"]
    new = _token(fake_spotify, grant_type="refresh_token", refresh_token=old).json()["refresh_token"]
    assert new != old
    assert _token(fake_spotify, grant_type="refresh_token", refresh_token=old).json()["error"] == "invalid_grant"
    assert _token(fake_spotify, grant_type="refresh_token", refresh_token=new).status_code == 200


def test_revoke_breaks_refresh_and_access(fake_spotify):
    tokens = fake_spotify.issue_tokens("dave")
    fake_spotify.revoke("dave")
    answer = _token(fake_spotify, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert _get(fake_spotify, "me", tokens["access_token"]).status_code == 401


# ---- Web API access rules ----


def test_missing_unknown_and_expired_tokens_get_401(fake_spotify):
    assert requests.get(fake_spotify.api_url + "me", timeout=5).status_code == 401
    assert _get(fake_spotify, "me", "made-up").json() == {"error": {"status": 401, "message": "Invalid access token"}}
    token = fake_spotify.token_for("alice")
    fake_spotify.expire_access_tokens()
    assert _get(fake_spotify, "me", token).json()["error"]["message"] == "The access token expired"


def test_allowlist_turns_away_other_users(fake_spotify):
    fake_spotify.set_allowlist({"alice"})
    refused = _get(fake_spotify, "me", fake_spotify.token_for("bob"))
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == NOT_ALLOWLISTED_MESSAGE
    assert _get(fake_spotify, "me", fake_spotify.token_for("alice")).status_code == 200


def test_scopes_are_enforced(fake_spotify):
    token = fake_spotify.token_for("alice", scopes=["user-read-private"])
    assert _get(fake_spotify, "me", token).status_code == 200
    assert _get(fake_spotify, "me/top/tracks", token).status_code == 403


def test_closed_endpoints_refuse(fake_spotify):
    token = fake_spotify.token_for("alice")
    artist = next(iter(fake_spotify.catalogue.artists))
    for path in ("recommendations", f"artists/{artist}/related-artists", f"artists/{artist}/top-tracks",
                 "audio-features/abc", "browse/new-releases", "users/alice"):
        assert _get(fake_spotify, path, token).status_code == 403, path
    assert _get(fake_spotify, "artists", token, ids=artist).status_code == 403
    posted = requests.post(fake_spotify.api_url + "users/alice/playlists", json={"name": "x"}, timeout=5,
                           headers={"Authorization": f"Bearer {token}"})
    assert posted.status_code == 403
    assert _get(fake_spotify, "playlists/0123456789abcdefABCDEF/tracks", token).status_code == 404


# ---- control API ----


def test_fail_next_injects_failures_then_recovers(fake_spotify):
    token = fake_spotify.token_for("alice")
    fake_spotify.fail_next("/v1/me/top", 429, count=2, retry_after=7)
    for _ in range(2):
        answer = _get(fake_spotify, "me/top/tracks", token)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
        assert answer.json()["error"]["status"] == 429
    assert _get(fake_spotify, "me", token).status_code == 200  # other paths were never affected
    assert _get(fake_spotify, "me/top/tracks", token).status_code == 200
    fake_spotify.fail_next("/v1/me", 418, body={"custom": True})
    assert _get(fake_spotify, "me", token).json() == {"custom": True}


def test_set_delay_slows_every_reply(fake_spotify):
    token = fake_spotify.token_for("alice")
    fake_spotify.set_delay(0.3)
    started = time.monotonic()
    assert _get(fake_spotify, "me", token).status_code == 200
    assert time.monotonic() - started >= 0.3
    fake_spotify.set_delay(0)


def test_request_log_records_method_path_and_query(fake_spotify):
    token = fake_spotify.token_for("alice")
    _get(fake_spotify, "me/top/artists", token, limit=3, time_range="long_term")
    method, path, query = fake_spotify.request_log[-1]
    assert (method, path, query) == ("GET", "/v1/me/top/artists", {"limit": "3", "time_range": "long_term"})


# ---- data ----


def test_top_tracks_page_with_absolute_next_links(fake_spotify):
    token = fake_spotify.token_for("heidi")
    page = _get(fake_spotify, "me/top/tracks", token, limit=50, time_range="long_term").json()
    ids = [t["id"] for t in page["items"]]
    assert page["next"].startswith(fake_spotify.api_url)
    page = requests.get(page["next"], headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    ids += [t["id"] for t in page["items"]]
    assert page["next"] is None
    assert ids == fake_spotify.top_tracks("heidi", "long_term")
    assert _get(fake_spotify, "me/top/tracks", token, limit=51).status_code == 400
    assert _get(fake_spotify, "me/top/tracks", token, time_range="forever").status_code == 400


def test_recently_played_cursors(fake_spotify):
    token = fake_spotify.token_for("alice")
    newest = _get(fake_spotify, "me/player/recently-played", token, limit=10).json()
    latest = list(reversed(fake_spotify.plays("alice")[-10:]))
    assert [p["track"]["id"] for p in newest["items"]] == [track for _, track in latest]
    times = [ms for ms, _ in latest]
    assert int(newest["cursors"]["after"]) == times[0] and int(newest["cursors"]["before"]) == times[-1]
    older = requests.get(newest["next"], headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    assert int(older["cursors"]["after"]) < times[-1]
    since = _get(fake_spotify, "me/player/recently-played", token, after=times[3]).json()
    assert len(since["items"]) == 3
    assert _get(fake_spotify, "me/player/recently-played", token, after=1, before=2).status_code == 400


def test_search_finds_by_name_and_filters(fake_spotify):
    token = fake_spotify.token_for("alice")
    artist = next(iter(fake_spotify.catalogue.artists.values()))
    found = _get(fake_spotify, "search", token, q=f'artist:"{artist.name}"', type="artist,track").json()
    assert artist.id in [a["id"] for a in found["artists"]["items"]]
    assert all(artist.id in [a["id"] for a in t["artists"]] for t in found["tracks"]["items"])
    assert _get(fake_spotify, "search", token, q="a", type="track", limit=11).status_code == 400
    assert _get(fake_spotify, "search", token, q="a", type="playlist").status_code == 400


def test_playlist_items_accept_both_body_shapes_and_refuse_over_100(fake_spotify):
    token = fake_spotify.token_for("bob")
    headers = {"Authorization": f"Bearer {token}"}
    created = requests.post(fake_spotify.api_url + "me/playlists", json={"name": "Mix", "public": False},
                            headers=headers, timeout=5).json()
    uris = [f"spotify:track:{t}" for t in fake_spotify.top_tracks("bob")[:4]]
    url = fake_spotify.api_url + f"playlists/{created['id']}/items"
    assert requests.post(url, json=uris[:2], headers=headers, timeout=5).status_code == 201
    assert requests.post(url, json={"uris": uris[2:]}, headers=headers, timeout=5).status_code == 201
    assert fake_spotify.playlists[created["id"]].uris == tuple(uris)
    too_many = requests.post(url, json=uris * 26, headers=headers, timeout=5)
    assert too_many.status_code == 400
    stranger = {"Authorization": "Bearer " + fake_spotify.token_for("carol")}
    assert requests.post(url, json=uris[:1], headers=stranger, timeout=5).status_code == 403
    bogus = requests.post(url, json=["spotify:track:0123456789abcdefABCDEF"], headers=headers, timeout=5)
    assert bogus.status_code == 400
    assert fake_spotify.playlists[created["id"]].uris == tuple(uris)


def test_catalogue_is_deterministic_and_tastes_overlap():
    one, two = FakeSpotify("c", "s", seed=3), FakeSpotify("c", "s", seed=3)
    other = FakeSpotify("c", "s", seed=4)
    assert list(one.catalogue.tracks) == list(two.catalogue.tracks)
    assert one.top_tracks("alice") == two.top_tracks("alice")
    assert list(one.catalogue.tracks) != list(other.catalogue.tracks)
    cat = one.catalogue
    assert 50 <= len(cat.artists) <= 70 and 500 <= len(cat.tracks) <= 700
    assert any(not a.genres for a in cat.artists.values()) and any(a.genres for a in cat.artists.values())
    assert len(one.users) >= 8
    for a, b in itertools.combinations(one.users, 2):
        assert set(one.top_tracks(a, "short_term")) & set(one.top_tracks(b, "short_term")), (a, b)
    # Users who share a favourite cluster share more top artists than users who share none.
    shared = len(set(one.top_artists("alice")[:20]) & set(one.top_artists("bob")[:20]))
    apart = len(set(one.top_artists("alice")[:20]) & set(one.top_artists("dave")[:20]))
    assert shared > apart


def test_start_stop_and_context_manager():
    fake = FakeSpotify("c", "s").start()
    url = fake.api_url
    assert requests.get(url + "me", timeout=5).status_code == 401
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "me", timeout=2)
