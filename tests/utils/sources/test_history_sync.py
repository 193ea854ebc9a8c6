"""Whole histories from the fake Last.fm and ListenBrainz into a real database file: resumable, counted once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from database import Database
from fakes.lastfm_server import FakeLastFm
from fakes.listenbrainz_server import FakeListenBrainz
from fakes.listening_history import Scrobble
from spotify_auth import TokenVault
from utils.sources.history_sync import HistorySync, describe_link
from utils.sources.lastfm import LastFmClient
from utils.sources.listenbrainz import ListenBrainzClient, _reset_in
from utils.sources.source_http import JsonHttp

KEY, SECRET = "fm-key", "fm-secret"
MEMBER, OTHER = 111, 222
NOW = 1_750_000_000


def fast_http(source: str) -> JsonHttp:
    """No backoff and no waits: the fakes' outages and rate limits are over as soon as they are told to be."""
    return JsonHttp(source, sleep=lambda _s: None, backoff_base=0.0, backoff_max=0.0, retry_after=lambda _a: 0.01)


@pytest.fixture
def lastfm() -> Iterator[FakeLastFm]:
    with FakeLastFm(KEY, SECRET) as fake:
        yield fake


@pytest.fixture
def listenbrainz() -> Iterator[FakeListenBrainz]:
    with FakeListenBrainz() as fake:
        yield fake


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([Fernet.generate_key().decode()])


@pytest.fixture
def history(db: Database, lastfm: FakeLastFm, listenbrainz: FakeListenBrainz, vault: TokenVault) -> Iterator[HistorySync]:
    fm = LastFmClient(lastfm.api_url, lastfm.auth_url, KEY, SECRET, http=fast_http("lastfm"))
    # ListenBrainz's own waits (X-RateLimit-Reset-In, a second at least) are really waited: that is the point
    lb = ListenBrainzClient(listenbrainz.api_url, http=JsonHttp("listenbrainz", retry_after=_reset_in, backoff_base=0.0))
    sync = HistorySync(db, vault, lastfm=fm, listenbrainz=lb, outage_waits=(0.01, 0.01, 0.01), batch_plays=1000)
    yield sync
    sync.close()


def link(db: Database, vault: TokenVault, lastfm: FakeLastFm, member: int, name: str) -> None:
    db.ensure_user(member)
    db.save_source_link(member, "lastfm", name, vault.encrypt(lastfm.session_key_for(name)))


def plays_of(db: Database, member: int, source: str | None = None) -> int:
    if source is None:
        return db.scalar("SELECT COUNT(*) FROM plays WHERE discord_id = ?", (member,))
    return db.scalar("SELECT COUNT(*) FROM plays WHERE discord_id = ? AND source = ?", (member, source))


