"""The Last.fm and ListenBrainz clients against their fakes: shapes, quirks and errors in a member's words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.lastfm_server import FakeLastFm
from fakes.listenbrainz_server import FakeListenBrainz
from fakes.listening_history import Scrobble
from utils.sources.lastfm import LastFmClient
from utils.sources.listenbrainz import ListenBrainzClient
from utils.sources.source_http import JsonHttp, LinkRefused, SourceRateLimited, SourceUnavailable, UnknownAccount

KEY, SECRET = "k", "s"


@pytest.fixture
def lastfm() -> Iterator[FakeLastFm]:
    with FakeLastFm(KEY, SECRET) as fake:
        yield fake


def client(fake: FakeLastFm, **http: float) -> LastFmClient:
    options = {"backoff_base": 0.0, "max_retries": 2, **http}
    return LastFmClient(fake.api_url, fake.auth_url, KEY, SECRET,
                        http=JsonHttp("lastfm", sleep=lambda _s: None, retry_after=lambda _a: 60.0, **options))


def test_a_one_track_page_given_as_an_object_and_entries_without_time(lastfm: FakeLastFm) -> None:
    user = lastfm.add_user("one", [Scrobble(1_700_000_000, "Mø", "Final Song", "Album")],
                           undated=[Scrobble(0, "Broken", "Entry")])
    page = client(lastfm).recent_page("one")
    assert [p[:4] for p in page.plays] == [(1_700_000_000, "Mø", "Final Song", "Album")] and page.undated == 1
    user.undated = []
    user.single_as_object = True
    assert len(client(lastfm).recent_page("ONE").plays) == 1


def test_web_auth_link_and_errors(lastfm: FakeLastFm) -> None:
    fm = client(lastfm)
    url = fm.auth_url("http://127.0.0.1:1/lastfm/callback?state=abc")
    assert url.startswith(lastfm.auth_url + "?api_key=k&cb=http%3A%2F%2F127.0.0.1")
    with pytest.raises(LinkRefused):
        fm.get_session("never-issued")
    with pytest.raises(UnknownAccount) as unknown:
        fm.recent_page("nobody")
    assert "Last.fm no longer has an account called \u201cnobody\u201d" in unknown.value.user_message
    lastfm.add_user("alice", [])
    lastfm.fail_next(29, times=1)
    with pytest.raises(SourceRateLimited):
        fm.recent_page("alice")  # Last.fm's wait is long: said at once, not slept through
    lastfm.fail_next(11, times=3)
    with pytest.raises(SourceUnavailable) as down:
        fm.recent_page("alice")
    assert "Last.fm isn't answering" in down.value.user_message
    lastfm.fail_next(16, times=1)
    assert fm.recent_page("alice").plays == []  # one hiccup is retried


def test_listenbrainz_token_and_unknown_user() -> None:
    with FakeListenBrainz() as fake:
        token = fake.add_user("Bob", [])
        lb = ListenBrainzClient(fake.api_url)
        assert lb.validate_token(f"  {token} ") == "Bob"
        with pytest.raises(LinkRefused) as wrong:
            lb.validate_token("wrong")
        assert "User token" in wrong.value.user_message
        with pytest.raises(UnknownAccount):
            lb.listens("nobody")


def test_a_listenbrainz_token_that_cannot_be_one_is_refused_in_words() -> None:
    with FakeListenBrainz() as fake:
        lb = ListenBrainzClient(fake.api_url)
        for pasted in ("ключ-от-listenbrainz", "my token is 1234", "tab\tinside"):
            with pytest.raises(LinkRefused) as wrong:
                lb.validate_token(pasted)
            assert "didn't accept that token" in wrong.value.user_message
