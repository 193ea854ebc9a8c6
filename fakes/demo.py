"""`python main.py --demo`: the real bot against the local fakes, a short scripted session printed in the terminal."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

from fakes.world import BotWorld, bot_world, embed_text

SCRIPT: list[tuple[str, str, dict[str, Any] | None]] = [
    ("alice", "sync", None),
    ("alice", "top tracks", {"range": "short_term"}),
    ("alice", "recommend", {"count": 5}),
    ("bob", "taste", None),
    ("carol", "server top", None),
    ("alice", "blend", None),
    ("alice", "playlist", None),
]


async def _show(world: BotWorld, who: str, name: str, options: dict[str, Any] | None) -> None:
    print(f"\n> {who} runs /{name} {options or ''}".rstrip())
    try:
        record = await world.slash(who, name, options)
        reply = await world.answer(record, timeout=20)
        text = embed_text(reply).strip()
    except Exception as error:  # the demo goes on whatever one command does
        text = f"(no answer: {type(error).__name__}: {error})"
    for line in text.splitlines()[:14]:
        print(f"  {line}")


def _options_for(world: BotWorld, name: str, options: dict[str, Any] | None) -> dict[str, Any] | None:
    """Fill in member options, whose ids only exist once the fake world is up."""
    if name == "taste":
        return {"member": world.user("alice").id}
    if name == "blend":
        return {"member1": world.user("bob").id, "member2": world.user("carol").id}
    return options


async def _run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with bot_world(Path(folder)) as world:
            print("A pretend Discord server and a pretend Spotify are running on this computer.")
            for who in ("alice", "bob", "carol"):
                await world.link(who)
                print(f"> {who} ran /connect, agreed on (pretend) Spotify, and is linked and synced.")
            for who, name, options in SCRIPT:
                await _show(world, who, name, _options_for(world, name, options))
            print("\nThat's the bot. Run `python main.py` with real settings to use it on your own server.")


def run_demo() -> int:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_run())
    return 0