def test_a_whole_last_fm_history_comes_in_once_without_the_now_playing_song(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    lastfm.add_made_up_user("big", 1_234, newest_uts=NOW, step=60)
    lastfm.user("big").now_playing = Scrobble(0, "Кино", "Звезда по имени Солнце")
    link(db, vault, lastfm, MEMBER, "big")
    assert history.run_link(MEMBER, "lastfm") == "current"
    assert plays_of(db, MEMBER, "lastfm") == 1_234
    assert len(lastfm.calls("user.getRecentTracks")) == 7  # 200 a page
    state = db.source_link(MEMBER, "lastfm")
    assert state["plays_expected"] == 1_234 and state["newest_seen"] == NOW and state["last_synced_at"]
    assert "1,234 plays added" in describe_link(state).text
    # the periodic sync asks only for what is new
    lastfm.add_user("big2", [])
    history.run_link(MEMBER, "lastfm")
    assert lastfm.calls("user.getRecentTracks")[-1]["from"] == str(NOW)
    assert plays_of(db, MEMBER) == 1_234


def test_a_walk_stopped_half_way_resumes_where_it_stood_and_counts_nothing_twice(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    lastfm.add_made_up_user("big", 3_000, newest_uts=NOW, step=30)
    link(db, vault, lastfm, MEMBER, "big")
    lastfm.fail_next(16, times=50, method="user.getRecentTracks")  # Last.fm down from the very first call
    assert history.run_link(MEMBER, "lastfm") == "paused"
    assert "isn't answering" in db.source_link(MEMBER, "lastfm")["problem"]
    with lastfm._lock:
        lastfm._state.failures.clear()
    # the bot stops (a crash, a restart) while writing: the cursor stays where the last stored write left it
    writes = 0
    original = db.store_source_page

    def crash_on_third(*args: object, **kwargs: object) -> int:
        nonlocal writes
        writes += 1
        if writes > 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)  # type: ignore[arg-type]

    db.store_source_page = crash_on_third  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        history.run_link(MEMBER, "lastfm")
    db.store_source_page = original  # type: ignore[method-assign]
    # the first page at once, then five pages a write; each next page starts again at the second the last one ended
    assert plays_of(db, MEMBER) == 200 + 5 * 199
    link_row = db.source_link(MEMBER, "lastfm")
    assert link_row["status"] == "backfill" and link_row["backfill_cursor"] == NOW - 1_194 * 30
    assert "1,200 of 3,000 plays so far" in describe_link(link_row).text
    assert history.run_link(MEMBER, "lastfm") == "current"
    assert plays_of(db, MEMBER) == 3_000


def test_a_paused_walk_tells_the_member_it_carries_on_by_itself(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    lastfm.add_made_up_user("down", 300, newest_uts=NOW, step=30)
    link(db, vault, lastfm, MEMBER, "down")
    lastfm.fail_next(16, times=50, method="user.getRecentTracks")
    assert history.run_link(MEMBER, "lastfm") == "paused"
    text = describe_link(db.source_link(MEMBER, "lastfm")).text
    assert "carry on by myself" in text and "try again" not in text  # nothing for the member to do


def test_rate_limits_in_the_middle_are_waited_out(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    lastfm.add_made_up_user("big", 700, newest_uts=NOW)
    link(db, vault, lastfm, MEMBER, "big")
    lastfm.fail_next(29, times=5, method="user.getRecentTracks")
    assert history.run_link(MEMBER, "lastfm") == "current"
    assert plays_of(db, MEMBER) == 700


@pytest.mark.parametrize(("setup", "words"), [
    (lambda fake: fake.revoke("alice"), "Run `/link lastfm` to link again"),
    (lambda fake: fake._state.users.pop("alice"),
     "no longer has an account called \u201calice\u201d (it may have been renamed or deleted). Run `/link lastfm`"),
])
def test_a_revoked_or_vanished_account_marks_the_link_broken_with_words(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync, setup: object, words: str) -> None:
    lastfm.add_user("alice", [Scrobble(NOW, "A", "B")])
    link(db, vault, lastfm, MEMBER, "alice")
    setup(lastfm)  # type: ignore[operator]
    assert history.run_link(MEMBER, "lastfm") == "broken"
    state = db.source_link(MEMBER, "lastfm")
    assert state["status"] == "broken" and words in describe_link(state).text


def test_a_private_profile_is_read_with_the_members_own_session(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    lastfm.add_user("shy", [Scrobble(NOW - i, "宇多田ヒカル", "First Love") for i in range(0, 3000, 1000)], private=True,
                    undated=[Scrobble(0, "No", "Time")])
    link(db, vault, lastfm, MEMBER, "shy")
    assert history.run_link(MEMBER, "lastfm") == "current"
    assert plays_of(db, MEMBER) == 3
    names = db.query("SELECT DISTINCT t.artist_name FROM plays p JOIN tracks t USING (track_id)")
    assert names == [{"artist_name": "宇多田ヒカル"}]


def test_listenbrainz_pages_back_by_max_ts_through_429s(
        db: Database, listenbrainz: FakeListenBrainz, history: HistorySync) -> None:
    # 2,500 listens, some sharing a second across a page boundary
    listens = [Scrobble(NOW - i // 2, "Sigur Rós", f"Song {i % 40}") for i in range(2_500)]
    listenbrainz.add_user("lb", listens)
    listenbrainz.set_rate_limit(3, 1.0)
    db.ensure_user(MEMBER)
    db.save_source_link(MEMBER, "listenbrainz", "lb", None)
    assert history.run_link(MEMBER, "listenbrainz") == "current"
    # two listens of one song in the same second are one row: same member, time and track
    assert plays_of(db, MEMBER) == len({(s.uts, s.title) for s in listens})
    state = db.source_link(MEMBER, "listenbrainz")
    assert state["plays_expected"] == 2_500 and state["newest_seen"] == NOW
    listenbrainz.listen("lb", Scrobble(NOW + 100, "Sigur Rós", "Hoppípolla"))
    history.run_link(MEMBER, "listenbrainz")
    assert listenbrainz.calls("/listens")[-1]["min_ts"] == str(NOW - 1)
    assert plays_of(db, MEMBER) == len({(s.uts, s.title) for s in listens}) + 1


def test_a_play_seen_by_spotify_and_last_fm_counts_once(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    db.ensure_user(MEMBER)
    track = {"track_id": "sp1", "name": "Hurt", "artist_id": "ar1", "artist_name": "Johnny Cash"}
    # Spotify stamps the end of the play, Last.fm its start, about three minutes earlier
    spotify_end = (NOW + 218) * 1000 + 345
    db.store_sync(MEMBER, artists=[{"artist_id": "ar1", "name": "Johnny Cash"}], tracks=[track], top_tracks={},
                  top_artists={}, plays=[(spotify_end, "sp1", 218_000)], recent_cursor_ms=spotify_end, synced_at=NOW)
    lastfm.add_user("cash", [Scrobble(NOW, "Johnny Cash", "Hurt"), Scrobble(NOW + 218, "Johnny Cash", "Hurt"),
                             Scrobble(NOW - 86_400, "Johnny Cash", "Hurt")])
    link(db, vault, lastfm, MEMBER, "cash")
    history.run_link(MEMBER, "lastfm")
    # the first scrobble is the Spotify play; the second (played again right after) and yesterday's are new
    assert plays_of(db, MEMBER) == 3
    # and the other way round: a Spotify sync after the scrobbles adds only what Last.fm did not have
    db.store_sync(MEMBER, artists=[], tracks=[track], top_tracks={}, top_artists={},
                  plays=[(spotify_end + 218_000, "sp1", 1), ((NOW + 3_600) * 1000, "sp1", 1)],
                  recent_cursor_ms=None, synced_at=NOW)
    assert plays_of(db, MEMBER) == 4
    # scrobbles land on the Spotify track, so they can be saved to a playlist
    assert db.scalar("SELECT COUNT(*) FROM plays WHERE source = 'lastfm' AND track_id = 'sp1'") == 2


def test_one_last_fm_account_belongs_to_one_member(db: Database) -> None:
    from storage.sources import AccountTaken

    db.ensure_user(MEMBER)
    db.ensure_user(OTHER)
    assert db.save_source_link(MEMBER, "lastfm", "Alice", b"x") is True
    with pytest.raises(AccountTaken):
        db.save_source_link(OTHER, "lastfm", "alice", b"y")
    assert db.source_link(OTHER, "lastfm") is None
    assert db.save_source_link(MEMBER, "lastfm", "alice", b"z") is False  # the same account again: keeps its place


def test_unlinking_or_linking_another_account_during_a_walk_stops_it_and_keeps_nothing_more(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    lastfm.add_made_up_user("first", 5_000, newest_uts=NOW)
    lastfm.add_user("second", [Scrobble(NOW, "A", "B")])
    link(db, vault, lastfm, MEMBER, "first")
    original = db.store_source_page
    writes = 0

    def relink_after_first(*args: object, **kwargs: object) -> int:
        nonlocal writes
        writes += 1
        if writes == 2:  # the member links another account while the first one's history is coming in
            db.save_source_link(MEMBER, "lastfm", "second", vault.encrypt(lastfm.session_key_for("second")))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    db.store_source_page = relink_after_first  # type: ignore[method-assign]
    assert history.run_link(MEMBER, "lastfm") == "gone"
    db.store_source_page = original  # type: ignore[method-assign]
    assert plays_of(db, MEMBER) == 200  # the first page only
    assert db.source_link(MEMBER, "lastfm")["plays_fetched"] == 0  # the new link starts clean
    assert history.run_link(MEMBER, "lastfm") == "current"
    db.remove_source_link(MEMBER, "lastfm")
    assert history.run_link(MEMBER, "lastfm") == "gone"


async def test_after_a_restart_unfinished_histories_carry_on_and_finished_ones_wait_for_the_sync(
        db: Database, lastfm: FakeLastFm, listenbrainz: FakeListenBrainz, vault: TokenVault,
        history: HistorySync) -> None:
    lastfm.add_made_up_user("big", 900, newest_uts=NOW)
    link(db, vault, lastfm, MEMBER, "big")
    db.store_source_page(MEMBER, "lastfm", [(NOW, "Aurora Lane", "Night 0", None, None)], cursor=NOW, expected=900)
    db.ensure_user(OTHER)
    db.save_source_link(OTHER, "listenbrainz", "done", None)
    db.update_source_link(OTHER, "listenbrainz", status="current")
    assert await history.resume_unfinished() == 1
    assert await history.wait(MEMBER, "lastfm") == "current"
    assert await history.wait(OTHER, "listenbrainz") is None  # not started: the periodic sync will
    assert plays_of(db, MEMBER) == 900


def test_two_processes_never_walk_one_history_at_once(
        db: Database, lastfm: FakeLastFm, vault: TokenVault, history: HistorySync) -> None:
    lastfm.add_made_up_user("big", 400, newest_uts=NOW)
    link(db, vault, lastfm, MEMBER, "big")
    assert db.claim_walk(MEMBER, "lastfm", "other-process", time.time() + 600, time.time())
    assert history.run_link(MEMBER, "lastfm") == "elsewhere"
    assert plays_of(db, MEMBER) == 0 and lastfm.calls() == []
    # the other process died: once its lease runs out, this one takes over
    db.claim_walk(MEMBER, "lastfm", "other-process", time.time() - 1, time.time())
    assert history.run_link(MEMBER, "lastfm") == "current"
    assert plays_of(db, MEMBER) == 400 and db.source_link(MEMBER, "lastfm")["walk_holder"] is None


def test_a_member_who_links_a_source_through_any_process_is_found_as_new(db: Database) -> None:
    db.ensure_user(MEMBER)
    db.conn.execute("UPDATE users SET created_at = 0 WHERE discord_id = ?", (MEMBER,))  # known for long
    before = time.time() - 1
    assert MEMBER not in db.users_joined_since(before)
    db.save_source_link(MEMBER, "listenbrainz", "lb", None)
    assert MEMBER in db.users_joined_since(before)  # so every process records them in its own servers
