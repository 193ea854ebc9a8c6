"""Plain-words formatting shared by every cog: time ranges, freshness, list lines (no discord objects)."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable

from discord.ext import commands

from utils.errors import BotError
from utils.listening.periods import describe_range, parse_period, period_label
from utils.models import Item

SPOTIFY_GREEN = 0x1DB954
SOFT_RED = 0xE0564B
NEUTRAL = 0x5865F2

RANGE_LABELS: dict[str, str] = {
    "short_term": "Last 4 weeks",
    "medium_term": "Last 6 months",
    "long_term": "Last year",
    "all_time": "All time",
}
# Words members may type in a prefix command, mapped to a range.
_RANGE_WORDS: dict[str, str] = {
    "short": "short_term", "4w": "short_term", "4 weeks": "short_term", "month": "short_term", "weeks": "short_term",
    "recent": "short_term", "medium": "medium_term", "6m": "medium_term", "6 months": "medium_term",
    "months": "medium_term", "long": "long_term", "year": "long_term", "1y": "long_term", "last year": "long_term",
    "all": "all_time", "alltime": "all_time", "all time": "all_time", "ever": "all_time",
}
DEFAULT_RANGE = "medium_term"

# Discord refuses a whole message when one embed part is longer than this (its documented embed limits).
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
NAME_MAX = 100  # a name a member typed or imported, as shown in a title or a list line
ELLIPSIS = "\u2026"


def range_label(time_range: str) -> str:
    """"Last 4 weeks", "All time", "2019", "Mar 2024", "1 Jan 2024 – 30 Jun 2024"."""
    return RANGE_LABELS.get(time_range) or period_label(time_range) or time_range


RANGE_CHOICES_TEXT = ("last 4 weeks, last 6 months, last year, all time, a year like 2021, a month like Mar 2024, "
                      "or dates like 2024-01-01..2024-06-30")
MEMBER_NOT_FOUND = "I couldn't find that member in this server. Mention them, like @name."
_MENTION = re.compile(r"<@!?\d+>")


def is_range(text: str | None) -> bool:
    try:
        parse_range(text)
    except commands.BadArgument:
        return False
    return True


def looks_like_member(word: str) -> bool:
    """A mention (<@123>) or an @name typed as plain text: meant as a member, not a time range."""
    return bool(_MENTION.fullmatch(word)) or (word.startswith("@") and len(word) > 1)


def member_or_range_words(text: str) -> list[tuple[str, str]]:
    """Ways to read a prefix command's left-over words as (member words, range words): the member first, or last,
    as one word or several ("Mary Jane all time"), the longest reading of the member first."""
    words = text.split()
    readings: list[tuple[str, str]] = []
    for cut in range(len(words), 0, -1):
        readings.append((" ".join(words[:cut]), " ".join(words[cut:])))
    for cut in range(1, len(words)):
        readings.append((" ".join(words[cut:]), " ".join(words[:cut])))
    return readings


def not_member_or_range(text: str) -> str:
    """What to say when a prefix word is neither a member here nor a time range."""
    first = text.split()[0] if text.split() else text
    if looks_like_member(first):
        return MEMBER_NOT_FOUND
    try:
        parse_period(text)
    except BotError as error:  # a period, but one that makes no sense: say what is wrong with it
        return error.user_message
    return (f"I don't know the time range \u201c{clip(text.strip(), 40)}\u201d, and no member here goes by that "
            f"name. Pick one of: {RANGE_CHOICES_TEXT}; or mention a member, like @name.")


def prefix_leftover(ctx: object) -> str:
    """For a prefix command, the text typed after the last argument it took (discord.py ignores it); else ""."""
    if getattr(ctx, "interaction", None) is not None:
        return ""
    view = getattr(ctx, "view", None)
    return (view.read_rest() if view is not None else "").strip()


def parse_range(text: str | None) -> str:
    """A range value from what a member typed; raises BadArgument with plain words."""
    if not text:
        return DEFAULT_RANGE
    value = text.strip().lower().replace("_", " ").replace("-", " ")
    for key, label in RANGE_LABELS.items():
        if value in (key.replace("_", " "), label.lower()):
            return key
    if value in _RANGE_WORDS:
        return _RANGE_WORDS[value]
    try:
        period = parse_period(text)
    except BotError as error:  # shaped like a period, but one that makes no sense (month 13, ends before it starts)
        raise commands.BadArgument(error.user_message) from None
    if period is not None:
        return period
    raise commands.BadArgument(
        f"I don't know the time range \u201c{clip(text.strip(), 40)}\u201d. Pick one of: {RANGE_CHOICES_TEXT}.")


def range_choices(current: str, years: Iterable[int], months: Iterable[tuple[int, int]] = ()) -> list[tuple[str, str]]:
    """(label, value) pairs for autocomplete, filtered by what the member has typed so far: the fixed ranges, the
    years and months the member has plays in (newest first), and what they typed when it reads as a period."""
    options = [(label, key) for key, label in RANGE_LABELS.items()]
    options += [(f"The year {year}", str(year)) for year in sorted(years, reverse=True)]
    options += [(f"{calendar.month_name[m]} {y}", f"{y:04d}-{m:02d}") for y, m in sorted(months, reverse=True)]
    typed = current.strip().lower()
    chosen = [pair for pair in options if typed in pair[0].lower() or typed in pair[1]]
    try:
        period = parse_period(current) if typed else None
    except BotError:
        period = None
    if period is not None and period not in {value for _, value in chosen[:24]}:
        words = describe_range(period)
        chosen.insert(0, (words[:1].upper() + words[1:], period))
    return chosen[:25]


def ago(timestamp: float | None, now: float | None = None) -> str:
    """"just now", "12 min ago", "3 hours ago", "2 days ago"."""
    if not timestamp:
        return "never"
    seconds = max(0.0, (now or time.time()) - timestamp)
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 24:
        return "1 hour ago" if hours == 1 else f"{hours} hours ago"
    days = hours // 24
    return "yesterday" if days == 1 else f"{days} days ago"


def freshness(synced_at: float | None) -> str:
    """The footer that tells how old the data is."""
    return "Not synced with Spotify yet" if not synced_at else f"Synced {ago(synced_at)}"


_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in "*_~`|>[]"})


def escape(text: str) -> str:
    """Keep names with * _ ~ ` | from breaking the layout."""
    return (text or "").translate(_MARKDOWN_ESCAPES)  # a third of re.sub's time: a reply escapes ~30 names


def clip(text: str, limit: int) -> str:
    """Text cut to at most `limit` characters, ending in an ellipsis when it was cut.

    Never leaves a lone backslash at the end (it would escape the ellipsis) nor a trailing space.
    """
    text = text or ""
    if len(text) <= limit:
        return text
    cut = text[:max(0, limit - 1)]
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]
    return cut.rstrip() + ELLIPSIS


def short(text: str, limit: int = NAME_MAX) -> str:
    """A member-supplied name, escaped for markdown and cut to fit `limit` characters."""
    return clip(escape(text), limit)


def fit_lines(lines: list[str], limit: int) -> str:
    """Whole lines joined while they fit in `limit` characters (the first is cut if it alone is too long)."""
    kept: list[str] = []
    used = 0
    for line in lines:
        extra = len(line) + (1 if kept else 0)
        if used + extra > limit:
            if not kept:
                kept.append(clip(line, limit))
            break
        kept.append(line)
        used += extra
    return "\n".join(kept)


def item_line(item: Item, position: int, *, show_plays: bool = True) -> str:
    """One numbered line: linked title, artist, and how often it was played."""
    title = short(item.name)
    name = f"[{title}]({item.url})" if item.url else f"**{title}**"
    line = f"`{position:>2}.` {name}"
    if item.artist_name:
        line += f" \u2014 {short(item.artist_name)}"
    extra = []
    if show_plays and item.plays:
        extra.append(f"{item.plays} play{'s' if item.plays != 1 else ''}")
    if item.listeners:
        extra.append(f"{item.listeners} listener{'s' if item.listeners != 1 else ''}")
    if extra:
        line += f" \u00b7 {', '.join(extra)}"
    return line


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]
