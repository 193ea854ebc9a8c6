"""Database speed: bulk writes (store_sync, insert_plays) in rows/s and profile loads on a 10,000-member file.

Run: python scripts/bench_db.py [--users 10000] [--samples 2000] [--keep DIR] [--pragma wal_autocheckpoint=10000 ...]
     [--sqlite-profile-only] [--postgres postgresql://user@host:5432/db [--pg-users 1000,20000,100000] [--pg-keep]
     [--pg-profile-only] | --no-postgres]
Prints each figure beside its target, and a raw-SQLite baseline measured in the same run (shared machines are
noisy: the ratio to the baseline says more than the raw figure). With a PostgreSQL server (--postgres, or
BENCH_DATABASE_URL / TEST_DATABASE_URL), the same writes on it beside raw psycopg (executemany, COPY) in the same
run, and profile reads among 1,000, 20,000 and 100,000 members beside the same statements on a plain psycopg
connection, taking turns (scripts/bench_db_postgres.py). The host's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from database import TIME_RANGES, Database
from storage.keys import artist_key, track_key

TOP_TRACKS = 50  # per time range, as Spotify returns
TOP_ARTISTS = 20
CATALOGUE_TRACKS = 20_000
CATALOGUE_ARTISTS = 4_000
PLAYS_PER_MEMBER = 100
WRITE_TARGET = 50_000  # rows per second
LOAD_TARGET_MS = 5.0
PG_SIZES = [1_000, 20_000, 100_000]  # members in the PostgreSQL profile-read databases: how a read grows


PRAGMAS: list[str] = []  # extra PRAGMAs to try on every connection (--pragma), to compare tunings


def open_db(path: Path) -> Database:
    """The bot's own Database, plus any PRAGMAs given on the command line."""
    db = Database(path)
    if PRAGMAS:
        connect = db._connect

        def tuned() -> sqlite3.Connection:
            conn = connect()
            for pragma in PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            return conn

        db._connect = tuned  # type: ignore[method-assign]
    return db.open()


def catalogue(rng: random.Random) -> tuple[list[dict], list[dict]]:
    artists = [{"artist_id": f"ar{a:07d}", "name": f"Artist {a}", "genres": ["pop", f"g{a % 50}"], "fetched_at": 1.0,
                "image_url": f"http://img.example/a{a}.jpg"} for a in range(CATALOGUE_ARTISTS)]
    tracks = []
    for t in range(CATALOGUE_TRACKS):
        a = rng.randrange(CATALOGUE_ARTISTS)
        tracks.append({"track_id": f"tr{t:07d}", "name": f"Song {t}", "artist_id": f"ar{a:07d}",
                       "artist_name": f"Artist {a}", "album_id": f"al{t // 10}", "album_name": f"Album {t // 10}",
                       "image_url": f"http://img.example/t{t}.jpg", "duration_ms": 180_000 + t})
    return artists, tracks


def sync_payload(rng: random.Random, artists: list[dict], tracks: list[dict], member: int) -> dict:
    """What one member's sync fetches: 3 x 50 top tracks, 3 x 20 top artists, their details, 50 recent plays."""
    top_tracks = {r: [t["track_id"] for t in rng.sample(tracks, TOP_TRACKS)] for r in TIME_RANGES}
    top_artists = {r: [a["artist_id"] for a in rng.sample(artists, TOP_ARTISTS)] for r in TIME_RANGES}
    used_tracks = {tid for ids in top_tracks.values() for tid in ids}
    used_artists = {aid for ids in top_artists.values() for aid in ids}
    plays = [(1_700_000_000_000 + member * 10_000_000 + i * 60_000, rng.choice(tracks)["track_id"], 180_000)
             for i in range(50)]
    return {"tracks": [t for t in tracks if t["track_id"] in used_tracks],
            "artists": [a for a in artists if a["artist_id"] in used_artists],
            "top_tracks": top_tracks, "top_artists": top_artists, "plays": plays}


