"""Export, erasure and visibility of one member's data."""

from __future__ import annotations

import json

import pytest

from tests.utils.services_support import GUILD, Services, services_fixture  # noqa: F401 - the `services` fixture
from utils.errors import NotEnoughData, NotLinked


async def test_export_is_readable_json_of_everything_but_tokens(services: Services) -> None:
    alice = services.link("alice")
    await services.sync.sync_member(alice)
    await services.music.feedback(alice, "some artist", "artist", -1)
    raw = await services.privacy.export(alice)
    document = json.loads(raw)
    assert "Everything this bot stores about you" in document["about"]
    assert len(document["plays"]) == 50 and document["top_tracks"] and document["feedback"]
    assert document["users"][0]["discord_id"] == alice
    assert document["spotify_link"]["linked"] is True
    tokens = services.db.get_tokens(alice)
    access = services.auth.vault.decrypt(tokens["access_token"])
    assert access not in raw.decode() and "access_token" not in raw.decode()
    assert raw.decode().count("\n") > 10  # pretty, for a person to read


async def test_forget_erases_the_member_everywhere(services: Services) -> None:
    alice, bob = services.link("alice"), services.link("bob")
    for member in (alice, bob):
        await services.sync.sync_member(member)
    await services.community.server_top(GUILD, "artists", "medium_term")  # fit and cache a community model
    await services.privacy.forget(alice)
    for table in ("users", "tokens", "plays", "top_tracks", "top_artists", "guild_members", "feedback"):
        assert services.db.scalar(f"SELECT COUNT(*) FROM {table} WHERE discord_id = ?", (alice,)) == 0, table
    assert services.db.visible_members(GUILD) == [bob]
    with pytest.raises(NotEnoughData):
        await services.music.profile(alice, "short_term")
    with pytest.raises(NotLinked):
        await services.playlists.save_playlist(alice, "last")
    # the community model no longer holds alice
    recs = await services.music.recommend(bob, GUILD, count=5)
    assert recs.items
    assert all(alice not in m.members for m in services.community.models._models.values())


async def test_hiding_takes_a_member_out_of_server_features_and_back(services: Services) -> None:
    alice, bob = services.link("alice"), services.link("bob")
    for member in (alice, bob):
        await services.sync.sync_member(member)
    await services.privacy.set_visibility(alice, True)
    assert services.db.visible_members(GUILD) == [bob]
    assert services.db.get_user(alice)["hidden"] == 1
    await services.privacy.set_visibility(alice, False)
    assert services.db.visible_members(GUILD) == sorted([alice, bob])
