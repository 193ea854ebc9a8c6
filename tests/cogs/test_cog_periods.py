"""Every command that takes a range also takes a year, a month and a span, typed or picked from suggestions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.cogs.support import BotWorld, embed_text
from tests.helpers.export_files import BASE_TIME, extended_entry, to_json


@pytest.fixture
async def imported(world: BotWorld) -> BotWorld:
    """carol's history: 40 plays of The Quiet Harbor in March 2021, 10 of Night Ferry in May 2021."""
    entries = [extended_entry(BASE_TIME + timedelta(hours=i), f"Song {i % 7}", "The Quiet Harbor") for i in range(40)]
    entries += [extended_entry(BASE_TIME + timedelta(days=62, hours=i), "Crossing", "Night Ferry") for i in range(10)]
    file = world.discord.host_file("Streaming_History_Audio_2021.json", to_json(entries), "application/json")
    assert "History imported" in embed_text(await world.answer(await world.slash("carol", "import file",
                                                                                  {"file": file}), timeout=20))
    return world


async def test_a_month_and_a_span_in_slash_and_prefix_form(imported: BotWorld) -> None:
    message = await imported.answer(await imported.slash("carol", "top artists", {"range": "Mar 2021"}))
    assert message["embeds"][0]["title"] == "Your top artists \u00b7 Mar 2021"
    assert "The Quiet Harbor" in embed_text(message) and "Night Ferry" not in embed_text(message)
    reply = await imported.prefix("carol", "top artists May 2021")
    assert reply["embeds"][0]["title"] == "Your top artists \u00b7 May 2021" and "Night Ferry" in embed_text(reply)
    message = await imported.answer(await imported.slash("carol", "top artists", {"range": "2021-03-01..2021-05-31"}))
    text = embed_text(message)
    assert "1 Mar 2021 \u2013 31 May 2021" in text and "The Quiet Harbor" in text and "Night Ferry" in text
    reply = await imported.prefix("carol", "server top artists May 2021")
    assert reply["embeds"][0]["title"] == "Top artists in Test Server \u00b7 May 2021"
    assert "Night Ferry" in embed_text(reply) and "The Quiet Harbor" not in embed_text(reply)
    message = await imported.answer(await imported.slash("carol", "profile", {"range": "2021"}))
    assert "The Quiet Harbor" in embed_text(message)


async def test_a_period_with_no_plays_or_that_makes_no_sense_is_said_plainly(imported: BotWorld) -> None:
    text = embed_text(await imported.answer(await imported.slash("carol", "top tracks", {"range": "Apr 2021"})))
    assert "no plays in April 2021" in text and "/import file" in text
    text = embed_text(await imported.answer(await imported.slash("carol", "profile", {"range": "2019"})))
    assert "no plays in 2019" in text
    text = embed_text(await imported.answer(await imported.slash("carol", "server top", {"range": "Jan 2020"})))
    assert "January 2020" in text and "Try another period" in text
    text = embed_text(await imported.prefix("carol", "top tracks 2021-13"))
    assert "no month 13" in text
    text = embed_text(await imported.answer(await imported.slash("carol", "top tracks",
                                                                 {"range": "2021-06-30..2021-01-01"})))
    assert "ends before it starts" in text and "error id" not in text


async def test_suggestions_offer_the_months_with_plays_and_what_was_typed(imported: BotWorld) -> None:
    async def choices(typed: str) -> list[dict[str, str]]:
        record = await imported.discord.autocomplete(imported.user("carol"), imported.guild, imported.general,
                                                     "top tracks", {"range": typed}, focused="range")
        return (await record.wait_response())["data"]["choices"]

    offered = {c["value"]: c["name"] for c in await choices("2021")}
    assert offered["2021"] == "The year 2021" and offered["2021-03"] == "March 2021" and "2021-05" in offered
    assert "2021-04" not in offered  # no plays that month
    span = await choices("2021-03-01..2021-03-15")
    assert span[0] == {"name": "1 Mar 2021 to 15 Mar 2021", "value": "2021-03-01..2021-03-15"}


async def test_the_chart_takes_a_month_too(imported: BotWorld) -> None:
    message = await imported.answer(await imported.slash("carol", "chart", {"size": "3x3", "kind": "artists",
                                                                               "range": "May 2021"}), timeout=20)
    assert message["embeds"][0]["title"] == "Your top artists \u00b7 May 2021"
    assert "Night Ferry" in embed_text(message) and "The Quiet Harbor" not in embed_text(message)
