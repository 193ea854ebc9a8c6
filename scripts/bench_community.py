"""Server-life speed: a year in music, crowns and /affinity, at growing sizes, through the real services and a real
SQLite file.

Run: python scripts/bench_community.py [--quick] [--keep DIR]
Prints each figure beside its target, with a baseline (SQLite counting the same plays once) measured in the same
run: on a shared, busy machine the ratio to the baseline says more than the raw figure. Targets:
  /recap of one member with 200,000 stored plays          < 500 ms
  /crowns server and a crown check, 1,000-member server    < 300 ms
  /affinity in a 1,000-member server                       < 500 ms
and the same at smaller sizes, so it shows how each grows with plays and members.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from database import Database
from utils.community.access import CommunityAccess
from utils.community.model import ModelCache
from utils.community.service import CommunityService
from utils.workers import EngineWorkers

GUILD = 1
ARTISTS = 3_000
TRACKS = 30_000
YEARS = (2017, 2024)  # plays spread over these years, both in
RECAP_TARGET_MS, CROWNS_TARGET_MS, AFFINITY_TARGET_MS = 500.0, 300.0, 500.0


def catalogue(db: Database, rng: random.Random) -> list[str]:
    artists = [{"artist_id": f"ar{a:06d}", "name": f"Artist {a}", "genres": ["pop"], "fetched_at": 1.0}
               for a in range(ARTISTS)]
    tracks = []
    weights = [1 / (a + 1) for a in range(ARTISTS)]  # Zipf: the first artists have the most songs
    for t, a in enumerate(rng.choices(range(ARTISTS), weights, k=TRACKS)):
        tracks.append({"track_id": f"tr{t:07d}", "name": f"Song {t}", "artist_id": f"ar{a:06d}",
                       "artist_name": f"Artist {a}", "album_id": f"al{t // 12}", "album_name": f"Album {t // 12}",
                       "duration_ms": 200_000})
    db.upsert_artists(artists)
    db.upsert_tracks(tracks)
    return [t["track_id"] for t in tracks]


def add_member(db: Database, rng: random.Random, member: int, tracks: list[str], plays: int) -> None:
    """A member with `plays` plays over the benchmark's years: a personal favourite set, replayed a lot."""
    db.ensure_user(member, f"Member {member}")
    db.add_guild_member(GUILD, member)
    favourites = [tracks[min(len(tracks) - 1, int(rng.paretovariate(0.8)) - 1 + rng.randrange(200))]
                  for _ in range(300)]
    start = calendar.timegm((YEARS[0], 1, 1, 0, 0, 0)) * 1000
    span = calendar.timegm((YEARS[1] + 1, 1, 1, 0, 0, 0)) * 1000 - start
    rows = [(start + rng.randrange(span), rng.choice(favourites), 180_000, "import", 0) for _ in range(plays)]
    db.insert_plays(member, rows)


def services(db: Database) -> CommunityService:
    access = CommunityAccess(db, SimpleNamespace(feature_community=True))
    return CommunityService(db, access, ModelCache(), EngineWorkers())


