"""A year in music, for one member or a whole server: plays and minutes, top artists, tracks and albums, the artists
first heard that year, the busiest month, songs on repeat, and how the year compares with the one before.

`Recap.monthly_plays` (12 numbers, January first) is what a month-by-month chart draws: the Discord layer may hand
it to an image maker (`utils/images`) and attach the picture; nothing here draws.

Blocking (run `build_recap` with `db.run`). Plays are counted in UTC years, skips left out, like every other count.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from database import Database
from storage.keys import artist_key
from utils.errors import NotEnoughData
from utils.listening.periods import year_bounds_ms
from utils.listening.reads import items_for_keys
from utils.models import Item

TOP = 5
REPEAT_AT_LEAST = 5  # plays of one song in one day before it counts as "on repeat"
# Last.fm and ListenBrainz give no song lengths: a play of a song whose length nobody told us counts as an
# average song, not as no time at all (else a Last.fm member's year was "1,500 plays, 0 minutes").
ASSUMED_SONG_MS = 210_000


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


@dataclass
class RecapParts:
    """What a recap reads from the database; the reads are independent, so they may run side by side."""

    rows: list[dict]
    before: set[str]
    previous: list[dict]
    repeats: list[dict]
    listeners: int


def read_recap(db: Database, members: Sequence[int], year: int, part: str) -> Any:
    """One of a recap's reads (`part` names it), blocking."""
    start, end = year_bounds_ms(year)
    if part == "rows":
        return db.recap_plays(members, month_bounds_ms(year))
    if part == "before":
        return db.recap_tracks_before(members, start)
    if part == "previous":
        return db.recap_totals(members, *year_bounds_ms(year - 1))
    if part == "repeats":
        return db.recap_repeats(members, start, end, REPEAT_AT_LEAST, 3)
    return db.recap_listeners(members, start, end)


READS = ("rows", "before", "previous", "repeats", "listeners")


def build_recap(db: Database, members: Sequence[int], year: int) -> Recap:
    """The year in music of these members (reading one part after the other). NotEnoughData when no plays."""
    members = sorted(set(members))
    return assemble_recap(db, members, year, RecapParts(*(read_recap(db, members, year, part) for part in READS)))


def assemble_recap(db: Database, members: Sequence[int], year: int, reads: RecapParts) -> Recap:
    """A Recap from its reads. NotEnoughData (in words) when the members have no plays that year."""
    if not reads.rows:
        raise NotEnoughData(f"There are no plays in {year} that I know of. Pick another year, or bring in older "
                            "listening with `/import file`.")
    songs = db.recap_tracks({r["track_id"] for r in reads.rows} | reads.before |
                            {r["track_id"] for r in reads.previous if r["track_id"] is not None})
    count = _Count(songs)
    for row in reads.rows:
        count.add(row)
    prior_plays = sum(int(r["plays"]) for r in reads.previous)
    prior_ms = sum(int(r["ms"]) + int(r["unknown"]) * song_ms(songs.get(r["track_id"] or "")) for r in reads.previous)
    heard = {artist_key(songs[t]["artist_key"]) for t in reads.before if t in songs}
    new = sorted(((k, p) for k, p in count.artists.items() if k not in heard), key=lambda kp: (-kp[1], kp[0]))
    repeat_keys = [songs[r["track_id"]]["name_key"] if r["track_id"] in songs else "" for r in reads.repeats]
    shown = items_for_keys(db, repeat_keys, "tracks")
    return Recap(
        year, tuple(members), count.plays, count.ms // 60_000, reads.listeners,
        _top(db, count.artists, "artists"), _top(db, count.tracks, "tracks"), count.top_albums(),
        items_for_keys(db, [k for k, _ in new[:TOP]], "artists", {k: {"plays": p} for k, p in new[:TOP]}), len(new),
        max(range(12), key=lambda m: (count.months[m], -m)) + 1, count.months,
        [ms // 60_000 for ms in count.months_ms],
        [Repeat(item, int(r["plays"]), int(r["day"]), int(r["discord_id"]))
         for item, r in zip(shown, reads.repeats, strict=True)],
        prior_plays, prior_ms // 60_000)


def song_ms(song: dict | None) -> int:
    """How long a play of this song lasted when the play itself doesn't say: its length, or an average song's."""
    return int((song or {}).get("duration_ms") or ASSUMED_SONG_MS)


class _Count:
    """Everything a recap counts, in one pass over the year's plays grouped by month and song."""

    def __init__(self, songs: dict[str, dict]) -> None:
        self.songs = songs
        self.plays = self.ms = 0
        self.months, self.months_ms = [0] * 12, [0] * 12
        self.tracks: Counter[str] = Counter()
        self.artists: Counter[str] = Counter()
        self.albums: Counter[tuple[str, str]] = Counter()
        self.album_names: dict[tuple[str, str], tuple[str, str]] = {}

    def add(self, row: dict) -> None:
        song = self.songs.get(row["track_id"])
        plays = int(row["plays"])
        ms = int(row["ms"]) + int(row["unknown"]) * song_ms(song)
        self.plays += plays
        self.ms += ms
        self.months[row["month"] - 1] += plays
        self.months_ms[row["month"] - 1] += ms
        if song is None:
            return
        artist = artist_key(song["artist_key"])
        self.tracks[song["name_key"]] += plays
        self.artists[artist] += plays
        if song.get("album_name"):
            album = (artist, song["album_name"].lower())
            self.albums[album] += plays
            self.album_names.setdefault(album, (song["album_name"], song["artist_name"]))

    def top_albums(self) -> list[Album]:
        ranked = sorted(self.albums.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        return [Album(*self.album_names[album], plays) for album, plays in ranked]


def _top(db: Database, counts: Counter[str], kind: str) -> list[Item]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    return items_for_keys(db, [k for k, _ in ranked], kind,
                          {k: {"plays": p, "rank": i} for i, (k, p) in enumerate(ranked, 1)})
