"""`python main.py --demo`: the real bot against the local fakes, a short scripted session printed in the terminal."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cogs.ui.format import RANGE_LABELS
from fakes.listening_history import Scrobble
from fakes.world import BotWorld, bot_world, embed_text
from utils.sources.history_sync import describe_link


@dataclass(frozen=True)
class Mention:
    """A member option. Their Discord id only exists once the fake world is up; the reader sees @Name."""

    username: str


@dataclass(frozen=True)
class Pick:
    """An option picked from Discord's list: the member sees `label`, the bot receives `value`."""

    label: str
    value: str


SCRIPT: list[tuple[str, str, dict[str, Any]]] = [
    ("alice", "sync", {}),
    ("alice", "top tracks", {"range": Pick(RANGE_LABELS["short_term"], "short_term")}),
    ("alice", "recommend", {"count": 5}),
    ("alice", "chart", {"size": "3x3", "kind": "albums", "range": Pick(RANGE_LABELS["all_time"], "all_time")}),
    ("bob", "taste", {"member": Mention("alice")}),
    ("carol", "server top", {}),
    ("carol", "chart", {"server": True, "size": "4x4", "kind": "artists", "range": Pick(RANGE_LABELS["all_time"], "all_time")}),
    ("alice", "blend", {"member1": Mention("bob"), "member2": Mention("carol")}),
    ("alice", "playlist", {}),
    ("bob", "affinity", {}),
    ("carol", "whoknows", {"artist": "Northern Signals"}),
    ("carol", "crowns", {"server": True}),
    ("carol", "recap", {}),
]


def typed(world: BotWorld, name: str, options: dict[str, Any]) -> str:
    """The command as a member writes it in Discord, e.g. `/taste member:@Alice` (never raw ids)."""
    parts = [f"/{name}"]
    for key, value in options.items():
        if isinstance(value, Mention):
            user = world.user(value.username)
            shown = f"@{user.global_name or user.username}"
        elif isinstance(value, Pick):
            shown = value.label
        else:
            shown = str(value)
        parts.append(f"{key}:{shown}")
    return " ".join(parts)


def sent(world: BotWorld, options: dict[str, Any]) -> dict[str, Any] | None:
    """What Discord hands the bot for those options: the member themselves, the picked value."""
    values = {key: world.user(value.username) if isinstance(value, Mention) else
              value.value if isinstance(value, Pick) else value for key, value in options.items()}
    return values or None


async def _show(world: BotWorld, who: str, name: str, options: dict[str, Any], pictures: Path | None = None,
                number: int = 0) -> None:
    print(f"\n> {who} runs {typed(world, name, options)}")
    files = []
    try:
        record = await world.slash(who, name, sent(world, options))
        reply = await world.answer(record, timeout=20)
        text = embed_text(reply).strip()
        files = world.discord.files(reply)
    except Exception as error:  # the demo goes on whatever one command does
        text = f"(no answer: {type(error).__name__}: {error})"
    lines = text.splitlines()
    for line in lines[:14]:
        print(f"  {line}")
    if len(lines) > 14:  # a long answer is cut here, in the terminal only: say so, or it looks cut in Discord too
        print(f"  \u2026 ({len(lines) - 14} more lines in Discord)")
    for file in files:
        note = f"  [picture: {file.filename}"
        if pictures is not None and file.filename.endswith(".png"):
            saved = pictures / f"{number:02d}-{name.replace(' ', '-')}-{file.filename}"
            saved.write_bytes(file.data)
            note += f", saved as {saved}"
        print(note + "]")


def _songs_of(world: BotWorld, who: str) -> list[tuple[str, str]]:
    rows = world.db.query("SELECT DISTINCT t.artist_name, t.name FROM plays p JOIN tracks t USING (track_id) "
                          "WHERE p.discord_id = ? ORDER BY t.name", (world.user(who).id,))
    return [(row["artist_name"], row["name"]) for row in rows]


async def _link_others(world: BotWorld) -> None:
    """carol links Last.fm (its web page, then the whole history); bob adds ListenBrainz (a private form)."""
    assert world.lastfm is not None and world.listenbrainz is not None
    now = int(time.time()) - 600
    songs = [*_songs_of(world, "alice"), ("Кино", "Звезда по имени Солнце"), ("宇多田ヒカル", "First Love")]
    world.lastfm.add_user("carol_fm", [Scrobble(now - i * 240, *songs[(i * 7) % len(songs)]) for i in range(1_500)])
    reply = await world.link_lastfm("carol", "carol_fm")
    await world.wait_history("carol", "lastfm")
    print("> carol ran /link lastfm, allowed the bot on (pretend) Last.fm, and her reply now says:")
    edited = await world.wait_for(lambda: "whole history is in" in embed_text(world.discord.message(int(reply["id"]))
                                                                              or {}), "carol's reply")
    if edited:
        print("  " + embed_text(world.discord.message(int(reply["id"])) or {}).strip().splitlines()[-1])
    bob_songs = _songs_of(world, "bob")
    token = world.listenbrainz.add_user("bob_lb", [Scrobble(now - 30 * 86_400 - i * 300, *bob_songs[i % len(bob_songs)])
                                                   for i in range(400)])
    record = await world.slash("bob", "link listenbrainz")
    await record.wait_response()
    await world.discord.submit_modal(record, {"token": token})
    await world.wait_history("bob", "listenbrainz")
    print("> bob ran /link listenbrainz and pasted his (pretend) ListenBrainz token into the private form:")
    print("  " + describe_link(world.db.source_link(world.user("bob").id, "listenbrainz") or {}).text)


async def _run(pictures: Path | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with bot_world(Path(folder)) as world:
            print("A pretend Discord server, Spotify, Last.fm and ListenBrainz are running on this computer.")
            for who in ("alice", "bob"):
                await world.link(who)
                print(f"> {who} ran /connect, agreed on (pretend) Spotify, and is linked and synced.")
            await _link_others(world)
            for number, (who, name, options) in enumerate(SCRIPT, start=1):
                await _show(world, who, name, options, pictures, number)
            print("\nThat's the bot. Run `python main.py` with real settings to use it on your own server.")


def run_demo(save_images: str | None = None) -> int:
    """Run the scripted session; with `save_images`, every picture the bot posted is written there as PNG."""
    logging.basicConfig(level=logging.WARNING)
    pictures = Path(save_images) if save_images else None
    if pictures is not None:
        pictures.mkdir(parents=True, exist_ok=True)
    asyncio.run(_run(pictures))
    return 0
