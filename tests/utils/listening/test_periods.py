"""Periods as members type them: years, months and spans of days, and plain words for those that make no sense."""

from __future__ import annotations

import calendar

import pytest

from utils.errors import BotError
from utils.listening.periods import check_time_range, describe_range, parse_period, period_label, window_ms

NOW = calendar.timegm((2026, 12, 7, 12, 0, 0))


def ms(*ymd: int) -> int:
    return calendar.timegm((*ymd, 0, 0, 0)) * 1000


@pytest.mark.parametrize(("typed", "value", "words", "window"), [
    ("2023", "2023", "2023", (ms(2023, 1, 1), ms(2024, 1, 1))),
    ("Mar 2024", "2024-03", "March 2024", (ms(2024, 3, 1), ms(2024, 4, 1))),
    ("march 2024", "2024-03", "March 2024", (ms(2024, 3, 1), ms(2024, 4, 1))),
    ("2024-02", "2024-02", "February 2024", (ms(2024, 2, 1), ms(2024, 3, 1))),
    ("2024-01-01..2024-06-30", "2024-01-01..2024-06-30", "1 Jan 2024 to 30 Jun 2024", (ms(2024, 1, 1), ms(2024, 7, 1))),
    ("2024-01-01 .. 2024-01-01", "2024-01-01..2024-01-01", "1 Jan 2024 to 1 Jan 2024", (ms(2024, 1, 1), ms(2024, 1, 2))),
    ("2022 to 2023", "2022-01-01..2023-12-31", "1 Jan 2022 to 31 Dec 2023", (ms(2022, 1, 1), ms(2024, 1, 1))),
])
def test_years_months_and_spans_read_as_windows(typed: str, value: str, words: str, window: tuple[int, int]) -> None:
    assert parse_period(typed, NOW) == value
    assert check_time_range(value) == value
    assert describe_range(value) == words
    assert window_ms(value, NOW) == window


def test_labels_are_short() -> None:
    assert period_label("2024-03") == "Mar 2024"
    assert period_label("2024-01-01..2024-06-30") == "1 Jan 2024 \u2013 30 Jun 2024"
    assert period_label("short_term") is None


@pytest.mark.parametrize(("typed", "says"), [
    ("2024-13", "no month 13"),
    ("2024-02-30", "has no day 30"),
    ("2024-06-30..2024-01-01", "ends before it starts"),
    ("2031", "hasn't happened yet"),
    ("Jan 2027", "hasn't happened yet"),
    ("1950", "can't go back as far as 1950"),
])
def test_periods_that_make_no_sense_are_said_in_words(typed: str, says: str) -> None:
    with pytest.raises(BotError) as caught:
        parse_period(typed, NOW)
    assert says in caught.value.user_message


def test_other_words_are_not_periods_and_unknown_values_are_refused() -> None:
    assert parse_period("forever", NOW) is None and parse_period("", NOW) is None
    with pytest.raises(BotError):
        check_time_range("2024-03-01..2023-01-01")
    with pytest.raises(BotError):
        check_time_range("forever")