async def timed(fn: Callable[[], Awaitable[Any]], runs: int = 3) -> float:
    """Median milliseconds of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def line(what: str, ms: float, target: float | None = None) -> None:
    verdict = "" if target is None else f"  (target < {target:.0f} ms: {'ok' if ms < target else 'OVER'})"
    print(f"  {what:<58} {ms:8.1f} ms{verdict}")


async def bench_recap(folder: Path, plays_sizes: list[int]) -> None:
    print("A year in music (one member; the recap counts the latest year, all their plays are scanned for "
          "'first heard'):")
    for plays in plays_sizes:
        db = Database(folder / f"recap-{plays}.db").open()
        rng = random.Random(1)
        add_member(db, rng, 10, catalogue(db, rng), plays)
        svc = services(db)
        ms = await timed(lambda svc=svc: svc.member_recap(GUILD, 10, 10, YEARS[1]))
        line(f"/recap, {plays:,} plays stored", ms, RECAP_TARGET_MS if plays == max(plays_sizes) else None)
        baseline = await timed(lambda db=db: db.run(db.scalar, "SELECT COUNT(*) FROM plays WHERE discord_id = 10 "
                                                               "AND skipped = 0"))
        line(f"  baseline: SQLite counting the {plays:,} plays once", baseline)
        svc.workers.close()
        db.close()


async def bench_server(folder: Path, member_sizes: list[int], plays_each: int) -> None:
    print(f"A server ({plays_each} plays per member over {YEARS[1] - YEARS[0] + 1} years):")
    for members in member_sizes:
        db = Database(folder / f"server-{members}.db").open()
        rng = random.Random(2)
        tracks = catalogue(db, rng)
        for member in range(100, 100 + members):
            add_member(db, rng, member, tracks, plays_each)
        svc = services(db)
        top_artist = db.query("SELECT a.name FROM plays p JOIN tracks t ON t.track_id = p.track_id "
                              "JOIN artists a ON a.artist_id = t.artist_id GROUP BY a.name ORDER BY COUNT(*) DESC "
                              "LIMIT 1")[0]["name"]
        size = f"{members:,} members, {members * plays_each:,} plays"
        started = time.perf_counter()
        await svc.crowns.leaderboard(GUILD)  # the server's first crowns, from the stored plays
        line(f"first crowns (counted once per server), {size}", (time.perf_counter() - started) * 1000)
        svc.crowns.invalidate()
        recount = await timed(lambda svc=svc: _recount(svc), runs=1)
        line(f"recount after a change in listening, {size}", recount)
        board = await timed(lambda svc=svc: svc.crowns.leaderboard(GUILD))
        line(f"/crowns server, {size}", board, CROWNS_TARGET_MS if members == max(member_sizes) else None)
        svc.invalidate(100)  # one member synced: a slow server recounts in the background, the answer does not wait
        line(f"/crowns server right after a change in listening, {size}",
             await timed(lambda svc=svc: svc.crowns.leaderboard(GUILD), runs=1),
             CROWNS_TARGET_MS if members == max(member_sizes) else None)
        await svc.crowns.settled()

        async def check(svc: CommunityService = svc, top_artist: str = top_artist) -> None:
            _, entries = await svc.whoknows(GUILD, top_artist)
            await svc.crowns.check(GUILD, top_artist, [(e.discord_id, e.plays) for e in entries])

        line(f"/whoknows with its crown check, {size}", await timed(check),
             CROWNS_TARGET_MS if members == max(member_sizes) else None)
        svc.tastes.forget()
        cold = await timed(lambda svc=svc: svc.affinity(GUILD, 100), runs=1)
        line(f"/affinity, first of the day (profiles read), {size}", cold)
        warm = await timed(lambda svc=svc: svc.affinity(GUILD, 101))
        line(f"/affinity, profiles prepared, {size}", warm, AFFINITY_TARGET_MS if members == max(member_sizes) else None)

        async def after_change(svc: CommunityService = svc) -> None:
            svc.invalidate(102)  # one member synced: only their profile is read again
            await svc.affinity(GUILD, 101)

        line(f"/affinity after one member's listening changed, {size}", await timed(after_change),
             AFFINITY_TARGET_MS if members == max(member_sizes) else None)
        server = await timed(lambda svc=svc: svc.server_recap(GUILD, YEARS[1]), runs=1)
        line(f"/recap server, {size}", server)
        svc.workers.close()
        db.close()


async def _recount(svc: CommunityService) -> None:
    svc.crowns._counted.clear()  # as if stale and due
    svc.crowns._cost.clear()  # as if quick, so it is done there and then (a slow one runs in the background)
    await svc.crowns.leaderboard(GUILD)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes only (a smoke run)")
    parser.add_argument("--keep", type=Path, help="build the database files here and keep them")
    args = parser.parse_args()
    plays_sizes = [20_000, 50_000] if args.quick else [50_000, 100_000, 200_000]
    member_sizes = [100, 250] if args.quick else [250, 500, 1000]
    with tempfile.TemporaryDirectory() as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        await bench_recap(folder, plays_sizes)
        await bench_server(folder, member_sizes, 200)


if __name__ == "__main__":
    asyncio.run(main())