def bench_store_sync(folder: Path, rng: random.Random, members: int = 300) -> tuple[float, float, int]:
    """Rows/s through store_sync: (all rows written incl. catalogue upserts, top-list rows only, rows)."""
    db = open_db(folder / "sync.db")
    artists, tracks = catalogue(rng)
    payloads = [sync_payload(rng, artists, tracks, m) for m in range(members)]
    for m in range(members):
        db.ensure_user(m)
    rows = top_rows = 0
    start = time.perf_counter()
    for m, p in enumerate(payloads):
        db.store_sync(m, artists=p["artists"], tracks=p["tracks"], top_tracks=p["top_tracks"],
                      top_artists=p["top_artists"], plays=p["plays"], recent_cursor_ms=p["plays"][-1][0],
                      synced_at=time.time())
        tops = sum(map(len, p["top_tracks"].values())) + sum(map(len, p["top_artists"].values()))
        top_rows += tops
        rows += tops + len(p["tracks"]) + len(p["artists"]) + len(p["plays"])
    elapsed = time.perf_counter() - start
    db.close()
    return rows / elapsed, top_rows / elapsed, rows


def bench_insert_plays(folder: Path, rng: random.Random, members: int = 30, batches: int = 10,
                       batch: int = 1_000) -> tuple[float, int]:
    """Rows/s through insert_plays, in imports of `batch` plays (one transaction each)."""
    db = open_db(folder / "plays.db")
    for m in range(members):
        db.ensure_user(m)
    work = [(m, [(1_600_000_000_000 + (b * batch + i) * 30_000, f"tr{rng.randrange(CATALOGUE_TRACKS):07d}", 120_000,
                  "import", int(i % 7 == 0)) for i in range(batch)])
            for m in range(members) for b in range(batches)]
    start = time.perf_counter()
    added = sum(db.insert_plays(m, plays) for m, plays in work)
    elapsed = time.perf_counter() - start
    db.close()
    assert added == members * batches * batch, "plays were lost"
    return added / elapsed, added


def bench_raw_baseline(folder: Path, rows: int = 100_000) -> float:
    """Plain sqlite3 executemany into a similar WITHOUT ROWID table: what this machine can do right now."""
    conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE p (a INTEGER, b INTEGER, c TEXT, d INTEGER, e TEXT, f INTEGER, PRIMARY KEY (a, b, c)) "
                 "WITHOUT ROWID")
    data = [(i % 100, i, f"tr{i % 20000:07d}", 1, "import", 0) for i in range(rows)]
    start = time.perf_counter()
    for chunk in range(0, rows, 1_000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO p VALUES (?, ?, ?, ?, ?, ?)", data[chunk:chunk + 1_000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


def build_big(path: Path, users: int, rng: random.Random) -> tuple[float, dict[str, int]]:
    """A file with `users` members and their full listening data, written with executemany for speed."""
    db = Database(path).open()
    db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")  # set-up only; the timed parts use the bot's own settings
    start = time.perf_counter()
    artists, tracks = catalogue(rng)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO artists VALUES (?, ?, ?, ?, ?, ?)",
                     [(a["artist_id"], a["name"], artist_key(a["name"]), json.dumps(a["genres"]), a["image_url"], 1.0)
                      for a in artists])
    conn.executemany("INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name, album_id, album_name, "
                     "image_url, duration_ms, artist_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [(t["track_id"], t["name"], track_key(t["artist_name"], t["name"]), t["artist_id"],
                       t["artist_name"], t["album_id"], t["album_name"], t["image_url"], t["duration_ms"],
                       artist_key(t["artist_name"])) for t in tracks])
    conn.executemany("INSERT INTO users (discord_id, display_name, link_state, created_at, last_synced_at) "
                     "VALUES (?, ?, 'linked', 1.0, 2.0)", [(u, f"member {u}") for u in range(1, users + 1)])

    def tops(count: int, span: int, prefix: str) -> Iterator[tuple]:
        for u in range(1, users + 1):
            for r in TIME_RANGES:
                for rank, item in enumerate(rng.sample(range(span), count), start=1):
                    yield u, r, rank, f"{prefix}{item:07d}"

    conn.executemany("INSERT INTO top_tracks VALUES (?, ?, ?, ?)", tops(TOP_TRACKS, CATALOGUE_TRACKS, "tr"))
    conn.executemany("INSERT INTO top_artists VALUES (?, ?, ?, ?)", tops(TOP_ARTISTS, CATALOGUE_ARTISTS, "ar"))
    conn.executemany(
        "INSERT INTO plays (discord_id, played_at, track_id, ms_played, source, skipped) VALUES (?, ?, ?, ?, ?, ?)",
        ((u, 1_700_000_000_000 + i * 200_000, f"tr{rng.randrange(CATALOGUE_TRACKS):07d}", 150_000,
          "spotify" if i % 4 else "import", int(i % 9 == 0))
         for u in range(1, users + 1) for i in range(PLAYS_PER_MEMBER)))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("users", "top_tracks", "top_artists", "plays", "tracks")}
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - start, counts


