"""CommunityService over real stored listening: server top, who knows, taste, blend, digest, who counts."""

from __future__ import annotations

import pytest

from storage.keys import artist_key
from tests.utils.services_support import (  # noqa: F401 - the `services` fixture
    GUILD,
    IDS,
    Services,
    known_track_keys,
    ms,
    services_fixture,
    sync_members,
)
from utils.errors import BotError


async def test_hidden_member_is_never_shown_counted_or_named(services: Services) -> None:
    alice, bob, *_ = await sync_members(services)
    await services.privacy.set_visibility(bob, True)
    for mode in ("balanced", "discover", "familiar"):
        recs = await services.music.recommend(alice, GUILD, count=15, mode=mode)
        assert not any("Bob" in r.reason for r in recs.items)
    model = services.community.models.get(services.db, GUILD, services.db.visible_members(GUILD), 0)
    assert bob not in model.members
    # bob's own favourite artist: whoknows and the server top must not count him
    bob_artist = services.fake.catalogue.artists[services.fake.top_artists("bob", "medium_term")[0]].name
    _, entries = await services.community.whoknows(GUILD, bob_artist)
    assert bob not in [e.discord_id for e in entries]
    listeners_now = {i.key: i.listeners for i in await services.community.server_top(GUILD, "artists", "medium_term")}
    await services.privacy.set_visibility(bob, False)
    listeners_shown = {i.key: i.listeners for i in await services.community.server_top(GUILD, "artists", "medium_term")}
    assert listeners_shown[artist_key(bob_artist)] == listeners_now.get(artist_key(bob_artist), 0) + 1
    # a hidden member still gets their own recommendations
    await services.privacy.set_visibility(bob, True)
    own = await services.music.recommend(bob, GUILD, count=5)
    assert own.items and not set(r.item.key for r in own.items) & known_track_keys(services, bob)
    with pytest.raises(BotError):
        await services.community.taste(GUILD, alice, bob)


async def test_taste_is_symmetric_and_between_0_and_100(services: Services) -> None:
    alice, bob, carol, *_ = await sync_members(services)
    ab, ba = await services.community.taste(GUILD, alice, bob), await services.community.taste(GUILD, bob, alice)
    assert ab.score == ba.score and 0 <= ab.score <= 100
    assert {i.key for i in ab.shared_artists} == {i.key for i in ba.shared_artists}
    assert "Alice" in ab.summary and "Bob" in ab.summary
    ac = await services.community.taste(GUILD, alice, carol)
    assert 0 <= ac.score <= 100


async def test_blend_represents_every_member(services: Services) -> None:
    ids = await sync_members(services)
    result = await services.community.blend(GUILD, ids, size=10)
    assert len(result.items) == 10 and sorted(result.members) == sorted(ids)
    represented = {m for _, who in result.items for m in who}
    assert represented == set(ids)


async def test_server_features_can_be_turned_off(services: Services) -> None:
    await sync_members(services, ("alice", "bob"))
    assert await services.community.server_top(GUILD, "artists", "short_term")
    await services.community.access.set_community(GUILD, False)
    with pytest.raises(BotError, match="turned off"):
        await services.community.server_top(GUILD, "artists", "short_term")
    with pytest.raises(BotError, match="turned off"):
        await services.community.whoknows(GUILD, "anyone")
    # personal recommendations keep working without the community, and say why they are personal only
    recs = await services.music.recommend(IDS["alice"], GUILD, count=5)
    assert recs.items and recs.note == "Server features are off here, so these come from your own listening."


async def test_weekly_digest_and_server_recommendations(services: Services) -> None:
    await sync_members(services)
    digest = await services.community.weekly_digest(GUILD)
    assert digest.guild_id == GUILD and digest.top_artists
    assert len(digest.recommendations) <= 5
    server = await services.community.server_recommend(GUILD, count=8)
    assert 0 < len(server.items) <= 8
    assert await services.music.artist_names(digest.top_artists[0].name[:3])
