"""A member counts in every server the bot shares with them as soon as they have listening, however it came."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.cogs.support import BotWorld, embed_text
from tests.helpers.export_files import BASE_TIME, extended_entry, to_json


def _export(artist: str = "The Quiet Harbor", plays: int = 40) -> bytes:
    entries = [extended_entry(BASE_TIME + timedelta(hours=i), f"Song {i % 7}", artist) for i in range(plays)]
    return to_json(entries)


async def test_a_member_who_imports_by_attachment_counts_here_at_once(world: BotWorld) -> None:
    """carol never linked Spotify and never ran a command before: her import alone makes her count here."""
    file = world.discord.host_file("Streaming_History_Audio_2021.json", _export(), "application/json")
    assert "History imported" in embed_text(await world.answer(await world.slash("carol", "import file",
                                                                                  {"file": file}), timeout=20))
    who = embed_text(await world.answer(await world.slash("bob", "whoknows", {"artist": "The Quiet Harbor"})))
    assert "Nobody here" not in who and "carol" in who.lower()
    top = embed_text(await world.answer(await world.slash("bob", "server top", {"kind": "artists", "range": "2021"})))
    assert "The Quiet Harbor" in top


async def test_a_member_who_leaves_stops_counting_and_counts_again_on_return(world: BotWorld) -> None:
    file = world.discord.host_file("Streaming_History_Audio_2021.json", _export(), "application/json")
    await world.answer(await world.slash("carol", "import file", {"file": file}), timeout=20)
    carol = world.user("carol")
    await asyncio.to_thread(world.discord.remove_member, world.guild, carol)
    await world.wait_for(lambda: not world.db.query(
        "SELECT 1 FROM guild_members WHERE discord_id = ?", (carol.id,)), "carol's leaving")
    who = embed_text(await world.answer(await world.slash("bob", "whoknows", {"artist": "The Quiet Harbor"})))
    assert "Nobody here" in who
    await asyncio.to_thread(world.discord.add_member, world.guild, carol)
    await world.wait_for(lambda: world.db.query(
        "SELECT 1 FROM guild_members WHERE discord_id = ?", (carol.id,)), "carol's return")
    who = embed_text(await world.answer(await world.slash("bob", "whoknows", {"artist": "The Quiet Harbor"})))
    assert "carol" in who.lower()


async def test_a_member_who_imports_through_the_upload_link_counts_here(world: BotWorld) -> None:
    import requests

    from tests.cogs.support import components

    message = await world.answer(await world.slash("carol", "import file"))
    url = components(message)[0]["url"]
    posted = await world.wait_for(lambda: requests.post(url, files={"file": ("history.json", _export("Low Tide"))},
                                                        timeout=20), "the upload")
    assert posted.status_code == 200
    await world.wait_for(lambda: world.db.query("SELECT 1 FROM guild_members WHERE discord_id = ?",
                                                (world.user("carol").id,)), "carol counted here")
    who = embed_text(await world.answer(await world.slash("bob", "whoknows", {"artist": "Low Tide"})))
    assert "carol" in who.lower()
