"""The per-server model cache: a model is kept only while the data it was built from is current."""

from __future__ import annotations

import threading
import time

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
