"""The sync against the fake Spotify over real HTTP, into a real SQLite file."""

from __future__ import annotations

import pytest

from database import Database
from tests.utils.services_support import GUILD, IDS, Services, services_fixture  # noqa: F401 - the `services` fixture
from utils.errors import BotError


def stored_plays(db: Database, discord_id: int) -> list[tuple[int, str]]:
    return [(r["played_at"], r["track_id"]) for r in db.query(
        "SELECT played_at, track_id FROM plays WHERE discord_id = ? ORDER BY played_at", (discord_id,))]


def api_calls(svc: Services) -> list[str]:
    return [r.path for r in svc.fake.request_log if r.path.startswith("/v1/")]


async def test_two_syncs_store_every_play_once_and_lose_none(services: Services) -> None:
    alice = services.link("alice")
    first = await services.sync.sync_member(alice)
    assert first.status == "synced" and first.plays_added == 50
    visible_then = services.fake.plays("alice")[-50:]
    newest = visible_then[-1][0]
    new_tracks = services.fake.top_tracks("bob", "short_term")[:3]
    for n, track in enumerate(new_tracks, start=1):
        services.fake.add_play("alice", track, newest + n * 240_000)

    second = await services.sync.sync_member(alice, force=True)
    assert second.plays_added == 3
    third = await services.sync.sync_member(alice, force=True)
    assert third.plays_added == 0
    expected = sorted(set(visible_then) | {(newest + n * 240_000, t) for n, t in enumerate(new_tracks, 1)})
    assert stored_plays(services.db, alice) == expected


async def test_a_sync_makes_at_most_seven_calls_plus_missing_artist_lookups(services: Services) -> None:
    alice = services.link("alice")
    services.fake.clear_log()
    await services.sync.sync_member(alice)
    calls = api_calls(services)
    lookups = [p for p in calls if p.startswith("/v1/artists/")]
    assert len(calls) - len(lookups) <= 7
    assert len(lookups) == len(set(lookups))  # each artist fetched once
    # every looked-up artist is one we had no details on; top-list artists come with details already
    top_ids = {a for r in ("short_term", "medium_term", "long_term") for a in services.fake.top_artists("alice", r)}
    assert not {p.rsplit("/", 1)[1] for p in lookups} & top_ids

    services.fake.clear_log()
    await services.sync.sync_member(alice, force=True)
    again = api_calls(services)
    assert len(again) <= 7 + 0 and not [p for p in again if p.startswith("/v1/artists/")]


async def test_recently_synced_member_is_skipped_unless_forced(services: Services) -> None:
    alice = services.link("alice")
    await services.sync.sync_member(alice)
    services.fake.clear_log()
    result = await services.sync.sync_member(alice)
    assert result.status == "skipped_recent" and "refreshed" in result.message
    assert await services.sync.sync_all() == []  # nobody due
    assert api_calls(services) == []
    forced = await services.sync.sync_member(alice, force=True)
    assert forced.status == "synced"


async def test_a_429_pauses_the_whole_run_then_it_resumes(services: Services) -> None:
    ids = [services.link(n) for n in ("alice", "bob", "carol")]
    services.fake.fail_next("/v1/me/top", 429, retry_after=120)
    results = await services.sync.sync_all()
    assert [r.status for r in results] == ["synced"] * 3
    assert any(s >= 100 for s in services.sleeps)  # waited out Retry-After before going on
    assert services.sync.last_run.paused_seconds >= 100
    for discord_id in ids:
        assert services.db.get_user(discord_id)["last_synced_at"] is not None


async def test_one_broken_member_does_not_stop_the_others(services: Services) -> None:
    alice, bob, carol = (services.link(n) for n in ("alice", "bob", "carol"))
    services.fake.revoke("bob")
    results = {r.discord_id: r for r in await services.sync.sync_all()}
    assert results[alice].status == results[carol].status == "synced"
    assert results[bob].status == "failed" and "/connect" in results[bob].message
    assert services.db.get_user(bob)["link_state"] == "broken"
    assert services.db.get_state("last_sync_at") is not None


async def test_a_failure_mid_write_leaves_nothing_half_written(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = services.link("alice")

    def broken_insert(*args: object, **kwargs: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(services.db, "insert_plays", broken_insert)
    result = await services.sync.sync_member(alice)
    assert result.status == "failed" and "disk" not in result.message
    for table in ("top_tracks", "top_artists", "plays", "tracks", "artists"):
        assert services.db.scalar(f"SELECT COUNT(*) FROM {table}") == 0, table
    user = services.db.get_user(alice)
    assert user["last_synced_at"] is None and user["recent_cursor_ms"] is None


async def test_sync_of_unlinked_member_says_so(services: Services) -> None:
    services.db.ensure_user(42, "Nobody")
    result = await services.sync.sync_member(42)
    assert result.status == "failed" and "/connect" in result.message


async def test_guild_membership_follows_discord_events(services: Services) -> None:
    alice, bob = services.link("alice", guild=None), services.link("bob", guild=None)
    await services.sync.sync_member(alice)
    await services.sync.sync_member(bob)
    await services.sync.set_guild_members(GUILD, [alice, bob, 999])  # 999: a member we hold nothing on
    assert services.db.visible_members(GUILD) == [alice, bob]
    assert (await services.community.blend(GUILD, [alice, bob])).items  # the server's view is now cached ...
    await services.sync.remove_member(GUILD, bob)
    assert services.db.visible_members(GUILD) == [alice]
    with pytest.raises(BotError):  # ... and follows Bob leaving at once
        await services.community.blend(GUILD, [alice, bob])
    await services.sync.add_member(GUILD, bob)
    assert services.db.visible_members(GUILD) == sorted([alice, bob])
    assert (await services.community.blend(GUILD, [alice, bob])).items
    assert IDS["alice"] == alice
