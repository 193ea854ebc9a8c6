"""Importing a Spotify history export from Discord, and undoing it."""

from __future__ import annotations

from datetime import timedelta

import requests

from tests.cogs.support import BotWorld, components, custom_id, embed_text
from tests.helpers.export_files import BASE_TIME, extended_entry, to_json


def _export() -> bytes:
    entries = [extended_entry(BASE_TIME + timedelta(hours=i), f"Song {i % 7}", "The Quiet Harbor") for i in range(40)]
    entries.append(extended_entry(BASE_TIME + timedelta(days=3), "Skipped", "Someone", ms_played=5_000))
    return to_json(entries)


async def test_import_an_attached_file_then_undo(world: BotWorld) -> None:
    carol = world.user("carol").id
    file = world.discord.host_file("Streaming_History_Audio_2021.json", _export(), "application/json")
    record = await world.slash("carol", "import file", {"file": file})
    message = await world.answer(record, timeout=20)
    assert record.ephemeral
    text = embed_text(message)
    assert "History imported" in text and "New plays 41" in text
    profile = await world.answer(await world.slash("carol", "top artists", {"range": "2021"}))
    assert "The Quiet Harbor" in profile["embeds"][0]["description"]
    undo = await world.answer(await world.slash("carol", "import undo"))
    press = await world.discord.click(undo, custom_id(undo, "Yes, remove it"), world.user("carol"))
    await press.wait_response()
    await world.wait_for(lambda: "removed 41 imported plays" in embed_text(world.discord.message(undo["id"])), "undo")
    assert world.db.query("SELECT COUNT(*) AS n FROM plays WHERE discord_id = ?", (carol,))[0]["n"] == 0


async def test_a_file_that_is_not_an_export_is_refused_kindly(world: BotWorld) -> None:
    file = world.discord.host_file("holiday.json", b'{"photos": [1, 2, 3]}', "application/json")
    text = embed_text(await world.answer(await world.slash("bob", "import file", {"file": file})))
    assert "error id" not in text and "Traceback" not in text
    assert world.db.counts()["plays"] == 0


async def test_import_without_a_file_gives_a_private_upload_link_that_works(world: BotWorld) -> None:
    record = await world.slash("bob", "import file")
    message = await world.answer(record)
    assert record.ephemeral and "Extended streaming history" in embed_text(message)
    url = components(message)[0]["url"]
    page = await world.wait_for(lambda: requests.get(url, timeout=10), "the upload page")
    assert page.status_code == 200
    posted = await world.wait_for(lambda: requests.post(url, files={"file": ("history.json", _export())}, timeout=20),
                                  "the upload")
    assert posted.status_code == 200
    dm = await world.discord.wait_dm(world.user("bob"), timeout=10)
    assert "History imported" in embed_text(dm)


async def test_imported_songs_with_very_long_names_still_show(world: BotWorld) -> None:
    """Names in an export can be any length; lists cut them with an ellipsis so Discord never refuses the reply."""
    entries = [extended_entry(BASE_TIME + timedelta(hours=i), f"Suite No. {i} " + "la " * 200, "The " + "Long " * 60 + "Band")
               for i in range(12)]
    file = world.discord.host_file("Streaming_History_Audio_2021.json", to_json(entries), "application/json")
    assert "New plays 12" in embed_text(await world.answer(await world.slash("carol", "import file", {"file": file}),
                                                           timeout=20))
    for name, options in (("recent", None), ("top tracks", {"range": "2021"}), ("profile", {"range": "2021"})):
        message = await world.answer(await world.slash("carol", name, options))
        text = embed_text(message)
        assert "error id" not in text, f"/{name}: {text[:200]}"
        assert "Suite No. " in text and "la la\u2026" in text and "The Long Long" in text, f"/{name}"
    assert world.discord.rejected == []
