"""The PostgreSQL half of scripts/bench_db.py: the bot's writes and profile reads beside raw psycopg in the same run.

Each part runs in a throwaway schema on the server given with --postgres (or BENCH_DATABASE_URL /
TEST_DATABASE_URL), dropped afterwards; with --pg-keep, the big member databases stay (bench_db_members_<n>) and the
next run reuses them instead of building them again (9 minutes for 100,000 members on a 2-core host).
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from database import TIME_RANGES, Database
from fakes.postgres import throwaway_schema, with_search_path
from storage.dialect import POSTGRES
from storage.keys import artist_key, track_key
from storage.music import profile_statements

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


@contextlib.contextmanager
def members_schema(url: str, users: int, keep: bool, build: Callable[[str], tuple[float, dict[str, int]]]
                   ) -> Iterator[tuple[str, str]]:
    """A schema holding `users` members, built by `build`: a throwaway one, or with `keep` one named
    bench_db_members_<users> that stays for the next run (which reuses it if it was finished). Yields (url, what)."""
    if not keep:
        with throwaway_schema(url) as target:
            seconds, counts = build(target)
            yield target, _built(users, seconds, counts)
        return
    name = f"bench_db_members_{users}"
    target = with_search_path(url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        done = conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'app_state'",
                            (name,)).fetchone() and conn.execute(
            f"SELECT 1 FROM {name}.app_state WHERE key = 'bench_db_members' AND value = %s", (str(users),)).fetchone()
        if not done:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")  # this script's own, left half-built
            conn.execute(f"CREATE SCHEMA {name}")
    if done:
        yield target, f"Reused the {users:,}-member schema {name} (--pg-keep)"
        return
    seconds, counts = build(target)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("INSERT INTO app_state (key, value) VALUES ('bench_db_members', %s)", (str(users),))
    yield target, _built(users, seconds, counts) + f", kept as {name}"


def _built(users: int, seconds: float, counts: dict[str, int]) -> str:
    return f"Built a {users:,}-member database in {seconds:.0f} s: " + ", ".join(f"{n:,} {t}" for t, n in counts.items())


def profile_loads(url: str, users: int, samples: int, rng: random.Random,
                  check: Callable[[dict], None]) -> tuple[list[float], list[float]]:
    """Milliseconds per db.load_profile, and per the same statements sent the same way (one pipeline) on a plain
    psycopg connection: no pool, no rows made into dicts. The two take turns, each reading its own random member,
    so a busy moment of the host falls on both alike."""
    db = Database(url).open()
    raw = psycopg.connect(url, autocommit=True)

    def raw_read(member: int) -> list[list[tuple]]:
        with raw.pipeline():
            sent = [raw.execute(POSTGRES.translate(sql), params)
                    for sql, params in profile_statements(POSTGRES, member, 50)]
        return [cur.fetchall() for cur in sent]

    try:
        for u in range(1, 51):  # warm-up: connections made, statements prepared
            db.load_profile(u)
            raw_read(u)
        bot, baseline = [], []
        for _ in range(samples):
            start = time.perf_counter()
            profile = db.load_profile(rng.randrange(1, users + 1))
            bot.append((time.perf_counter() - start) * 1000)
            check(profile)
            start = time.perf_counter()
            raw_read(rng.randrange(1, users + 1))
            baseline.append((time.perf_counter() - start) * 1000)
        return bot, baseline
    finally:
        raw.close()
        db.close()


def percentiles(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])
