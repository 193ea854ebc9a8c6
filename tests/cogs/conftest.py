"""Fixtures for the Discord layer tests: the real bot against the fakes (see support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cogs.support import BotWorld, bot_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[BotWorld]:
    async with bot_world(tmp_path) as running:
        yield running


@pytest.fixture
async def linked(world: BotWorld) -> BotWorld:
    """alice and bob linked to their Spotify accounts (real OAuth round trip) and synced."""
    await world.link("alice")
    await world.link("bob")
    return world
