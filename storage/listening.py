"""Reads of listening data: top lists, play counts (all, by age, by year), who knows an artist, name lookup.

Database inherits these; they run on its connections through `self.query`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from storage.dialect import Dialect
from storage.keys import artist_key

# The artist key of a play's track `t` (artist row `a`, LEFT JOINed): every query counting artists uses this one.
TRACK_ARTIST_KEY = "COALESCE(a.name_key, t.artist_key)"


class ListeningReads:
    """Listening queries, mixed into Database (which supplies `query`)."""

    query: Callable[..., list[dict[str, Any]]]  # Database.query
    tuples: Callable[..., list[tuple[Any, ...]]]  # Database.tuples
    rows: Callable[..., list[tuple[Any, ...]]]  # Database.rows
    dialect: Dialect  # Database.dialect

    def top_rows(self, discord_ids: Sequence[int], kind: str) -> list[dict[str, Any]]:
        """Raw top-list rows `(discord_id, time_range, rank, key)` for `kind` 'tracks' or 'artists'."""
        if not discord_ids:
            return []
        marks = ",".join("?" * len(discord_ids))
        if kind == "tracks":
            sql = (f"SELECT tt.discord_id, tt.time_range, tt.rank, t.name_key AS key FROM top_tracks tt "
                   f"JOIN tracks t ON t.track_id = tt.track_id WHERE tt.discord_id IN ({marks})")
        else:
            sql = (f"SELECT ta.discord_id, ta.time_range, ta.rank, a.name_key AS key FROM top_artists ta "
                   f"JOIN artists a ON a.artist_id = ta.artist_id WHERE ta.discord_id IN ({marks})")
        return self.query(sql, list(discord_ids))

    def play_counts(self, discord_ids: Sequence[int], kind: str, since_ms: int = 0,
                    until_ms: int | None = None) -> list[dict[str, Any]]:
        """Listens (skips excluded) per member and track or artist key: `(discord_id, key, plays, last_ms)`."""
        if not discord_ids:
            return []
        marks = ",".join("?" * len(discord_ids))
        key = "t.name_key" if kind == "tracks" else TRACK_ARTIST_KEY
        join = "" if kind == "tracks" else "LEFT JOIN artists a ON a.artist_id = t.artist_id"
        until = until_ms if until_ms is not None else 2**62
        return self.query(
            f"SELECT p.discord_id, {key} AS key, COUNT(*) AS plays, MAX(p.played_at) AS last_ms FROM plays p "
            f"JOIN tracks t ON t.track_id = p.track_id {join} WHERE p.discord_id IN ({marks}) AND p.skipped = 0 "
            f"AND p.played_at >= ? AND p.played_at < ? GROUP BY p.discord_id, {key}",
            [*discord_ids, since_ms, until])

    def play_counts_by_age(self, discord_ids: Sequence[int], kind: str, cutoffs_ms: Sequence[int]) -> list[dict[str, Any]]:
        """Listens per member, track or artist key and age band, in one pass: `(discord_id, key, band, plays)`.

        `cutoffs_ms` go newest first; a play is in band i for the first cutoff it is at or after, else in band
        len(cutoffs_ms). Plays with a negative time are left out, as `play_counts` does.
        """
        if not discord_ids:
            return []
        marks = ",".join("?" * len(discord_ids))
        key = "t.name_key" if kind == "tracks" else TRACK_ARTIST_KEY
        join = "" if kind == "tracks" else "LEFT JOIN artists a ON a.artist_id = t.artist_id"
        band = "CASE " + " ".join(f"WHEN p.played_at >= ? THEN {i}" for i in range(len(cutoffs_ms))) + \
            f" ELSE {len(cutoffs_ms)} END"
        return self.query(
            f"SELECT p.discord_id, {key} AS key, {band} AS band, COUNT(*) AS plays FROM plays p "
            f"JOIN tracks t ON t.track_id = p.track_id {join} WHERE p.discord_id IN ({marks}) AND p.skipped = 0 "
            f"AND p.played_at >= 0 GROUP BY p.discord_id, key, band",
            [*cutoffs_ms, *discord_ids])

    def member_plays_by_age(self, discord_id: int, cutoffs_ms: Sequence[int]) -> list[tuple[str, str, int, int]]:
        """One member's listens per track key, artist key and age band, in one pass: `(track, artist, band, plays)`,
        ordered by track; the bands as in `play_counts_by_age` (both of its kinds read at once)."""
        band = "CASE " + " ".join(f"WHEN p.played_at >= ? THEN {i}" for i in range(len(cutoffs_ms))) + \
            f" ELSE {len(cutoffs_ms)} END"
        return self.rows(
            f"SELECT t.name_key AS track, {TRACK_ARTIST_KEY} AS artist, {band} AS band, COUNT(*) AS plays FROM plays p "
            f"JOIN tracks t ON t.track_id = p.track_id LEFT JOIN artists a ON a.artist_id = t.artist_id "
            f"WHERE p.discord_id = ? AND p.skipped = 0 AND p.played_at >= 0 GROUP BY track, artist, band "
            f"ORDER BY track, artist, band",
            [*cutoffs_ms, discord_id])

    def track_plays_by_member(self, discord_ids: Sequence[int],
                              cutoffs_ms: Sequence[int]) -> list[tuple[int, list[str], str]]:
        """Each member's listens (skips and negative times left out) packed in one row: `(discord_id, song ids,
        bands)`, the song id of every listen and, at the same place in `bands`, its age band as one digit (band i
        for the first of `cutoffs_ms`, newest first, it is at or after, else len(cutoffs_ms)). The community
        model's bulk read: a row per member rather than per listen, so the driver builds few Python objects, and
        nothing summed or sorted here (the caller sums in numpy; `track_name_keys` names the songs)."""
        if not discord_ids:
            return []
        if len(cutoffs_ms) > 9:
            raise ValueError("at most ten age bands: each is one digit")
        band = "CASE " + " ".join(f"WHEN played_at >= ? THEN '{i}'" for i in range(len(cutoffs_ms))) + \
            f" ELSE '{len(cutoffs_ms)}' END"
        # Both aggregates of a group take its rows in the same order, so the i-th song and the i-th band match.
        if self.dialect.name == "postgresql":  # arrays come in binary: no separator to trust
            return self.tuples(  # the members as one array: a thousand parameters cost the driver more to send
                f"SELECT discord_id, array_agg(track_id), string_agg({band}, '') FROM plays WHERE discord_id = ANY(?) "
                "AND skipped = 0 AND played_at >= 0 GROUP BY discord_id", [*cutoffs_ms, list(discord_ids)])
        marks = ",".join("?" * len(discord_ids))
        where = f"FROM plays WHERE discord_id IN ({marks}) AND skipped = 0 AND played_at >= 0 GROUP BY discord_id"
        params = [*cutoffs_ms, *discord_ids]
        rows = self.tuples(f"SELECT discord_id, group_concat(track_id, ','), group_concat({band}, '') {where}", params)
        out = [(member, songs.split(","), bands) for member, songs, bands in rows]
        if all(len(songs) == len(bands) for _, songs, bands in out):
            return out
        # A song id with a comma in it (none today): read the slice again with each id quoted as JSON.
        rows = self.tuples(f"SELECT discord_id, json_group_array(track_id), group_concat({band}, '') {where}", params)
        return [(member, json.loads(songs), bands) for member, songs, bands in rows]

    def track_name_keys(self, track_ids: Sequence[str]) -> list[tuple[str, str]]:
        """`(track_id, name_key)` of the stored songs among these ids."""
        if self.dialect.name == "postgresql":  # one array, however many: no parameter per id to send
            return self.tuples("SELECT track_id, name_key FROM tracks WHERE track_id = ANY(?)", [list(track_ids)])
        out: list[tuple[str, str]] = []
        for start in range(0, len(track_ids), 5_000):
            part = track_ids[start:start + 5_000]
            out += self.tuples(f"SELECT track_id, name_key FROM tracks WHERE track_id IN ({','.join('?' * len(part))})",
                               list(part))
        return out

    def top_track_ranks(self, discord_ids: Sequence[int]) -> list[tuple[int, list[str], list[str], list[int]]]:
        """Each member's top-list rows of tracks packed in one row: `(discord_id, keys, time ranges, ranks)`, the
        i-th of each list from the same row (the bulk read's other half)."""
        if not discord_ids:
            return []
        columns = "SELECT tt.discord_id, {0}(t.name_key), {0}(tt.time_range), {0}(tt.rank) FROM top_tracks tt " \
            "JOIN tracks t ON t.track_id = tt.track_id WHERE tt.discord_id "
        if self.dialect.name == "postgresql":
            return self.tuples(columns.format("array_agg") + "= ANY(?) GROUP BY tt.discord_id", [list(discord_ids)])
        marks = ",".join("?" * len(discord_ids))
        rows = self.tuples(columns.format("json_group_array") + f"IN ({marks}) GROUP BY tt.discord_id",
                           list(discord_ids))
        return [(member, json.loads(keys), json.loads(ranges), json.loads(ranks)) for member, keys, ranges, ranks in rows]

    def yearly_counts(self, discord_id: int, kind: str, year: int | None, limit: int = 50) -> list[dict[str, Any]]:
        """All-time (year None) or one year's most played tracks or artists of one member."""
        start, end = (0, 2**62) if year is None else _year_bounds_ms(year)
        return self.window_counts(discord_id, kind, start, end, limit)

    def window_counts(self, discord_id: int, kind: str, start: int, end: int, limit: int = 50) -> list[dict[str, Any]]:
        """One member's most played tracks or artists with plays in [start, end) ms."""
        group = "t.name_key" if kind == "tracks" else TRACK_ARTIST_KEY
        join = "" if kind == "tracks" else "LEFT JOIN artists a ON a.artist_id = t.artist_id"
        return self.query(
            f"SELECT {group} AS key, MAX(t.name) AS name, MAX(t.artist_name) AS artist_name, COUNT(*) AS plays, "
            f"MAX(t.image_url) AS image_url, MAX(CASE WHEN t.track_id NOT LIKE 'local:%' THEN t.track_id END) AS track_id "
            f"FROM plays p JOIN tracks t ON t.track_id = p.track_id {join} WHERE p.discord_id = ? AND p.skipped = 0 "
            f"AND p.played_at >= ? AND p.played_at < ? GROUP BY {group} ORDER BY plays DESC, key LIMIT ?",
            (discord_id, start, end, limit))

    def listening_years(self, discord_id: int) -> list[int]:
        rows = self.query(
            f"SELECT DISTINCT {self.dialect.year_of_ms('played_at')} AS year FROM plays "
            "WHERE discord_id = ? AND skipped = 0 ORDER BY year", (discord_id,))
        return [row["year"] for row in rows]

    def listening_months(self, discord_id: int) -> list[tuple[int, int]]:
        """(year, month) of every month with plays by this member, oldest first."""
        rows = self.query(
            f"SELECT DISTINCT {self.dialect.year_of_ms('played_at')} AS year, "
            f"{self.dialect.month_of_ms('played_at')} AS month FROM plays "
            "WHERE discord_id = ? AND skipped = 0 ORDER BY year, month", (discord_id,))
        return [(row["year"], row["month"]) for row in rows]

    def whoknows(self, guild_id: int, artist: str, limit: int = 15) -> list[dict[str, Any]]:
        """Visible members of a guild who play an artist, by listens, then by their best top-artist rank."""
        key = artist_key(artist)
        # Walk the artist's plays (by song) when this server holds a good share of everyone, else walk its members'
        # plays: the same rows either way, from whichever side is smaller. `+` keeps SQLite off the other index.
        shares = self.query("SELECT (SELECT COUNT(*) FROM guild_members WHERE guild_id = ?) AS here, "
                            "(SELECT COUNT(*) FROM users) AS everyone", (guild_id,))[0]
        member = "+p.discord_id" if shares["here"] * 10 >= shares["everyone"] else "p.discord_id"
        return self.query(
            "WITH members AS (SELECT gm.discord_id FROM guild_members gm JOIN users u ON u.discord_id = gm.discord_id "
            "  WHERE gm.guild_id = :g AND u.hidden = 0), "
            # The artist's songs first (by index: artists by key, songs by artist or by the key's prefix when no
            # artist row names them), then their plays: never a walk through every play of every member.
            "songs AS (SELECT t.track_id FROM artists a JOIN tracks t ON t.artist_id = a.artist_id WHERE a.name_key = :k "
            "  UNION SELECT t.track_id FROM tracks t LEFT JOIN artists a ON a.artist_id = t.artist_id "
            "  WHERE t.name_key >= :k || ' - ' AND t.name_key < :k || ' -!' AND a.artist_id IS NULL "
            f"  AND {TRACK_ARTIST_KEY} = :k), "
            "listens AS (SELECT p.discord_id, COUNT(*) AS plays FROM plays p WHERE p.skipped = 0 "
            f"  AND p.track_id IN (SELECT track_id FROM songs) AND {member} IN (SELECT discord_id FROM members) "
            "  GROUP BY p.discord_id), "
            "ranks AS (SELECT ta.discord_id, MIN(ta.rank) AS best_rank FROM top_artists ta "
            "  JOIN artists a ON a.artist_id = ta.artist_id WHERE a.name_key = :k "
            "  AND ta.discord_id IN (SELECT discord_id FROM members) GROUP BY ta.discord_id) "
            "SELECT m.discord_id, COALESCE(l.plays, 0) AS plays, r.best_rank FROM members m "
            "LEFT JOIN listens l ON l.discord_id = m.discord_id LEFT JOIN ranks r ON r.discord_id = m.discord_id "
            "WHERE l.plays IS NOT NULL OR r.best_rank IS NOT NULL "
            "ORDER BY COALESCE(l.plays, 0) DESC, COALESCE(r.best_rank, 999), m.discord_id LIMIT :n",
            {"g": guild_id, "k": key, "n": limit})

    def known_artist_names(self, prefix: str, limit: int = 25) -> list[str]:
        """Artist names for autocomplete."""
        return [row["name"] for row in self.query(
            "SELECT MIN(name) AS name FROM artists WHERE substr(name_key, 1, length(:p)) = :p GROUP BY name_key "
            "ORDER BY MIN(name) "
            "LIMIT :n", {"p": artist_key(prefix), "n": limit})]


def _year_bounds_ms(year: int) -> tuple[int, int]:
    import calendar

    start = calendar.timegm((year, 1, 1, 0, 0, 0))
    end = calendar.timegm((year + 1, 1, 1, 0, 0, 0))
    return start * 1000, end * 1000
