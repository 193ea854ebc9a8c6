"""A year in music, for one member or a whole server: plays and minutes, top artists, tracks and albums, the artists
first heard that year, the busiest month, songs on repeat, and how the year compares with the one before.

`Recap.monthly_plays` (12 numbers, January first) is what a month-by-month chart draws: the Discord layer may hand
it to an image maker (`utils/images`) and attach the picture; nothing here draws.

Blocking (run `build_recap` with `db.run`). Plays are counted in UTC years, skips left out, like every other count.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field

from database import Database
from storage.keys import artist_key
from utils.errors import NotEnoughData
from utils.listening.periods import year_bounds_ms
from utils.listening.reads import items_for_keys
from utils.models import Item

TOP = 5
REPEAT_AT_LEAST = 5  # plays of one song in one day before it counts as "on repeat"


@dataclass(frozen=True)
class Album:
    name: str
    artist_name: str
    plays: int


@dataclass(frozen=True)
class Repeat:
    """A song one member played `plays` times on one day (`day_ms`: that day's start, UTC)."""

    item: Item
    plays: int
    day_ms: int
    discord_id: int


@dataclass(frozen=True)
class Recap:
    year: int
    members: tuple[int, ...]  # whose plays: one member, or the server's members who share their listening
    plays: int
    minutes: int
    listeners: int
    top_artists: list[Item]
    top_tracks: list[Item]
    top_albums: list[Album]
    new_artists: list[Item]  # first heard this year, most played first
    new_artist_count: int
    busiest_month: int | None  # 1..12
    monthly_plays: list[int] = field(default_factory=lambda: [0] * 12)  # the month-by-month chart's numbers
    monthly_minutes: list[int] = field(default_factory=lambda: [0] * 12)
    on_repeat: list[Repeat] = field(default_factory=list)
    previous_plays: int = 0
    previous_minutes: int = 0

    @property
    def change_percent(self) -> int | None:
        """Minutes against the year before, in percent (None when there was nothing the year before)."""
        if not self.previous_minutes:
            return None
        return round(100 * (self.minutes - self.previous_minutes) / self.previous_minutes)

    @property
    def month_name(self) -> str | None:
        return calendar.month_name[self.busiest_month] if self.busiest_month else None


def month_bounds_ms(year: int) -> list[int]:
    """The 13 month starts of a year and the next (ms, UTC)."""
    return [calendar.timegm((year + (m - 1) // 12, (m - 1) % 12 + 1, 1, 0, 0, 0)) * 1000 for m in range(1, 14)]


def build_recap(db: Database, members: Sequence[int], year: int) -> Recap:
    """The year in music of these members. NotEnoughData (in words) when they have no plays that year."""
    members = sorted(set(members))
    start, end = year_bounds_ms(year)
    totals = db.recap_totals(members, start, end) if members else {"plays": 0}
    if not totals["plays"]:
        raise NotEnoughData(f"There are no plays in {year} that I know of. Pick another year, or bring in older "
                            "listening with `/import file`.")
    months_plays, months_minutes = [0] * 12, [0] * 12
    for row in db.recap_months(members, month_bounds_ms(year)):
        months_plays[row["month"] - 1] = int(row["plays"])
        months_minutes[row["month"] - 1] = int((row["ms"] or 0) // 60_000)
    busiest = max(range(12), key=lambda m: (months_plays[m], -m)) + 1
    artists = _items(db, db.recap_top(members, start, end, "artists", TOP), "artists")
    tracks = _items(db, db.recap_top(members, start, end, "tracks", TOP), "tracks")
    albums = [Album(r["name"], r["artist_name"], int(r["plays"])) for r in db.recap_top(members, start, end, "albums", TOP)]
    new_keys = _new_artists(db, members, start, end)
    new_items = items_for_keys(db, [k for k, _ in new_keys[:TOP]], "artists",
                               {k: {"plays": p} for k, p in new_keys[:TOP]})
    repeats = [Repeat(_items(db, [r], "tracks")[0], int(r["plays"]), int(r["day"]), int(r["discord_id"]))
               for r in db.recap_repeats(members, start, end, REPEAT_AT_LEAST, 3)]
    before = db.recap_totals(members, *year_bounds_ms(year - 1))
    return Recap(year, tuple(members), int(totals["plays"]), int((totals["ms"] or 0) // 60_000),
                 int(totals["listeners"]), artists, tracks, albums, new_items, len(new_keys), busiest,
                 months_plays, months_minutes, repeats, int(before["plays"] or 0), int((before["ms"] or 0) // 60_000))


def _items(db: Database, rows: list[dict], kind: str) -> list[Item]:
    keys = [artist_key(r["key"]) if kind == "artists" else r["key"] for r in rows]
    return items_for_keys(db, keys, kind, {k: {"plays": int(r["plays"]), "rank": i}
                                           for i, (k, r) in enumerate(zip(keys, rows, strict=True), 1)})


def _new_artists(db: Database, members: Sequence[int], start: int, end: int) -> list[tuple[str, int]]:
    """Artists first heard this year (nobody of `members` played them before), most played first."""
    this_year: dict[str, int] = {}
    for key, plays in db.recap_artist_plays(members, start, end).items():
        this_year[artist_key(key)] = this_year.get(artist_key(key), 0) + int(plays)
    heard = {artist_key(k) for k in db.recap_artists_before(members, start)}
    return sorted(((k, p) for k, p in this_year.items() if k not in heard), key=lambda kp: (-kp[1], kp[0]))

