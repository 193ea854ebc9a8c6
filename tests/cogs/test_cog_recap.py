"""A year in music through the real bot: a member's year, another member's, the server's, and plain refusals."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from tests.cogs.support import BotWorld, embed_text
from tests.helpers.export_files import extended_entry, to_json


def history() -> bytes:
    entries = [extended_entry(datetime(2020, 1, 5, tzinfo=UTC) + timedelta(hours=i), "Old Song", "Old Band",
                              album="First Album") for i in range(20)]
    entries += [extended_entry(datetime(2021, 3, 1, tzinfo=UTC) + timedelta(hours=5 * i), f"Song {i % 4}",
                               "The Quiet Harbor", album="Harbor Lights") for i in range(40)]
    entries += [extended_entry(datetime(2021, 5, 2, 8, tzinfo=UTC) + timedelta(minutes=10 * i), "Loop Song",
                               "Night Ferry", album="Crossing") for i in range(6)]
    entries += [extended_entry(datetime(2021, 7, 1, tzinfo=UTC) + timedelta(hours=i), "Old Song", "Old Band",
                               album="First Album") for i in range(10)]
    return to_json(entries)


@pytest.fixture
async def imported(world: BotWorld) -> BotWorld:
    file = world.discord.host_file("Streaming_History_Audio.json", history(), "application/json")
    assert "History imported" in embed_text(await world.answer(await world.slash("carol", "import file",
                                                                                  {"file": file}), timeout=20))
    return world


async def test_a_members_year_in_music(imported: BotWorld) -> None:
    text = embed_text(await imported.answer(await imported.slash("carol", "recap", {"year": "2021"})))
    text = text.replace("**", "")
    assert "Your 2021 in music" in text and "56 plays" in text and "186 minutes" in text
    assert "Busiest month: March (40 plays)" in text
    assert "The Quiet Harbor" in text and "Harbor Lights" in text
    first_heard = text.split("First heard in 2021")[1]
    assert "(2 new artists)" in first_heard and "Night Ferry" in first_heard and "Old Band" not in first_heard
    assert "Loop Song \u2014 6 times on 2 May" in text
    assert "more listening than in 2020" in text
    reply = embed_text(await imported.prefix("carol", "recap"))  # the latest year with plays
    assert "Your 2021 in music" in reply
    theirs = embed_text(await imported.answer(await imported.slash("bob", "recap",
                                                                   {"year": "2020", "member": imported.user("carol").id})))
    theirs = theirs.replace("**", "")
    assert "Carol's 2020 in music" in theirs and "20 plays" in theirs and "Nothing from 2019" in theirs
    server = embed_text(await imported.prefix("bob", "recap server 2021"))
    assert "Test Server's 2021 in music" in server and "56** plays" in server
    server = embed_text(await imported.answer(await imported.slash("bob", "recap", {"server": True, "year": "2020"})))
    assert "Test Server's 2020 in music" in server
    carol = imported.user("carol").id
    for typed in (f"recap 2020 <@{carol}>", f"recap <@{carol}> 2020"):
        assert "Carol's 2020 in music" in embed_text(await imported.prefix("bob", typed)), typed
    assert "Carol's 2021 in music" in embed_text(await imported.prefix("bob", f"recap <@{carol}>"))
    assert "covers a whole year" in embed_text(await imported.prefix("carol", "recap Mar 2021"))


async def test_recap_refuses_plainly_and_suggests_years(imported: BotWorld) -> None:
    text = embed_text(await imported.answer(await imported.slash("carol", "recap", {"year": "2019"})))
    assert "no plays in 2019" in text
    text = embed_text(await imported.answer(await imported.slash("carol", "recap", {"year": "Mar 2021"})))
    assert "covers a whole year" in text
    text = embed_text(await imported.answer(await imported.slash("carol", "recap", {"year": "2099"})))
    assert "hasn't happened yet" in text
    record = await imported.discord.autocomplete(imported.user("carol"), imported.guild, imported.general,
                                                 "recap", {"year": ""}, focused="year")
    assert [c["value"] for c in (await record.wait_response())["data"]["choices"]] == ["2021", "2020"]
    carol = imported.user("carol").id

    async def bobs_suggestions(options: dict) -> list[str]:
        record = await imported.discord.autocomplete(imported.user("bob"), imported.guild, imported.general,
                                                     "recap", {"year": "", **options}, focused="year")
        return [c["value"] for c in (await record.wait_response())["data"]["choices"]]

    # Bob has no plays of his own: he is offered the years of whoever he asks about
    assert await bobs_suggestions({}) == []
    assert await bobs_suggestions({"member": carol}) == ["2021", "2020"]
    assert await bobs_suggestions({"server": True}) == ["2021", "2020"]
    await imported.answer(await imported.slash("carol", "privacy visibility", {"setting": "hide"}))
    assert await bobs_suggestions({"member": carol}) == []  # no hint about a private member's years
    assert await bobs_suggestions({"server": True}) == []
    text = embed_text(await imported.answer(await imported.slash("bob", "recap",
                                                                 {"member": imported.user("carol").id})))
    assert "keeps their listening private" in text


async def test_a_recap_shows_its_months_as_a_bar_chart_with_the_numbers_in_words(imported: BotWorld) -> None:
    message = await imported.answer(await imported.slash("carol", "recap", {"year": "2021"}), timeout=20)
    files = imported.discord.files(message)
    assert [f.filename for f in files] == ["chart.png"]
    assert message["embeds"][0]["image"]["url"].endswith("chart.png")
    alt = message["attachments"][0]["description"]
    assert alt.startswith("A bar chart of plays in each month of 2021:") and "Mar 40" in alt and "May 6" in alt
    bars = Image.open(io.BytesIO(files[0].data)).convert("RGB")
    assert bars.size == (960, 480)
    # March (40 plays) stands taller than July (10), which stands taller than empty February
    def bar_height(month: int) -> int:
        x = int(60 + (960 - 60 - 30) / 12 * (month - 0.5))
        background = bars.getpixel((x, 20))
        return sum(1 for y in range(80, 480 - 70) if bars.getpixel((x, y)) != background)
    assert bar_height(3) > bar_height(7) > bar_height(2)