def bench_load_profile(path: Path, users: int, samples: int, rng: random.Random) -> list[float]:
    """Milliseconds per db.load_profile for `samples` random members (after a short warm-up)."""
    db = open_db(path)
    for u in range(1, 51):
        db.load_profile(u)
    times = []
    for u in rng.sample(range(1, users + 1), min(samples, users)):
        start = time.perf_counter()
        profile = db.load_profile(u)
        times.append((time.perf_counter() - start) * 1000)
        assert len(profile["top_tracks"]["short_term"]) == TOP_TRACKS and len(profile["recent"]) == 50
    db.close()
    return times


def bench_sqlite_writes(folder: Path, rng: random.Random) -> None:
    """store_sync and insert_plays on SQLite beside raw sqlite3 executemany in the same run."""
    baseline = bench_raw_baseline(folder)
    print(f"Baseline: raw sqlite3 executemany, 1,000-row transactions:  {baseline:>10,.0f} rows/s")

    all_rate, top_rate, rows = bench_store_sync(folder, rng)
    print(f"store_sync (300 member syncs, {rows:,} rows incl. catalogue upserts and plays):")
    print(f"  all rows written                                         {all_rate:>10,.0f} rows/s  "
          f"({all_rate / baseline:.2f}x baseline)  {verdict(all_rate >= WRITE_TARGET)} (>= {WRITE_TARGET:,})")
    print(f"  top-list rows only (top tracks + top artists)            {top_rate:>10,.0f} rows/s")

    plays_rate, added = bench_insert_plays(folder, rng)
    print(f"insert_plays ({added:,} plays in 1,000-play transactions):    {plays_rate:>10,.0f} rows/s  "
          f"({plays_rate / baseline:.2f}x baseline)  {verdict(plays_rate >= WRITE_TARGET)} (>= {WRITE_TARGET:,})")


