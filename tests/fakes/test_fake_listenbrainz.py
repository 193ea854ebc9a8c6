"""Behaviour of the fake ListenBrainz that the client, the tests and the benchmark rely on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from fakes.listenbrainz_server import FakeListenBrainz
from fakes.listening_history import Scrobble


@pytest.fixture
def fake() -> Iterator[FakeListenBrainz]:
    with FakeListenBrainz() as server:
        yield server


def test_validate_token(fake: FakeListenBrainz) -> None:
    token = fake.add_user("Bob", [])
    good = requests.get(fake.api_url + "1/validate-token", headers={"Authorization": f"Token {token}"}, timeout=5)
    assert good.json() == {"code": 200, "message": "Token valid.", "valid": True, "user_name": "Bob"}
    bad = requests.get(fake.api_url + "1/validate-token", headers={"Authorization": "Token nope"}, timeout=5)
    assert bad.json()["valid"] is False


def test_listens_page_back_by_max_ts_with_exclusive_bounds(fake: FakeListenBrainz) -> None:
    fake.add_user("bob", [Scrobble(1000 + i, "Sigur Rós", f"Track {i}", spotify_id="4uLU6hMCjMI75M1A2tKUQC" if i == 9
                                   else "") for i in range(10)])
    url = fake.api_url + "1/user/bob/listens"
    first = requests.get(url, params={"count": 4}, timeout=5).json()["payload"]
    assert [x["listened_at"] for x in first["listens"]] == [1009, 1008, 1007, 1006]
    assert first["listens"][0]["track_metadata"]["additional_info"]["spotify_id"].startswith("https://open.spotify.com/track/")
    assert first["latest_listen_ts"] == 1009 and first["oldest_listen_ts"] == 1000
    nxt = requests.get(url, params={"count": 4, "max_ts": 1006}, timeout=5).json()["payload"]
    assert [x["listened_at"] for x in nxt["listens"]] == [1005, 1004, 1003, 1002]
    newer = requests.get(url, params={"count": 100, "min_ts": 1007}, timeout=5).json()["payload"]
    assert [x["listened_at"] for x in newer["listens"]] == [1009, 1008]
    assert requests.get(fake.api_url + "1/user/bob/listen-count", timeout=5).json() == {"payload": {"count": 10}}
    assert requests.get(fake.api_url + "1/user/nobody/listens", timeout=5).status_code == 404


def test_rate_limit_headers_and_429(fake: FakeListenBrainz) -> None:
    fake.add_user("bob", [])
    fake.set_rate_limit(2, 1.0)
    url = fake.api_url + "1/user/bob/listen-count"
    first = requests.get(url, timeout=5)
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    requests.get(url, timeout=5)
    limited = requests.get(url, timeout=5)
    assert limited.status_code == 429 and limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset-In"]) <= 1
    time.sleep(1.05)
    assert requests.get(url, timeout=5).status_code == 200
    fake.fail_next(503)
    assert requests.get(url, timeout=5).status_code == 503
