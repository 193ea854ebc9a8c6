"""Chart pictures in messages: the PNG as an attachment shown in the embed, with alt text and the list as text."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

from cogs.ui.format import DESCRIPTION_MAX, FOOTER_MAX, SPOTIFY_GREEN, TITLE_MAX, clip, fit_lines, plural, short
from utils.images.service import ChartEntry, ImageService, entries_from_items
from utils.logger import get_logger
from utils.models import Digest, Item, TasteMatch

log = get_logger("cogs.charts")

CHART_FILE = "chart.png"
TASTE_FILE = "taste.png"
PICTURE_WORDS = {"albums": "album covers", "artists": "artist pictures", "tracks": "song covers"}
ALT_TEXT_MAX = 1024  # Discord's limit for an attachment's description
SIZES = [f"{n}x{n}" for n in range(3, 11)]
KIND_WORDS = {"album": "albums", "albums": "albums", "artist": "artists", "artists": "artists",
              "track": "tracks", "tracks": "tracks", "song": "tracks", "songs": "tracks"}
LABELS_OFF_WORDS = {"off", "labels:off", "nolabels", "no-labels", "clean", "labels=off"}


def parse_size(text: str | None) -> int | None:
    """3 to 10 from "5x5", "5" or "5×5"; None when the text is no size at all."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*(?:[x\u00d7*]\s*(\d{1,2}))?\s*", text or "")
    if not match or (match.group(2) and match.group(2) != match.group(1)):
        return None
    return int(match.group(1))


def chart_file(png: bytes, alt_text: str, filename: str = CHART_FILE) -> discord.File:
    return discord.File(io.BytesIO(png), filename=filename, description=clip(alt_text, ALT_TEXT_MAX))


def entry_line(entry: ChartEntry, position: int) -> str:
    line = f"`{position:>2}.` **{short(entry.name)}**"
    if entry.subtitle:
        line += f" \u2014 {short(entry.subtitle)}"
    counts = [plural(n, word) for n, word in ((entry.plays, "play"), (entry.listeners, "listener")) if n]
    if counts:
        line += " \u00b7 " + ", ".join(counts)
    return line


def alt_text(kind: str, grid: int, entries: Sequence[ChartEntry]) -> str:
    """What the picture shows, in words, for screen readers."""
    names = [e.name + (f" by {e.subtitle}" if e.subtitle else "") for e in entries[: grid * grid]]
    return f"A {grid} by {grid} grid of {PICTURE_WORDS.get(kind, kind)}, in order: " + "; ".join(names) + "."


def chart_embed(title: str, kind: str, grid: int, entries: Sequence[ChartEntry], footer: str) -> discord.Embed:
    """The chart picture in an embed, with its squares listed as text under the title."""
    shown = list(entries[: grid * grid])
    lines = [entry_line(entry, i) for i, entry in enumerate(shown, start=1)]
    embed = discord.Embed(title=clip(title, TITLE_MAX), description=fit_lines(lines, DESCRIPTION_MAX) or None,
                          colour=SPOTIFY_GREEN)
    embed.set_image(url=f"attachment://{CHART_FILE}")
    if len(shown) < grid * grid:
        footer = f"Only {plural(len(shown), kind[:-1])} to show, so some squares are empty. " + footer
    embed.set_footer(text=clip(footer, FOOTER_MAX))
    return embed


def attach_chart(embed: discord.Embed) -> discord.Embed:
    """Show the chart attachment as the embed's picture (instead of a thumbnail)."""
    embed.set_thumbnail(url=None)
    embed.set_image(url=f"attachment://{CHART_FILE}")
    return embed


def avatar_url(user: discord.abc.User) -> str | None:
    """A member's avatar (or Discord's default one) at a size the taste card needs."""
    try:
        return user.display_avatar.with_size(256).url
    except (AttributeError, ValueError):
        return None


async def picture_file(draw: Callable[[], Awaitable[bytes]], alt: str, filename: str = CHART_FILE) -> discord.File | None:
    """A drawn picture as an attachment, or None when drawing failed: the text answer goes out either way."""
    try:
        return chart_file(await draw(), alt, filename)
    except Exception:
        log.exception("could not draw a picture; the answer goes out without it")
        return None


async def taste_file(images: ImageService | None, match: TasteMatch, first: discord.abc.User,
                     second: discord.abc.User) -> discord.File | None:
    """The taste match card: both avatars, the score and the artists shared."""
    if images is None:
        return None
    shared = [artist.name for artist in match.shared_artists[:5]]
    names = (first.display_name, second.display_name)
    alt = (f"Taste match card: {names[0]} and {names[1]}, {match.score}% match. "
           + (f"Artists they share: {', '.join(shared)}." if shared else "No artists in common yet."))
    return await picture_file(lambda: images.taste_card(names, (avatar_url(first), avatar_url(second)), match.score,
                                                        shared), alt, TASTE_FILE)


async def items_chart_file(images: ImageService | None, items: Sequence[Item], kind: str,
                           grid: int = 3) -> discord.File | None:
    """A small chart of a list's first covers (server top, the weekly digest), or None without pictures."""
    if images is None or not items:
        return None
    entries = entries_from_items(items[: grid * grid])
    return await picture_file(lambda: images.chart(entries, grid), alt_text(kind, grid, entries))


async def digest_chart(services: Any, digest: Digest, embed: discord.Embed) -> dict[str, Any]:
    """`send` arguments adding the week's top artists as a picture in the digest's embed (none without pictures)."""
    picture = await items_chart_file(getattr(services, "images", None), digest.top_artists, "artists")
    if picture is None:
        return {"embed": embed}
    return {"embed": attach_chart(embed), "file": picture}
