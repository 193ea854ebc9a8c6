"""The periods members ask about: Spotify's ranges (4 weeks, 6 months, a year), all time, and calendar years.

Each period is a window of play times in milliseconds, so every feature counts the same plays for the same words.
"""

from __future__ import annotations

import calendar

from database import TIME_RANGES
from utils.errors import BotError

DAY_MS = 86_400_000
# A member's top list for a range stands for roughly this window of plays.
RANGE_DAYS = {"short_term": 28, "medium_term": 182, "long_term": 365}
TIME_RANGE_WORDS = {"short_term": "the last 4 weeks", "medium_term": "the last 6 months",
                    "long_term": "the last year", "all_time": "all time"}


def check_time_range(time_range: str) -> str:
    if time_range in TIME_RANGES or time_range == "all_time" or (time_range.isdigit() and len(time_range) == 4):
        return time_range
    raise BotError("That time range isn't one I know. Pick 4 weeks, 6 months, a year, all time, or a year like 2019.")


def describe_range(time_range: str) -> str:
    return TIME_RANGE_WORDS.get(time_range, f"{time_range}")


def year_bounds_ms(year: int) -> tuple[int, int]:
    return (calendar.timegm((year, 1, 1, 0, 0, 0)) * 1000, calendar.timegm((year + 1, 1, 1, 0, 0, 0)) * 1000)


def window_ms(time_range: str, now: float) -> tuple[int, int]:
    """Play window of a time range as (since_ms, until_ms): ranges by age, "all_time", or a year."""
    now_ms = int(now * 1000)
    if time_range in RANGE_DAYS:
        return now_ms - RANGE_DAYS[time_range] * DAY_MS, now_ms + DAY_MS
    if time_range == "all_time":
        return 0, 2**62
    if time_range.isdigit() and len(time_range) == 4:
        return year_bounds_ms(int(time_range))
    raise ValueError(f"unknown time range {time_range!r}")
