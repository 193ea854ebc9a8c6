"""BaseCog.begin_with: the work starts before the acknowledgement; when the acknowledgement fails, the work stops and
its own error is not left for asyncio to report as never retrieved."""

from __future__ import annotations

import asyncio
import gc
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from cogs._base import BaseCog
from utils.errors import BotError


class AcknowledgementFailed(Exception):
    pass


def context(deferred: list[bool]) -> Any:
    """A command's context whose acknowledgement fails (Discord said the interaction expired): only `defer` is used."""

    async def defer(ephemeral: bool = True) -> None:
        await asyncio.sleep(0.01)
        deferred.append(ephemeral)
        raise AcknowledgementFailed()

    response = SimpleNamespace(is_done=lambda: False)
    return SimpleNamespace(interaction=SimpleNamespace(response=response), defer=defer)


async def test_a_failed_acknowledgement_stops_the_work() -> None:
    stopped = asyncio.Event()

    async def work() -> int:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()
        return 1

    deferred: list[bool] = []
    with pytest.raises(AcknowledgementFailed):
        await BaseCog.begin_with(context(deferred), work())
    assert deferred == [True]
    await asyncio.wait_for(stopped.wait(), 1)


async def test_work_that_failed_before_a_failed_acknowledgement_leaves_no_error_unretrieved(
        caplog: pytest.LogCaptureFixture) -> None:
    async def work() -> int:
        raise BotError("You have no listening yet.")

    caplog.set_level(logging.ERROR, logger="asyncio")
    failed = False
    try:
        await BaseCog.begin_with(context([]), work())
    except AcknowledgementFailed:
        failed = True  # (the error is not kept: its frames would keep the work's task from being collected)
    assert failed
    await asyncio.sleep(0)
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
