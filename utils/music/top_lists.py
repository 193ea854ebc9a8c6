"""Personal views of stored listening: profile, top lists (Spotify ranges, all time, a year), recent plays.

Blocking functions working on the database; the music service runs them in a worker thread.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from database import TIME_RANGES, Database
from storage.keys import artist_key
from utils.errors import NotEnoughData
from utils.listening.periods import check_time_range, describe_range, is_calendar, window_ms
from utils.listening.reads import artist_genres, artist_item, items_for_keys, kind_of, track_item
from utils.models import Item, Profile
from utils.sources.history_sync import latest_sync, source_line


def stored_top(db: Database, discord_id: int, kind: str, time_range: str, limit: int, now: float,
               profile: dict[str, Any] | None = None) -> list[Item]:
    """A member's top tracks/artists: Spotify's own lists for its ranges, else counted from stored plays.
    `profile` is the member's `load_profile`, when the caller has read it already."""
    kind = kind_of(kind)
    time_range = check_time_range(time_range)
    if time_range in TIME_RANGES:
        profile = profile or db.load_profile(discord_id, recent_limit=0)
        rows = profile[f"top_{kind}"][time_range][:limit]
        if rows:
            build = track_item if kind == "tracks" else artist_item
            return [build(row, rank=row["rank"]) for row in rows]
        return counted_top(db, discord_id, kind, time_range, limit, now)  # imported-only members
    since, until = window_ms(time_range, now)  # all time, a year, a month or a span of days
    return _items_from_counts(db, db.window_counts(discord_id, kind, since, until, limit), kind)


def no_plays_in(time_range: str) -> str:
    """What to say for a period with no plays."""
    return (f"There are no plays in {describe_range(time_range)} that I know of. Try another period, or bring in "
            "older listening with `/import file`.")


def counted_top(db: Database, discord_id: int, kind: str, time_range: str, limit: int, now: float) -> list[Item]:
    since, until = window_ms(time_range, now)
    counts: Counter[str] = Counter()
    for row in db.play_counts([discord_id], kind, since_ms=since, until_ms=until):
        counts[row["key"] if kind == "tracks" else artist_key(row["key"])] += row["plays"]
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    extras = {key: {"plays": plays, "rank": rank} for rank, (key, plays) in enumerate(ranked, start=1)}
    return items_for_keys(db, [k for k, _ in ranked], kind, extras)


def _items_from_counts(db: Database, rows: list[dict[str, Any]], kind: str) -> list[Item]:
    keys = [row["key"] if kind == "tracks" else artist_key(row["key"]) for row in rows]
    extras = {key: {"plays": row["plays"], "rank": rank} for rank, (key, row) in enumerate(zip(keys, rows, strict=True), 1)}
    return items_for_keys(db, keys, kind, extras)


def build_profile(db: Database, discord_id: int, time_range: str, now: float, limit: int = 10) -> Profile:
    time_range = check_time_range(time_range)
    data = db.load_profile(discord_id, recent_limit=1)
    user = data["user"]
    totals = data["totals"]
    has_tops = any(data["top_tracks"][r] or data["top_artists"][r] for r in TIME_RANGES)
    if user is None or (not totals["plays"] and not has_tops):
        raise NotEnoughData()
    top_artists = stored_top(db, discord_id, "artists", time_range, limit, now, data)
    top_tracks = stored_top(db, discord_id, "tracks", time_range, limit, now, data)
    if not top_artists and not top_tracks and is_calendar(time_range):
        raise NotEnoughData(no_plays_in(time_range))
    genre_rows = data["top_artists"].get(time_range) or data["top_artists"]["medium_term"]
    genres = _top_genres(genre_rows) or _top_genres(
        [{"genres": g} for g in artist_genres(db.artists_by_key([a.key for a in top_artists])).values()])
    first = totals["first_played_at"]
    links = db.source_links(discord_id)
    return Profile(
        discord_id=discord_id, display_name=user.get("display_name") or f"member {discord_id}",
        linked=user["link_state"] == "linked", link_state=user["link_state"], top_artists=top_artists,
        top_tracks=top_tracks, time_range=time_range, synced_at=latest_sync(user, links),
        since=first / 1000 if first is not None else None, total_plays=int(totals["plays"] or 0),
        imported_plays=int(totals["imported"] or 0), genres=genres,
        sources=[source_line(link, now) for link in links])


def _top_genres(rows: list[dict[str, Any]], n: int = 5) -> list[str]:
    counts: Counter[str] = Counter()
    for position, row in enumerate(rows):
        for genre in row.get("genres") or []:
            counts[genre] += 1.0 / (1 + position / 10)  # a favourite artist's genres count more
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def recent_plays(db: Database, discord_id: int, limit: int) -> list[tuple[Item, int]]:
    rows = db.load_profile(discord_id, recent_limit=limit)["recent"]
    return [(track_item(row), int(row["played_at"])) for row in rows]
