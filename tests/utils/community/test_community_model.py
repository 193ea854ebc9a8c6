"""The per-server model cache: a model is kept only while the data it was built from is current."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from database import Database
from utils.community import model as community_model
from utils.community.model import ModelCache

GUILD = 5
NOW_MS = 1_700_000_000_000


def listen(db: Database, discord_id: int, track_id: str, artist: str, title: str, times: int = 3) -> None:
    db.ensure_user(discord_id, f"member{discord_id}")
    db.upsert_tracks([{"track_id": track_id, "name": title, "artist_id": None, "artist_name": artist,
                       "album_name": "Album", "duration_ms": 200_000}])
    db.insert_plays(discord_id, [(NOW_MS + i * 60_000 + hash(track_id) % 1000, track_id, 180_000, "spotify", 0)
                                 for i in range(times)])


def model_tracks(model: community_model.CommunityModel, discord_id: int) -> set[str]:
    return set(model.tracks_of(discord_id))


def fit_paused_after_reading(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make the next fit signal once it has read the data, then wait before handing its model back."""
    has_read, carry_on = threading.Event(), threading.Event()
    real_fit = community_model.fit_community

    def slow_fit(*args: object) -> community_model.CommunityModel:
        model = real_fit(*args)  # type: ignore[arg-type]
        has_read.set()
        carry_on.wait(10)
        return model

    monkeypatch.setattr(community_model, "fit_community", slow_fit)
    return has_read, carry_on


