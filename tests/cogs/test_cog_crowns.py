"""Crowns through the real bot: first crowns from stored plays, /whoknows says when one changes hands, /crowns,
the leaderboard, hidden members, the admin settings and the weekly digest."""

from __future__ import annotations

from datetime import timedelta

from tests.cogs.support import BotWorld, embed_text
from tests.helpers.export_files import BASE_TIME, extended_entry, to_json


async def import_plays(world: BotWorld, who: str, artist: str, plays: int, start_days: int = 0) -> None:
    entries = [extended_entry(BASE_TIME + timedelta(days=start_days, hours=i), f"Song {i % 5}", artist)
               for i in range(plays)]
    file = world.discord.host_file("Streaming_History_Audio_2021.json", to_json(entries), "application/json")
    text = embed_text(await world.answer(await world.slash(who, "import file", {"file": file}), timeout=20))
    assert "History imported" in text


async def test_crowns_from_stored_plays_then_taken_on_whoknows(world: BotWorld) -> None:
    await import_plays(world, "carol", "The Quiet Harbor", 40)
    await import_plays(world, "carol", "Night Ferry", 10)  # under the threshold of 30: no crown
    board = embed_text(await world.answer(await world.slash("bob", "crowns", {"server": True})))
    assert "Carol" in board and "1 crown" in board
    mine = embed_text(await world.answer(await world.slash("carol", "crowns")))
    assert "The Quiet Harbor" in mine and "40 plays" in mine and "Night Ferry" not in mine

    await import_plays(world, "bob", "The Quiet Harbor", 45, start_days=30)
    who = embed_text(await world.answer(await world.slash("alice", "whoknows", {"artist": "The Quiet Harbor"})))
    assert "Bob took the crown for The Quiet Harbor from Carol" in who.replace("**", "")
    assert "**Bob** \U0001f451" in who and "from 30 plays" in who
    again = embed_text(await world.answer(await world.slash("alice", "whoknows", {"artist": "The Quiet Harbor"})))
    assert "took the crown" not in again and "**Bob** \U0001f451" in again
    theirs = embed_text(await world.answer(await world.slash("alice", "crowns", {"member": world.user("carol").id})))
    assert "holds no crowns" in theirs
    assert "The Quiet Harbor" in embed_text(await world.prefix("alice", f"crowns <@{world.user('bob').id}>"))
    reply = await world.prefix("alice", "crowns server")
    assert "Bob" in embed_text(reply) and "Carol" not in embed_text(reply)

    # the weekly digest tells the server
    music = world.guild.channel("music")
    await world.answer(await world.slash("alice", "settings digest", {"channel": music.id}))
    await world.bot._digest_tick()
    digest = embed_text(await world.discord.wait_message(music))
    assert "Crowns that changed hands" in digest
    assert "Bob took the crown for The Quiet Harbor from Carol" in digest.replace("**", "")


async def test_hidden_members_hold_no_crowns_and_admins_set_the_threshold(world: BotWorld) -> None:
    await import_plays(world, "carol", "The Quiet Harbor", 40)
    await import_plays(world, "bob", "The Quiet Harbor", 45, start_days=30)
    board = embed_text(await world.answer(await world.slash("alice", "crowns", {"server": True})))
    assert "Bob" in board and "Carol" not in board
    await world.answer(await world.slash("bob", "privacy visibility", {"setting": "hide"}))
    board = embed_text(await world.answer(await world.slash("alice", "crowns", {"server": True})))
    assert "Bob" not in board and "Carol" in board
    own = embed_text(await world.answer(await world.slash("bob", "crowns")))
    assert "hidden your listening" in own
    who = embed_text(await world.answer(await world.slash("alice", "whoknows", {"artist": "The Quiet Harbor"})))
    assert "Bob" not in who and "**Carol** \U0001f451" in who

    refused = embed_text(await world.prefix("bob", "settings crowns threshold 5"))
    assert "Manage Server" in refused
    text = embed_text(await world.answer(await world.slash("alice", "settings crowns threshold", {"plays": 41})))
    assert "at least 41 plays" in text
    board = embed_text(await world.answer(await world.slash("alice", "crowns", {"server": True})))
    assert "Nobody holds a crown" in board and "41 plays" in board
    text = embed_text(await world.answer(await world.slash("alice", "settings crowns off")))
    assert "Crowns are off" in text
    closed = embed_text(await world.answer(await world.slash("carol", "crowns", {"server": True})))
    assert "Crowns are off in this server" in closed and "/settings crowns on" in closed
    who = embed_text(await world.answer(await world.slash("alice", "whoknows", {"artist": "The Quiet Harbor"})))
    assert "\U0001f451" not in who and "Carol" in who
    shown = embed_text(await world.answer(await world.slash("alice", "settings show")))
    assert "Crowns Off" in shown
