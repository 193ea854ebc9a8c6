"""Behaviour of the fake Last.fm that the clients, the tests and the benchmark rely on."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fakes.lastfm_server import FakeLastFm, api_signature
from fakes.listening_history import Scrobble

KEY, SECRET = "fake-lastfm-key", "fake-lastfm-secret"


@pytest.fixture
def fake() -> Iterator[FakeLastFm]:
    with FakeLastFm(KEY, SECRET) as server:
        server.add_user("alice", [Scrobble(1_700_000_000 + i * 60, "Кино", f"Звезда {i}") for i in range(5)],
                        now_playing=Scrobble(0, "YOASOBI", "夜に駆ける"))
        server.add_user("hidden", [Scrobble(1_700_000_000, "A", "B")], private=True)
        yield server


def _call(fake: FakeLastFm, **params: str) -> requests.Response:
    return requests.get(fake.api_url, params={"api_key": KEY, "format": "json", **params}, timeout=5)


def _signed(fake: FakeLastFm, **params: str) -> requests.Response:
    params = {"api_key": KEY, **params}
    return _call(fake, **params, api_sig=api_signature(params, SECRET))


def test_web_auth_then_get_session_with_a_checked_signature(fake: FakeLastFm) -> None:
    cb = "http://127.0.0.1:9/lastfm/callback?state=abc"
    page = requests.get(fake.auth_url, params={"api_key": KEY, "cb": cb}, timeout=5)
    assert page.status_code == 200 and "Allow as alice" in page.text
    back = requests.get(fake.auth_url, params={"api_key": KEY, "cb": cb, "login_as": "alice"},
                        allow_redirects=False, timeout=5)
    assert back.status_code == 302 and back.headers["Location"].startswith(cb + "&token=")
    token = parse_qs(urlsplit(back.headers["Location"]).query)["token"][0]
    forged = _call(fake, method="auth.getSession", token=token, api_sig="0" * 32)
    assert forged.status_code == 403 and forged.json()["error"] == 13
    answer = _signed(fake, method="auth.getSession", token=token)
    assert answer.status_code == 200
    session = answer.json()["session"]
    assert session["name"] == "alice" and len(session["key"]) == 32
    again = _signed(fake, method="auth.getSession", token=token)  # a token works once
    assert again.json()["error"] == 4


def test_recent_tracks_pages_newest_first_with_now_playing_on_top(fake: FakeLastFm) -> None:
    body = _call(fake, method="user.getRecentTracks", user="alice", limit="2", page="1").json()["recenttracks"]
    assert body["@attr"] == {"user": "alice", "totalPages": "3", "page": "1", "perPage": "2", "total": "5"}
    now, *plays = body["track"]
    assert now["@attr"] == {"nowplaying": "true"} and "date" not in now and now["name"] == "夜に駆ける"
    assert [t["date"]["uts"] for t in plays] == ["1700000240", "1700000180"]
    assert plays[0]["artist"]["#text"] == "Кино"
    last = _call(fake, method="user.getRecentTracks", user="alice", limit="2", page="3").json()["recenttracks"]
    assert [t["date"]["uts"] for t in last["track"]] == ["1700000000"]


def test_from_and_to_narrow_the_history(fake: FakeLastFm) -> None:
    body = _call(fake, method="user.getRecentTracks", user="alice", **{"from": "1700000060", "to": "1700000180"}
                 ).json()["recenttracks"]
    assert [t["date"]["uts"] for t in body["track"]] == ["1700000180", "1700000120", "1700000060"]
    assert body["@attr"]["total"] == "3"


def test_errors_come_in_last_fm_shapes(fake: FakeLastFm) -> None:
    assert _call(fake, method="user.getRecentTracks", user="nobody").json() == {"error": 6, "message": "User not found"}
    private = _call(fake, method="user.getRecentTracks", user="hidden")
    assert private.status_code == 403 and private.json()["error"] == 17
    own = _signed(fake, method="user.getRecentTracks", user="hidden", sk=fake.session_key_for("hidden"))
    assert own.status_code == 200  # a member's own session reads their private profile
    key = fake.session_key_for("alice")
    fake.revoke("alice")
    assert _signed(fake, method="user.getRecentTracks", user="alice", sk=key).json()["error"] == 9
    fake.fail_next(29, times=2, method="user.getRecentTracks")
    fake.fail_next(16)
    assert _call(fake, method="user.getRecentTracks", user="alice").status_code == 429
    assert _call(fake, method="user.getInfo", user="alice").json()["error"] == 16
    assert _call(fake, method="user.getRecentTracks", user="alice").json()["error"] == 29
    assert _call(fake, method="user.getRecentTracks", user="alice").status_code == 200
    assert requests.get(fake.api_url, params={"method": "user.getInfo", "user": "alice", "api_key": "wrong",
                                              "format": "json"}, timeout=5).json()["error"] == 10


def test_user_info_and_a_big_made_up_history(fake: FakeLastFm) -> None:
    info = _call(fake, method="user.getInfo", user="alice").json()["user"]
    assert info["name"] == "alice" and info["playcount"] == "5" and info["registered"]["unixtime"]
    fake.add_made_up_user("big", 500_000, newest_uts=1_800_000_000)
    body = _call(fake, method="user.getRecentTracks", user="big", limit="200", page="2500").json()["recenttracks"]
    assert body["@attr"]["totalPages"] == "2500" and len(body["track"]) == 200
    assert int(body["track"][-1]["date"]["uts"]) == 1_800_000_000 - 499_999 * 180
