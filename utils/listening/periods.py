"""The periods members ask about: Spotify's ranges (4 weeks, 6 months, a year), all time, and calendar periods:
a year (`2023`), a month (`2024-03`, typed `Mar 2024`), or a span of days (`2024-01-01..2024-06-30`, both ends in).

Each period is a window of play times in milliseconds (calendar periods in UTC), so every feature counts the same
plays for the same words. `parse_period` reads what a member typed; the other functions take the stored value.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from database import TIME_RANGES
from utils.errors import BotError

DAY_MS = 86_400_000
# A member's top list for a range stands for roughly this window of plays.
RANGE_DAYS = {"short_term": 28, "medium_term": 182, "long_term": 365}
TIME_RANGE_WORDS = {"short_term": "the last 4 weeks", "medium_term": "the last 6 months",
                    "long_term": "the last year", "all_time": "all time"}
FIRST_YEAR = 1990  # no listening history we can import goes further back
PERIOD_EXAMPLES = "a year like `2023`, a month like `Mar 2024`, or dates like `2024-01-01..2024-06-30`"
UNKNOWN_RANGE = ("That time range isn't one I know. Pick 4 weeks, 6 months, a year, all time, "
                 f"or {PERIOD_EXAMPLES}.")

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_YEAR = re.compile(r"\d{4}")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SPAN = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
_SPAN_SPLIT = re.compile(r"\s*(?:\.\.|\u2026|\bto\b|\buntil\b)\s*")


def is_calendar(time_range: str) -> bool:
    """A year, a month or a span (counted from stored plays), not one of Spotify's rolling ranges."""
    return time_range not in TIME_RANGES and time_range != "all_time"


# -- reading what a member typed ------------------------------------------------------------------------


def parse_period(text: str, now: float | None = None) -> str | None:
    """The stored value of a calendar period a member typed ("2023", "Mar 2024", "2024-01-01..2024-06-30",
    "2023 to 2024"); None when the text is not shaped like one; BotError (plain words) when it is but makes no sense."""
    value = " ".join(text.strip().lower().replace(",", " ").split())
    if not value:
        return None
    parts = _SPAN_SPLIT.split(value)
    if len(parts) == 2 and all(parts):
        start, end = _bounds(parts[0]), _bounds(parts[1])
        if start is None or end is None:
            return None
        first, last = start[0], end[1]
        if last < first:
            raise BotError("That period ends before it starts. Put the earlier date first, like `2024-01-01..2024-06-30`.")
        return _checked(_span_value(first, last), first, now)
    bounds = _bounds(value)
    if bounds is None:
        return None
    first, last = bounds
    if _YEAR.fullmatch(value):
        return _checked(value, first, now)
    if first.day == 1 and last == _month_end(first):
        return _checked(f"{first.year:04d}-{first.month:02d}", first, now)
    return _checked(_span_value(first, last), first, now)


def _bounds(word: str) -> tuple[date, date] | None:
    """First and last day of a year, a month or a day as typed; None if not shaped like one."""
    word = word.strip()
    try:
        if _YEAR.fullmatch(word):
            year = int(word)
            return _year_checked(year, date(year, 1, 1)), date(year, 12, 31)
        if match := _DAY.fullmatch(word):
            year, month, day = (int(g) for g in match.groups())
            first = _day(year, month, day)
            return first, first
        if match := _MONTH.fullmatch(word):
            first = _month_start(int(match[1]), int(match[2]))
            return first, _month_end(first)
        words = word.split()
        if len(words) == 2:
            month_word, year_word = (words if _YEAR.fullmatch(words[1]) else words[::-1])
            if month_word in _MONTHS and _YEAR.fullmatch(year_word):
                first = _month_start(int(year_word), _MONTHS[month_word])
                return first, _month_end(first)
    except ValueError:
        return None
    return None


def _year_checked(year: int, first: date) -> date:
    if year < FIRST_YEAR:
        raise BotError(f"I can't go back as far as {year}. Pick a year from {FIRST_YEAR} on.")
    return first