@pytest.mark.parametrize("change", ["member synced", "server changed"])
def test_a_model_read_before_a_change_is_not_kept_for_later_requests(
        db: Database, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    cache = ModelCache()
    has_read, carry_on = fit_paused_after_reading(monkeypatch)
    answers: list[community_model.CommunityModel] = []
    fitting = threading.Thread(target=lambda: answers.append(cache.get(db, GUILD, [1, 2], time.time())))
    fitting.start()
    assert has_read.wait(10)
    listen(db, 1, "tr_new", "Band", "Brand New")  # the sync lands while the fit is still running
    if change == "member synced":
        cache.forget_member(1)
    else:
        cache.invalidate(GUILD)
    carry_on.set()
    fitting.join(10)
    assert answers and "band - brand new" not in model_tracks(answers[0], 1)  # the caller who asked first
    monkeypatch.undo()
    assert cache.peek(GUILD, [1, 2]) is None
    assert "band - brand new" in model_tracks(cache.get(db, GUILD, [1, 2], time.time()), 1)


def test_a_change_to_someone_outside_the_model_keeps_it(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    cache = ModelCache()
    has_read, carry_on = fit_paused_after_reading(monkeypatch)
    fitting = threading.Thread(target=cache.get, args=(db, GUILD, [1, 2], time.time()))
    fitting.start()
    assert has_read.wait(10)
    cache.forget_member(99)
    carry_on.set()
    fitting.join(10)
    assert cache.peek(GUILD, [1, 2]) is not None


class Jobs:
    """Background refits held until the test runs them (the bot hands them to its fitting threads)."""

    def __init__(self) -> None:
        self.waiting: list[Callable[[], None]] = []

    def __call__(self, job: Callable[[], None]) -> None:
        self.waiting.append(job)

    def run_all(self) -> None:
        while self.waiting:
            self.waiting.pop(0)()


def stale_cache(db: Database, members: list[int]) -> tuple[ModelCache, Jobs, community_model.CommunityModel]:
    """A cache holding a model of `members` that is past its time limit, with refits held in `Jobs`."""
    jobs = Jobs()
    cache = ModelCache(ttl=60, background=jobs)
    old = cache.get(db, GUILD, members, time.time())
    old.fitted_at -= 120
    return cache, jobs, old


def test_a_stale_model_answers_at_once_and_one_background_refit_replaces_it(db: Database) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    cache, jobs, old = stale_cache(db, [1, 2])
    listen(db, 2, "tr_c", "Other", "Third")  # new listening that only the refit will see
    assert cache.peek(GUILD, [1, 2]) is None  # past its time: not fresh
    assert cache.serve(db, GUILD, [1, 2], time.time()) is old  # ...but it answers, without waiting for a fit
    assert cache.serve(db, GUILD, [2, 1], time.time()) is old
    assert len(jobs.waiting) == 1  # one refit for the guild, however many commands ask meanwhile
    jobs.run_all()
    new = cache.serve(db, GUILD, [1, 2], time.time())
    assert new is not None and new is not old and cache.peek(GUILD, [1, 2]) is new
    assert "other - third" in model_tracks(new, 2)
    assert not jobs.waiting


def test_a_members_sync_keeps_the_model_answering_until_one_refit_brings_their_new_listening_in(
        db: Database) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    jobs = Jobs()
    cache = ModelCache(ttl=60, background=jobs)
    fresh = cache.get(db, GUILD, [1, 2], time.time())
    listen(db, 2, "tr_c", "Other", "Third")
    cache.mark_stale(2)  # as the sync's listeners do after storing the new plays
    assert cache.peek(GUILD, [1, 2]) is None  # no longer current...
    served = cache.serve(db, GUILD, [1, 2], time.time())
    assert served is not None and served.model is fresh.model  # ...but it answers at once, fitted as before
    assert "other - third" not in model_tracks(served, 2)
    assert not served.has(2) and served.has(1)  # member 2's own picks fold in their listening as it is now
    cache.serve(db, GUILD, [1, 2], time.time())
    assert len(jobs.waiting) == 1  # one refit, however many ask meanwhile
    jobs.run_all()
    new = cache.serve(db, GUILD, [1, 2], time.time())
    assert new is not None and "other - third" in model_tracks(new, 2) and cache.peek(GUILD, [1, 2]) is new
    assert new.has(2)
    cache.mark_stale(99)  # someone in no model: nothing changes
    assert cache.peek(GUILD, [1, 2]) is new


def test_a_newcomer_is_served_the_old_model_until_the_refit_takes_them_in(db: Database) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    cache, jobs, old = stale_cache(db, [1, 2])
    old.fitted_at += 120  # still fresh: only the members changed
    listen(db, 3, "tr_c", "New", "Song")
    assert cache.serve(db, GUILD, [1, 2, 3], time.time()) is old
    jobs.run_all()
    new = cache.serve(db, GUILD, [1, 2, 3], time.time())
    assert new is not None and new.has(3) and not old.has(3)


def test_a_model_holding_someone_who_left_or_hid_is_never_served(db: Database) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    listen(db, 3, "tr_c", "Third", "Song")
    cache, jobs, _ = stale_cache(db, [1, 2, 3])
    assert cache.serve(db, GUILD, [1, 2], time.time()) is None  # member 3 is no longer visible here
    assert not jobs.waiting
    fitted = cache.get(db, GUILD, [1, 2], time.time())  # what the service does next, on the fitting threads
    assert not fitted.has(3) and model_tracks(fitted, 3) == set()


def test_erasure_drops_a_stale_model_at_once_and_its_refit_is_not_kept(db: Database) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    listen(db, 3, "tr_c", "Third", "Song")
    cache, jobs, old = stale_cache(db, [1, 2, 3])
    assert cache.serve(db, GUILD, [1, 2, 3], time.time()) is old  # a refit is now queued
    db.erase_user(1)
    cache.forget_member(1)  # as the privacy service's change listeners do: their data must stop being used now
    assert cache.serve(db, GUILD, [1, 2, 3], time.time()) is None
    assert cache.peek(GUILD, [1, 2, 3]) is None
    jobs.run_all()  # the refit queued before reads the data as it is now
    assert model_tracks(cache.get(db, GUILD, [2, 3], time.time()), 1) == set()


def test_erasure_during_a_background_refit_keeps_its_result_out(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    cache, jobs, old = stale_cache(db, [1, 2])
    assert cache.serve(db, GUILD, [1, 2], time.time()) is old
    has_read, carry_on = fit_paused_after_reading(monkeypatch)
    refit = threading.Thread(target=jobs.run_all)
    refit.start()
    assert has_read.wait(10)
    cache.forget_member(2)
    carry_on.set()
    refit.join(10)
    assert cache.serve(db, GUILD, [1, 2], time.time()) is None  # the refit read member 2 before: not served


def test_one_guild_is_never_fitted_twice_at_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    cache = ModelCache(ttl=60)  # refits on threads of their own
    old = cache.get(db, GUILD, [1, 2], time.time())
    old.fitted_at -= 120
    real_fit = community_model.fit_community
    running, most, fits = [0], [0], [0]
    count = threading.Lock()

    def counted_fit(*args: object) -> community_model.CommunityModel:
        with count:
            running[0] += 1
            fits[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        try:
            return real_fit(*args)  # type: ignore[arg-type]
        finally:
            with count:
                running[0] -= 1

    monkeypatch.setattr(community_model, "fit_community", counted_fit)
    # Commands at once, all served the stale model: one background refit starts.
    askers = [threading.Thread(target=cache.serve, args=(db, GUILD, [1, 2], time.time())) for _ in range(5)]
    for asker in askers:
        asker.start()
    deadline = time.time() + 10
    while not running[0] and time.time() < deadline:
        time.sleep(0.005)
    # While it fits, a member leaves: that command must fit first, and waits for the refit rather than fit beside it.
    leaving = threading.Thread(target=cache.get, args=(db, GUILD, [1], time.time()))
    leaving.start()
    for asker in [*askers, leaving]:
        asker.join(10)
    while cache._refitting and time.time() < deadline:
        time.sleep(0.01)
    assert fits[0] == 2 and most[0] == 1
    assert cache.peek(GUILD, [1]) is not None


def test_a_sync_during_a_refit_keeps_the_refit_so_a_busy_server_still_moves_on(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a big server someone syncs during nearly every refit: the refit is still newer than the model it
    replaces (it has the newcomer), so it is kept, old only for whoever synced meanwhile."""
    listen(db, 1, "tr_a", "Band", "First")
    listen(db, 2, "tr_b", "Other", "Second")
    cache, jobs, old = stale_cache(db, [1, 2])
    old.fitted_at += 120
    listen(db, 3, "tr_c", "New", "Song")  # a newcomer only a refit takes in
    assert cache.serve(db, GUILD, [1, 2, 3], time.time()) is old
    has_read, carry_on = fit_paused_after_reading(monkeypatch)
    refit = threading.Thread(target=jobs.run_all)
    refit.start()
    assert has_read.wait(10)
    listen(db, 2, "tr_d", "Other", "Fresh")
    cache.mark_stale(2)  # member 2 synced while the refit ran
    carry_on.set()
    refit.join(10)
    monkeypatch.undo()
    served = cache.serve(db, GUILD, [1, 2, 3], time.time())
    assert served is not None and served is not old and served.has(3)  # the newcomer is in
    assert not served.has(2)  # member 2's own picks fold in what they just played
    assert len(jobs.waiting) == 1  # and one more refit brings their new listening in for everyone
    jobs.run_all()
    newest = cache.serve(db, GUILD, [1, 2, 3], time.time())
    assert newest is not None and "other - fresh" in model_tracks(newest, 2) and newest.has(2)
