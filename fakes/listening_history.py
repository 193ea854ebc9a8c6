"""Listening histories for the fake Last.fm and ListenBrainz: newest first, given as a list or made up on demand.

A made-up history of 500,000 plays costs nothing until a page of it is asked for, so a benchmark can pull a
whole big account from a fake in the same process without the fake's own memory muddying the figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scrobble:
    """One play as a listening service names it: names, maybe ids, and when (Unix seconds)."""

    uts: int
    artist: str
    title: str
    album: str = ""
    mbid: str = ""
    spotify_id: str = ""  # a Spotify track id, which ListenBrainz passes on as an open.spotify.com address


# Names in several scripts, so every path meets them (keys, storage, embeds).
_ARTISTS = ("Aurora Lane", "The Quiet Hours", "Beyoncé", "宇多田ヒカル", "Кино", "Sigur Rós", "YOASOBI",
            "Mø", "방탄소년단", "Röyksopp", "Fairuz فيروز", "Nina Simone", "Daft Punk", "Ólafur Arnalds",
            "Los Ángeles Azules", "Μάνος Χατζιδάκις")
_WORDS = ("Night", "River", "夜に駆ける", "Звезда", "Blue", "Gold", "Echo", "사랑", "Glass", "Summer", "Tide",
          "Ember", "Sól", "Home", "Static", "Lights")


class History:
    """A member's plays, newest first. Subclasses give `__len__` and `item(i)`; the rest is index arithmetic."""

    undated: Sequence[Scrobble] = ()  # entries a service shows without a time (not plays)

    def __len__(self) -> int:
        raise NotImplementedError

    def item(self, index: int) -> Scrobble:
        raise NotImplementedError

    def uts_at(self, index: int) -> int:
        return self.item(index).uts

    def first_at_or_before(self, uts: int) -> int:
        """The index of the newest play at or before `uts` (len when none)."""
        low, high = 0, len(self)
        while low < high:
            middle = (low + high) // 2
            if self.uts_at(middle) > uts:
                low = middle + 1
            else:
                high = middle
        return low

    def window(self, newest: int | None, oldest: int | None) -> tuple[int, int]:
        """Index range [start, stop) of plays with oldest <= uts <= newest (either bound may be None)."""
        start = 0 if newest is None else self.first_at_or_before(newest)
        stop = len(self) if oldest is None else self.first_at_or_before(oldest - 1)
        return start, max(start, stop)


class ListHistory(History):
    """Given plays (any order); kept newest first."""

    def __init__(self, scrobbles: Iterable[Scrobble], undated: Iterable[Scrobble] = ()) -> None:
        self._items = sorted(scrobbles, key=lambda s: -s.uts)
        self.undated = list(undated)

    def __len__(self) -> int:
        return len(self._items)

    def item(self, index: int) -> Scrobble:
        return self._items[index]

    def add(self, scrobble: Scrobble) -> None:
        self._items.append(scrobble)
        self._items.sort(key=lambda s: -s.uts)


class MadeUpHistory(History):
    """`count` plays, one every `step` seconds back from `newest_uts`, of songs from a fixed pool (skewed, so some
    songs and artists are played far more than others, as in real listening)."""

    def __init__(self, count: int, newest_uts: int, *, step: int = 180, seed: int = 0, songs: int = 4000) -> None:
        self.count, self.newest_uts, self.step, self.seed, self.songs = count, newest_uts, step, seed, songs

    def __len__(self) -> int:
        return self.count

    def uts_at(self, index: int) -> int:
        return self.newest_uts - index * self.step

    def first_at_or_before(self, uts: int) -> int:
        if uts >= self.newest_uts:
            return 0
        return min(self.count, (self.newest_uts - uts + self.step - 1) // self.step)

    def item(self, index: int) -> Scrobble:
        mixed = (index * 2_654_435_761 + self.seed * 97) & 0xFFFFFFFF
        song = (mixed % self.songs) * (mixed % 7 + 1) // 7  # low numbers come up more often
        artist = _ARTISTS[song % len(_ARTISTS)]
        title = f"{_WORDS[song % len(_WORDS)]} {song // len(_WORDS)}"
        return Scrobble(self.uts_at(index), artist, title, f"{artist} Album {song % 5}")