def _month_start(year: int, month: int) -> date:
    if not 1 <= month <= 12:
        raise BotError(f"There's no month {month}. Months go from 1 to 12, like `2024-03` or `Mar 2024`.")
    return _year_checked(year, date(year, month, 1))


def _day(year: int, month: int, day: int) -> date:
    first = _month_start(year, month)
    if not 1 <= day <= _month_end(first).day:
        raise BotError(f"{calendar.month_name[month]} {year} has no day {day}. Check the date and try again.")
    return date(year, month, day)


def _month_end(first: date) -> date:
    return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


def _span_value(first: date, last: date) -> str:
    return f"{first.isoformat()}..{last.isoformat()}"


def _checked(value: str, first: date, now: float | None) -> str:
    today = datetime.fromtimestamp(time.time() if now is None else now, UTC).date()
    if first > today:
        words = describe_range(value)
        raise BotError(f"{words[:1].upper() + words[1:]} hasn't happened yet, so there are no plays to show. "
                       "Pick a period up to today.")
    return value


# -- stored values ------------------------------------------------------------------------------------------


def check_time_range(time_range: str) -> str:
    """The stored value unchanged if it names a period we know; else a BotError in plain words."""
    if time_range in TIME_RANGES or time_range == "all_time":
        return time_range
    try:
        if _calendar_days(time_range) is not None:
            return time_range
    except ValueError:
        pass
    raise BotError(UNKNOWN_RANGE)


def _calendar_days(time_range: str) -> tuple[date, date] | None:
    """First and last day of a stored calendar period; None if it is not one."""
    if _YEAR.fullmatch(time_range):
        year = int(time_range)
        return date(year, 1, 1), date(year, 12, 31)
    if match := _MONTH.fullmatch(time_range):
        first = date(int(match[1]), int(match[2]), 1)
        return first, _month_end(first)
    if match := _SPAN.fullmatch(time_range):
        first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
        return (first, last) if first <= last else None
    return None


def describe_range(time_range: str) -> str:
    """The period in words for a sentence: "the last 4 weeks", "2023", "March 2024", "1 Jan 2024 to 30 Jun 2024"."""
    if time_range in TIME_RANGE_WORDS:
        return TIME_RANGE_WORDS[time_range]
    return _calendar_words(time_range, calendar.month_name, " to ") or time_range


def period_label(time_range: str) -> str | None:
    """A short label for a calendar period ("2023", "Mar 2024", "1 Jan 2024 \u2013 30 Jun 2024"); None otherwise."""
    return _calendar_words(time_range, calendar.month_abbr, " \u2013 ") if is_calendar(time_range) else None


def _calendar_words(time_range: str, month_names: Sequence[str], between: str) -> str | None:
    """A year, a month (named from `month_names`) or a span of days (`between` its ends); None for anything else."""
    try:
        days = _calendar_days(time_range)
    except ValueError:
        days = None
    if days is None:
        return None
    first, last = days
    if _YEAR.fullmatch(time_range):
        return time_range
    if _MONTH.fullmatch(time_range):
        return f"{month_names[first.month]} {first.year}"
    return f"{_day_words(first)}{between}{_day_words(last)}"


def _day_words(day: date) -> str:
    return f"{day.day} {calendar.month_abbr[day.month]} {day.year}"


def year_bounds_ms(year: int) -> tuple[int, int]:
    return (calendar.timegm((year, 1, 1, 0, 0, 0)) * 1000, calendar.timegm((year + 1, 1, 1, 0, 0, 0)) * 1000)


def window_ms(time_range: str, now: float) -> tuple[int, int]:
    """Play window of a period as (since_ms, until_ms): ranges by age, "all_time", a year, a month or a span."""
    now_ms = int(now * 1000)
    if time_range in RANGE_DAYS:
        return now_ms - RANGE_DAYS[time_range] * DAY_MS, now_ms + DAY_MS
    if time_range == "all_time":
        return 0, 2**62
    days = _calendar_days(time_range)
    if days is None:
        raise ValueError(f"unknown time range {time_range!r}")
    first, last = days
    return _day_ms(first), _day_ms(last + timedelta(days=1))


def _day_ms(day: date) -> int:
    return calendar.timegm(day.timetuple()) * 1000
