"""The bot with ENGINE_PROCESSES=1: /recommend answered through its engine process (on SQLite, and on PostgreSQL in
the suite's second pass), and the process stopped with the bot."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cogs.support import bot_world, embed_text
from tests.utils.music.test_engine_process import gone


async def test_the_bot_answers_recommend_through_its_engine_process_and_stops_it(tmp_path: Path) -> None:
    async with bot_world(tmp_path, engine_processes=1) as world:
        engine = world.services.engine
        assert engine is not None and await asyncio.to_thread(engine.wait_ready, 60)
        for name in ("alice", "bob", "carol"):
            await world.link(name)
        message = await world.answer(await world.slash("alice", "recommend", {"count": 5}), timeout=30)
        assert embed_text(message).count("↳") == 5 and engine.answered == 1
        pids = engine.pids()
        assert len(pids) == 1
        await world.bot.shutdown()
        assert engine.pids() == [] and all(gone(pid) for pid in pids)
