"""Reads for a year in music (utils/community/recap.py): totals, tops, months, songs on repeat, first plays.

Every query is a range scan of `plays` by member and time (its primary key), counted in SQL; the months are
told apart by a CASE over the month boundaries, so the SQL needs no date functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from storage.listening import TRACK_ARTIST_KEY

_FROM = ("FROM plays p JOIN tracks t ON t.track_id = p.track_id LEFT JOIN artists a ON a.artist_id = t.artist_id "
         "WHERE p.discord_id IN ({marks}) AND p.skipped = 0 AND p.played_at >= ? AND p.played_at < ?")
_MS = "COALESCE(p.ms_played, t.duration_ms, 0)"  # a synced play has no length of its own: the song's length


class RecapReads:
    """Year-in-music queries, mixed into Database (which supplies `query`)."""

    query: Callable[..., list[dict[str, Any]]]

    def _window(self, members: Sequence[int], start: int, end: int) -> tuple[str, list[Any]]:
        return _FROM.format(marks=",".join("?" * len(members))), [*members, start, end]

    def recap_totals(self, members: Sequence[int], start: int, end: int) -> dict[str, Any]:
        """Plays, milliseconds listened and distinct listeners in [start, end)."""
        where, params = self._window(members, start, end)
        return self.query(f"SELECT COUNT(*) AS plays, SUM({_MS}) AS ms, COUNT(DISTINCT p.discord_id) AS listeners "
                          f"{where}", params)[0]

    def recap_months(self, members: Sequence[int], bounds: Sequence[int]) -> list[dict[str, Any]]:
        """Plays and milliseconds per month: `bounds` are the 13 month starts of the year (ms)."""
        month = "CASE " + " ".join(f"WHEN p.played_at < ? THEN {i}" for i in range(1, 13)) + " END"
        where, params = self._window(members, bounds[0], bounds[12])
        return self.query(f"SELECT {month} AS month, COUNT(*) AS plays, SUM({_MS}) AS ms {where} GROUP BY 1",
                          [*bounds[1:13], *params])

    def recap_top(self, members: Sequence[int], start: int, end: int, kind: str, limit: int) -> list[dict[str, Any]]:
        """Most played artists, tracks or albums in [start, end): key, a name, the artist's name, plays."""
        group = {"artists": TRACK_ARTIST_KEY, "tracks": "t.name_key",
                 "albums": f"{TRACK_ARTIST_KEY} || ' - ' || LOWER(t.album_name)"}[kind]
        extra = "AND t.album_name IS NOT NULL AND t.album_name != ''" if kind == "albums" else ""
        name = "MAX(t.album_name)" if kind == "albums" else "MAX(t.name)"
        where, params = self._window(members, start, end)
        return self.query(
            f"SELECT {group} AS key, {name} AS name, MAX(t.artist_name) AS artist_name, COUNT(*) AS plays "
            f"{where} {extra} GROUP BY 1 ORDER BY plays DESC, key LIMIT ?", [*params, limit])

    def recap_artist_plays(self, members: Sequence[int], start: int, end: int) -> dict[str, int]:
        """Plays of every artist key in [start, end)."""
        where, params = self._window(members, start, end)
        return {row["key"]: row["plays"] for row in self.query(
            f"SELECT {TRACK_ARTIST_KEY} AS key, COUNT(*) AS plays {where} GROUP BY 1", params)}

    def recap_artists_before(self, members: Sequence[int], before: int) -> set[str]:
        """Every artist key these members played before `before` (ms)."""
        where, params = self._window(members, 0, before)
        return {row["key"] for row in self.query(f"SELECT DISTINCT {TRACK_ARTIST_KEY} AS key {where}", params)}

    def recap_repeats(self, members: Sequence[int], start: int, end: int, at_least: int,
                      limit: int) -> list[dict[str, Any]]:
        """Songs played most often by one member in one day: key, name, artist, plays, day (ms at its start)."""
        where, params = self._window(members, start, end)
        return self.query(
            f"SELECT t.name_key AS key, MAX(t.name) AS name, MAX(t.artist_name) AS artist_name, COUNT(*) AS plays, "
            f"(p.played_at / 86400000) * 86400000 AS day, p.discord_id {where} "
            f"GROUP BY p.discord_id, t.name_key, p.played_at / 86400000 HAVING COUNT(*) >= ? "
            f"ORDER BY plays DESC, day, key LIMIT ?", [*params, at_least, limit])

    def latest_play_ms(self, members: Sequence[int]) -> int | None:
        """When the latest of these members' plays was (ms), or None."""
        if not members:
            return None
        marks = ",".join("?" * len(members))
        rows = self.query(f"SELECT MAX(played_at) AS latest FROM plays WHERE discord_id IN ({marks}) AND skipped = 0",
                          list(members))
        return rows[0]["latest"] if rows else None
