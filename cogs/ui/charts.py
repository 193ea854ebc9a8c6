"""Chart pictures in messages: the PNG as an attachment shown in the embed, with alt text and the list as text."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import discord

from cogs.ui.format import DESCRIPTION_MAX, FOOTER_MAX, SPOTIFY_GREEN, TITLE_MAX, clip, fit_lines, plural, short
from utils.images.service import ChartEntry

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
    if entry.plays:
        line += f" \u00b7 {plural(entry.plays, 'play')}"
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
    """Show the chart attachment as the embed's picture (list embeds get it on their first page)."""
    embed.set_thumbnail(url=None)
    embed.set_image(url=f"attachment://{CHART_FILE}")
    return embed
