"""The PostgreSQL half of scripts/bench_db.py: the bot's writes beside raw psycopg in the same run, and profile loads.

Each part runs in a throwaway schema on the server given with --postgres (or BENCH_DATABASE_URL /
TEST_DATABASE_URL), dropped afterwards.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from database import TIME_RANGES, Database
from fakes.postgres import throwaway_schema
from storage.dialect import POSTGRES
from storage.keys import artist_key, track_key

RAW_SHARE_TARGET = 0.6  # the bot's writes at 60% or more of raw psycopg's speed


def bench_sync(url: str, payloads: list[dict]) -> tuple[float, float, int]:
    """Rows/s of store_sync, and of the same statements through raw psycopg executemany, one transaction per sync."""
    rows = sum(len(p["artists"]) + len(p["tracks"]) + len(p["plays"]) + sum(map(len, p["top_tracks"].values()))
               + sum(map(len, p["top_artists"].values())) for p in payloads)
    with throwaway_schema(url) as bot_url:
        db = Database(bot_url).open()
        for member in range(len(payloads)):
            db.ensure_user(member)
        start = time.perf_counter()
        for member, p in enumerate(payloads):
            db.store_sync(member, artists=p["artists"], tracks=p["tracks"], top_tracks=p["top_tracks"],
                          top_artists=p["top_artists"], plays=p["plays"], recent_cursor_ms=p["plays"][-1][0],
                          synced_at=time.time())
        bot = rows / (time.perf_counter() - start)
        db.close()
    with throwaway_schema(url) as raw_url:
        Database(raw_url).open().close()  # the same tables
        with psycopg.connect(raw_url, autocommit=True) as conn:
            for member in range(len(payloads)):
                conn.execute("INSERT INTO users (discord_id, created_at) VALUES (%s, 0)", (member,))
            start = time.perf_counter()
            for member, p in enumerate(payloads):
                _raw_sync(conn, member, p)
            raw = rows / (time.perf_counter() - start)
    return bot, raw, rows


_UPSERT_ARTIST = POSTGRES.translate(
    "INSERT INTO artists (artist_id, name, name_key, genres, image_url, fetched_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(artist_id) DO UPDATE SET name = excluded.name, name_key = excluded.name_key, genres = excluded.genres, "
    "image_url = excluded.image_url, fetched_at = excluded.fetched_at")
_UPSERT_TRACK = POSTGRES.translate(
    "INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name, artist_key, album_id, album_name, image_url, "
    "duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(track_id) DO UPDATE SET name = excluded.name")


def _raw_sync(conn: psycopg.Connection, member: int, p: dict) -> None:
    """What store_sync writes, as plain psycopg: executemany per table, one transaction."""
    import json

    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(_UPSERT_ARTIST, [(a["artist_id"], a["name"], artist_key(a["name"]), json.dumps(a["genres"]),
                                          a["image_url"], a["fetched_at"]) for a in p["artists"]])
        cur.executemany(_UPSERT_TRACK, [(t["track_id"], t["name"], track_key(t["artist_name"], t["name"]),
                                         t["artist_id"], t["artist_name"], artist_key(t["artist_name"]), t["album_id"],
                                         t["album_name"], t["image_url"], t["duration_ms"]) for t in p["tracks"]])
        for table, column, tops in (("top_tracks", "track_id", p["top_tracks"]),
                                    ("top_artists", "artist_id", p["top_artists"])):
            for time_range, ids in tops.items():
                cur.execute(f"DELETE FROM {table} WHERE discord_id = %s AND time_range = %s", (member, time_range))
                cur.executemany(f"INSERT INTO {table} (discord_id, time_range, rank, {column}) VALUES (%s, %s, %s, %s)",
                                [(member, time_range, rank, item) for rank, item in enumerate(ids, start=1)])
        cur.executemany("INSERT INTO plays (discord_id, played_at, track_id, ms_played, source, skipped) "
                        "VALUES (%s, %s, %s, %s, 'spotify', 0) ON CONFLICT DO NOTHING",
                        [(member, *play) for play in p["plays"]])
        cur.execute("UPDATE users SET last_synced_at = %s WHERE discord_id = %s", (time.time(), member))


def bench_plays(url: str, work: list[tuple[int, list[tuple]]]) -> tuple[float, float, int]:
    """Rows/s of insert_plays (imports of 1,000 plays), and of raw COPY of the same rows, one transaction each."""
    rows = sum(len(plays) for _, plays in work)
    members = sorted({member for member, _ in work})
    with throwaway_schema(url) as bot_url:
        db = Database(bot_url).open()
        for member in members:
            db.ensure_user(member)
        start = time.perf_counter()
        added = sum(db.insert_plays(member, plays) for member, plays in work)
        bot = rows / (time.perf_counter() - start)
        db.close()
        assert added == rows, "plays were lost"
    with throwaway_schema(url) as raw_url:
        Database(raw_url).open().close()
        with psycopg.connect(raw_url, autocommit=True) as conn:
            for member in members:
                conn.execute("INSERT INTO users (discord_id, created_at) VALUES (%s, 0)", (member,))
            start = time.perf_counter()
            for member, plays in work:
                with conn.transaction(), conn.cursor().copy(
                        "COPY plays (discord_id, played_at, track_id, ms_played, source, skipped) FROM STDIN") as copy:
                    for play in plays:
                        copy.write_row((member, *play))
            raw = rows / (time.perf_counter() - start)
    return bot, raw, rows


def build_members(url: str, users: int, rng: random.Random, artists: list[dict], tracks: list[dict],
                  top_tracks: int, top_artists: int, plays_per_member: int) -> tuple[float, dict[str, int]]:
    """`users` members with full listening data, written with COPY (set-up, not timed as the bot's work)."""
    Database(url).open().close()
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        _copy(conn, "artists (artist_id, name, name_key, genres, image_url, fetched_at)",
              ((a["artist_id"], a["name"], artist_key(a["name"]), '["pop"]', a["image_url"], 1.0) for a in artists))
        _copy(conn, "tracks (track_id, name, name_key, artist_id, artist_name, artist_key, album_id, album_name, "
                    "image_url, duration_ms)",
              ((t["track_id"], t["name"], track_key(t["artist_name"], t["name"]), t["artist_id"], t["artist_name"],
                artist_key(t["artist_name"]), t["album_id"], t["album_name"], t["image_url"], t["duration_ms"])
               for t in tracks))
        _copy(conn, "users (discord_id, display_name, link_state, created_at, last_synced_at)",
              ((u, f"member {u}", "linked", 1.0, 2.0) for u in range(1, users + 1)))

        def tops(count: int, span: int, prefix: str) -> Iterator[tuple]:
            for u in range(1, users + 1):
                for r in TIME_RANGES:
                    for rank, item in enumerate(rng.sample(range(span), count), start=1):
                        yield u, r, rank, f"{prefix}{item:07d}"

        _copy(conn, "top_tracks (discord_id, time_range, rank, track_id)", tops(top_tracks, len(tracks), "tr"))
        _copy(conn, "top_artists (discord_id, time_range, rank, artist_id)", tops(top_artists, len(artists), "ar"))
        _copy(conn, "plays (discord_id, played_at, track_id, ms_played, source, skipped)",
              ((u, 1_700_000_000_000 + i * 200_000, f"tr{rng.randrange(len(tracks)):07d}", 150_000,
                "spotify" if i % 4 else "import", int(i % 9 == 0))
               for u in range(1, users + 1) for i in range(plays_per_member)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("users", "top_tracks", "top_artists", "plays", "tracks")}
    return time.perf_counter() - start, counts


def _copy(conn: psycopg.Connection, target: str, rows: Any) -> None:
    with conn.cursor().copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def profile_loads(url: str, users: int, samples: int, rng: random.Random,
                  check: Callable[[dict], None]) -> list[float]:
    """Milliseconds per db.load_profile for `samples` random members (after a short warm-up)."""
    db = Database(url).open()
    try:
        for u in range(1, 51):
            db.load_profile(u)
        times = []
        for u in rng.sample(range(1, users + 1), min(samples, users)):
            start = time.perf_counter()
            profile = db.load_profile(u)
            times.append((time.perf_counter() - start) * 1000)
            check(profile)
        return times
    finally:
        db.close()


def percentiles(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])