def verdict(ok: bool) -> str:
    return "meets target" if ok else "BELOW TARGET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="members in the profile-load database")
    parser.add_argument("--samples", type=int, default=2_000, help="profile loads to time")
    parser.add_argument("--keep", type=Path, help="build the files in this folder and keep them")
    parser.add_argument("--pragma", action="append", default=[], help="extra PRAGMA for every connection, e.g. "
                        "wal_autocheckpoint=10000 (repeatable)")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"),
                        help="a PostgreSQL server to measure too (each part in a throwaway schema)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--pg-users", type=lambda text: [int(n) for n in text.split(",")], default=PG_SIZES,
                        help="members in each PostgreSQL profile-read database, comma-separated (default "
                             f"{','.join(map(str, PG_SIZES))})")
    parser.add_argument("--pg-keep", action="store_true", help="keep the PostgreSQL member databases for the next "
                        "run (schemas bench_db_members_<n>), and reuse those a previous run kept")
    parser.add_argument("--pg-profile-only", action="store_true", help="on PostgreSQL, only the profile reads")
    parser.add_argument("--sqlite-profile-only", action="store_true", help="on SQLite, only the profile reads")
    args = parser.parse_args(argv)
    PRAGMAS[:] = args.pragma
    rng = random.Random(2024)
    with tempfile.TemporaryDirectory(prefix="bench-db-") as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, "
              f"extra PRAGMAs: {', '.join(PRAGMAS) or 'none (the bot as shipped)'}; host load average "
              + " / ".join(f"{n:.1f}" for n in os.getloadavg()) + f" (1 / 5 / 15 min) on {os.cpu_count()} cores\n")
        if not args.sqlite_profile_only:
            bench_sqlite_writes(folder, rng)

        big = folder / "big.db"
        build_seconds, counts = build_big(big, args.users, rng)
        size_mb = big.stat().st_size / 1e6
        print(f"\nBuilt a {args.users:,}-member database in {build_seconds:.1f} s ({size_mb:.0f} MB): "
              + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
        times = bench_load_profile(big, args.users, args.samples, rng)
        p50 = statistics.median(times)
        p99 = statistics.quantiles(times, n=100)[98]
        print(f"load_profile over {len(times):,} random members (150 top tracks, 60 top artists, 50 recent plays each):")
        print(f"  p50 {p50:.2f} ms   p99 {p99:.2f} ms   max {max(times):.2f} ms   "
              f"{verdict(p99 < LOAD_TARGET_MS)} (< {LOAD_TARGET_MS:g} ms)")
    if args.postgres and not args.no_postgres:
        bench_postgres(args.postgres, args.pg_users, args.samples, random.Random(2024), keep=args.pg_keep,
                       profile_only=args.pg_profile_only)
    return 0


def bench_postgres(url: str, sizes: list[int], samples: int, rng: random.Random, keep: bool = False,
                   profile_only: bool = False) -> None:
    """The same writes and reads on PostgreSQL, beside raw psycopg measured in the same run."""
    from scripts import bench_db_postgres as pg
    from storage.postgres_url import describe_url

    print(f"\nPostgreSQL {pg.server_version(url)} at {describe_url(url)}:")
    artists, tracks = catalogue(rng)
    if not profile_only:
        bench_postgres_writes(url, rng, artists, tracks)

    def check(profile: dict) -> None:
        assert len(profile["top_tracks"]["short_term"]) == TOP_TRACKS and len(profile["recent"]) == 50

    def build(target: str, users: int) -> tuple[float, dict[str, int]]:
        return pg.build_members(target, users, rng, artists, tracks, TOP_TRACKS, TOP_ARTISTS, PLAYS_PER_MEMBER)

    results = []
    for users in sizes:
        with pg.members_schema(url, users, keep, lambda target, users=users: build(target, users)) as (big, what):
            print(what)
            bot, raw = pg.profile_loads(big, users, samples, rng, check)
        results.append((users, pg.percentiles(bot), pg.percentiles(raw), os.getloadavg()[0]))
    print(f"load_profile ({TOP_TRACKS * 3} top tracks, {TOP_ARTISTS * 3} top artists, 50 recent plays, totals), "
          f"{samples:,} random members each, taking turns with the baseline: the same five statements, pipelined, "
          "on a plain psycopg connection")
    print("  members    bot p50 / p99 ms     raw p50 / p99 ms    host load (1 min)")
    for users, (p50, p99), (raw50, raw99), load in results:
        print(f"  {users:>7,}    {p50:6.2f} / {p99:6.2f}      {raw50:6.2f} / {raw99:6.2f}      {load:4.1f}    "
              f"{verdict(p99 < LOAD_TARGET_MS)} (p99 < {LOAD_TARGET_MS:g} ms)")
    if len(results) > 1:
        (first, (a50, a99), _, _), (last, (b50, b99), _, _) = results[0], results[-1]
        print(f"  from {first:,} to {last:,} members: p50 x{b50 / a50:.2f}, p99 x{b99 / a99:.2f}")


def bench_postgres_writes(url: str, rng: random.Random, artists: list[dict], tracks: list[dict]) -> None:
    """store_sync and insert_plays on PostgreSQL beside raw executemany and COPY of the same rows."""
    from scripts import bench_db_postgres as pg

    payloads = [sync_payload(rng, artists, tracks, m) for m in range(300)]
    bot, raw, rows = pg.bench_sync(url, payloads)
    print(f"store_sync (300 member syncs, {rows:,} rows):  bot {bot:>9,.0f} rows/s   raw psycopg executemany "
          f"{raw:>9,.0f} rows/s   {bot / raw:.0%} of raw  {verdict(bot >= pg.RAW_SHARE_TARGET * raw)} (>= 60%)")
    work = [(m, [(1_600_000_000_000 + (b * 1_000 + i) * 30_000, f"tr{rng.randrange(CATALOGUE_TRACKS):07d}", 120_000,
                  "import", int(i % 7 == 0)) for i in range(1_000)]) for m in range(30) for b in range(10)]
    bot, raw, rows = pg.bench_plays(url, work)
    print(f"insert_plays ({rows:,} imported plays, 1,000 a transaction):  bot {bot:>9,.0f} rows/s   raw COPY "
          f"{raw:>9,.0f} rows/s   {bot / raw:.0%} of raw  {verdict(bot >= pg.RAW_SHARE_TARGET * raw)} (>= 60%)")


if __name__ == "__main__":
    sys.exit(main())
