"""Reads for a year in music (utils/community/recap.py): the year's plays grouped by month and song, songs on
repeat, what each song is, and which songs came before.

Each read is one range scan of `plays` by member and time (its primary key) with no join per play: songs are looked
up once each afterwards. Months are told apart by a CASE over their first moments and days by integer division,
so the SQL needs no date functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from storage.connection import chunks
from storage.listening import TRACK_ARTIST_KEY

DAY_MS = 86_400_000


class RecapReads:
    """Year-in-music queries, mixed into Database (which supplies `query`)."""

    query: Callable[..., list[dict[str, Any]]]

    def recap_plays(self, members: Sequence[int], bounds: Sequence[int]) -> list[dict[str, Any]]:
        """A year's plays per month and song: month (1-12), track_id, plays, ms (summed where known) and unknown
        (plays with no length of their own, as synced plays are). `bounds` are the 13 month starts (ms)."""
        month = "CASE " + " ".join(f"WHEN played_at < ? THEN {i}" for i in range(1, 13)) + " END"
        rows: list[dict[str, Any]] = []
        for chunk in chunks(list(members), 900):
            marks = ",".join("?" * len(chunk))
            rows += self.query(
                f"SELECT {month} AS month, track_id, COUNT(*) AS plays, COALESCE(SUM(ms_played), 0) AS ms, "
                "SUM(CASE WHEN ms_played IS NULL THEN 1 ELSE 0 END) AS unknown FROM plays "
                f"WHERE discord_id IN ({marks}) AND skipped = 0 AND played_at >= ? AND played_at < ? GROUP BY 1, 2",
                [*bounds[1:13], *chunk, bounds[0], bounds[12]])
        return rows

    def recap_totals(self, members: Sequence[int], start: int, end: int) -> list[dict[str, Any]]:
        """Plays and ms in [start, end), in one row for plays of known length and one per song for the others
        (their length is the song's): track_id (None for the first), plays, ms, unknown."""
        rows: list[dict[str, Any]] = []
        for chunk in chunks(list(members), 900):
            marks = ",".join("?" * len(chunk))
            rows += self.query(
                "SELECT CASE WHEN ms_played IS NULL THEN track_id END AS track_id, COUNT(*) AS plays, "
                "COALESCE(SUM(ms_played), 0) AS ms, SUM(CASE WHEN ms_played IS NULL THEN 1 ELSE 0 END) AS unknown "
                f"FROM plays WHERE discord_id IN ({marks}) AND skipped = 0 AND played_at >= ? AND played_at < ? "
                "GROUP BY 1", [*chunk, start, end])
        return rows

    def recap_listeners(self, members: Sequence[int], start: int, end: int) -> int:
        """How many of these members played anything in [start, end)."""
        total = 0
        for chunk in chunks(list(members), 900):
            marks = ",".join("?" * len(chunk))
            total += self.query(f"SELECT COUNT(DISTINCT discord_id) AS n FROM plays WHERE discord_id IN ({marks}) "
                                "AND skipped = 0 AND played_at >= ? AND played_at < ?", [*chunk, start, end])[0]["n"]
        return total

    def recap_repeats(self, members: Sequence[int], start: int, end: int, at_least: int,
                      limit: int) -> list[dict[str, Any]]:
        """Songs one member played at least `at_least` times in one day (UTC), most first: discord_id, track_id,
        day (ms at its start), plays."""
        rows: list[dict[str, Any]] = []
        for chunk in chunks(list(members), 900):
            marks = ",".join("?" * len(chunk))
            rows += self.query(
                f"SELECT discord_id, track_id, (played_at / {DAY_MS}) * {DAY_MS} AS day, COUNT(*) AS plays FROM plays "
                f"WHERE discord_id IN ({marks}) AND skipped = 0 AND played_at >= ? AND played_at < ? "
                f"GROUP BY discord_id, track_id, played_at / {DAY_MS} HAVING COUNT(*) >= ? "
                "ORDER BY plays DESC, day LIMIT ?", [*chunk, start, end, at_least, limit])
        return sorted(rows, key=lambda r: (-r["plays"], r["day"]))[:limit]

    def recap_tracks(self, track_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """What each song is: track_id -> name_key, name, artist_name, artist_key, album_name, duration_ms."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(list(dict.fromkeys(track_ids)), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(
                    f"SELECT t.track_id, t.name_key, t.name, t.artist_name, {TRACK_ARTIST_KEY} AS artist_key, "
                    f"t.album_name, t.duration_ms FROM tracks t LEFT JOIN artists a ON a.artist_id = t.artist_id "
                    f"WHERE t.track_id IN ({marks})", chunk):
                found[row["track_id"]] = row
        return found

    def recap_tracks_before(self, members: Sequence[int], before: int) -> set[str]:
        """Every song these members played before `before` (ms)."""
        found: set[str] = set()
        for chunk in chunks(list(members), 900):
            marks = ",".join("?" * len(chunk))
            found.update(row["track_id"] for row in self.query(
                f"SELECT DISTINCT track_id FROM plays WHERE discord_id IN ({marks}) AND skipped = 0 AND played_at < ?",
                [*chunk, before]))
        return found

    def play_span_ms(self, members: Sequence[int]) -> tuple[int, int] | None:
        """When the earliest and the latest of these members' plays were (ms), or None without plays."""
        earliest: int | None = None
        latest: int | None = None
        for chunk in chunks(list(members), 900):
            marks = ",".join("?" * len(chunk))
            row = self.query(f"SELECT MIN(played_at) AS earliest, MAX(played_at) AS latest FROM plays "
                             f"WHERE discord_id IN ({marks}) AND skipped = 0", chunk)[0]
            if row["earliest"] is not None:
                earliest = row["earliest"] if earliest is None else min(earliest, row["earliest"])
                latest = row["latest"] if latest is None else max(latest, row["latest"])
        return None if earliest is None or latest is None else (earliest, latest)

    def latest_play_ms(self, members: Sequence[int]) -> int | None:
        """When the latest of these members' plays was (ms), or None."""
        latest: int | None = None
        for chunk in chunks(list(members), 900):
            marks = ",".join("?" * len(chunk))
            value = self.query(f"SELECT MAX(played_at) AS latest FROM plays WHERE discord_id IN ({marks}) "
                               "AND skipped = 0", chunk)[0]["latest"]
            if value is not None and (latest is None or value > latest):
                latest = value
        return latest
