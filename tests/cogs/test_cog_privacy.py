"""Privacy: export, forget (with a confirm button), visibility."""

from __future__ import annotations

import json

from tests.cogs.support import BotWorld, custom_id, embed_text


async def test_export_is_a_private_json_file(linked: BotWorld) -> None:
    record = await linked.slash("alice", "privacy export")
    message = await linked.answer(record)
    assert record.ephemeral
    [sent] = record.files(message)
    data = json.loads(sent.data)
    assert data["discord_id"] == linked.user("alice").id
    assert "access_token" not in sent.data.decode()


async def test_export_by_prefix_goes_to_dms(linked: BotWorld) -> None:
    reply = await linked.prefix("bob", "privacy export")
    assert "direct message" in embed_text(reply)
    dm = await linked.discord.wait_dm(linked.user("bob"), lambda m: bool(m["attachments"]))
    assert dm["attachments"][0]["filename"] == "my-music-bot-data.json"


async def test_forget_asks_first_then_deletes_everything(linked: BotWorld) -> None:
    alice = linked.user("alice").id
    message = await linked.answer(await linked.slash("alice", "privacy forget"))
    assert "Delete all your data?" in embed_text(message)
    refused = await linked.discord.click(message, custom_id(message, "Yes, delete everything"), linked.user("bob"))
    await refused.wait_original()
    assert linked.db.get_user(alice) is not None
    press = await linked.discord.click(message, custom_id(message, "Yes, delete everything"), linked.user("alice"))
    assert (await press.wait_response())["type"] == 6
    await linked.wait_for(lambda: "deleted everything" in embed_text(linked.discord.message(message["id"])), "the result")
    assert "Last.fm and ListenBrainz" in embed_text(linked.discord.message(message["id"]))  # every link, said
    assert linked.db.get_user(alice) is None
    assert linked.db.query("SELECT COUNT(*) AS n FROM plays WHERE discord_id = ?", (alice,))[0]["n"] == 0


async def test_forget_cancel_changes_nothing(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("bob", "privacy forget"))
    press = await linked.discord.click(message, custom_id(message, "Cancel"), linked.user("bob"))
    await press.wait_response()
    assert "nothing was changed" in embed_text(linked.discord.message(message["id"]))
    assert linked.db.get_user(linked.user("bob").id) is not None


async def test_visibility_hide_show_and_state(linked: BotWorld) -> None:
    bob = linked.user("bob").id
    text = embed_text(await linked.answer(await linked.slash("bob", "privacy visibility", {"setting": "hide"})))
    assert "you're hidden" in text and linked.db.get_user(bob)["hidden"] == 1
    assert bob not in linked.db.visible_members(linked.guild.id)
    text = embed_text(await linked.answer(await linked.slash("bob", "privacy visibility")))
    assert "hidden from" in text
    await linked.answer(await linked.slash("bob", "privacy visibility", {"setting": "show"}))
    assert linked.db.get_user(bob)["hidden"] == 0


async def test_visibility_by_prefix_says_when_it_did_not_understand(linked: BotWorld) -> None:
    bob = linked.user("bob").id
    text = embed_text(await linked.prefix("bob", "privacy visibility hdie"))
    assert "I didn't understand \u201chdie\u201d. Use `hide` or `show`" in text
    assert "currently" not in text and linked.db.get_user(bob)["hidden"] == 0
    assert "you're hidden" in embed_text(await linked.prefix("bob", "privacy visibility hide"))
    assert linked.db.get_user(bob)["hidden"] == 1
    assert "currently **hidden from**" in embed_text(await linked.prefix("bob", "privacy visibility"))
