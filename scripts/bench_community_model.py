"""A server's community model, read from the database and fitted, as members grow: time and peak memory.

Run: python scripts/bench_community_model.py [--postgres URL] [--members 1000,5000,20000] [--items 300] [--baseline]
Each size runs in a process of its own (so its peak memory is its own): the members' listening (--items distinct
songs each, Zipf-like popularity over 50,000 songs, one play each at any age over a year) is written straight into a throwaway
PostgreSQL schema, then vacuumed and analysed as autovacuum would have done on a live server (or a SQLite file
without --postgres). Then a model past its time limit sits in the cache and a
command asks for it every 10 ms (`ModelCache.serve`): each is answered at once by the old model while one background
refit reads the listening through the bot's own queries and fits the hybrid; the time is until the new model answers.
Prints seconds (and the read alone, timed first), the process's peak memory beside its memory before the refit, and
with --baseline the read as it was before (a dict per member) in a process of its own, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CATALOGUE = 50_000
ARTISTS = 5_000
GUILD = 1


def build(target: str, members: int, items: int) -> None:
    """Members with listening, written with the driver's bulk path (set-up, not the bot's work)."""
    import numpy as np

    from database import Database

    db = Database(target).open()
    rng = np.random.default_rng(7)
    popularity = 1.0 / np.arange(1, CATALOGUE + 1) ** 0.8
    popularity /= popularity.sum()
    db.upsert_artists([{"artist_id": f"ar{a}", "name": f"Artist {a}"} for a in range(ARTISTS)])
    tracks = [{"track_id": f"tr{t}", "name": f"Song {t}", "artist_id": f"ar{t % ARTISTS}",
               "artist_name": f"Artist {t % ARTISTS}"} for t in range(CATALOGUE)]
    for start in range(0, CATALOGUE, 5_000):
        db.upsert_tracks(tracks[start:start + 5_000])
    now_ms = int(time.time() * 1000)
    for start in range(0, members, 500):
        block = range(start + 1, min(members, start + 500) + 1)
        with db.transaction() as conn:
            for member in block:
                conn.execute("INSERT INTO users (discord_id, display_name, link_state, created_at) "
                             "VALUES (?, ?, 'linked', 1.0)", (member, f"member {member}"))
            for member in block:
                songs = np.unique(rng.choice(CATALOGUE, size=int(items * 1.6), p=popularity))[:items]
                days = rng.integers(1, 400, size=len(songs))  # one play a song, at any age (weights decay with it)
                plays = [(now_ms - int(day) * 86_400_000 - k * 1000, f"tr{song}", 200_000, "spotify", 0)
                         for k, (song, day) in enumerate(zip(songs, days, strict=True))]
                db.insert_plays(member, plays)
    db.set_guild_members(GUILD, range(1, members + 1))
    db.close()
    if target.startswith("postgresql"):
        # A live server's autovacuum has long since counted and cleaned these tables; straight after a bulk set-up
        # the planner has no counts yet and would scan every play for each slice (both ways of reading alike).
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE plays, tracks, top_tracks, users, guild_members")


def fit(target: str, members: int) -> dict[str, float]:
    """A stale model is served while ONE background refit reads and fits; the new one then takes its place."""
    from database import Database
    from utils.community.model import CommunityModel, ModelCache
    from utils.listening.reads import track_weight_arrays

    db = Database(target).open()
    ids = db.visible_members(GUILD)
    assert len(ids) == members, (len(ids), members)
    warm_up(db)
    start = time.perf_counter()
    track_weight_arrays(db, ids, time.time())  # the read alone, to say where the time goes
    read_seconds = time.perf_counter() - start
    cache = ModelCache(ttl=300)
    old = CommunityModel(GUILD, tuple(sorted(ids)), frozenset(), None, time.time() - 600)  # past its time limit
    cache._models[GUILD] = old
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    served, slowest = 0, 0.0
    start = time.perf_counter()
    while True:  # a command every 10 ms: each is answered at once, by the old model until the new one is in
        asked = time.perf_counter()
        model = cache.serve(db, GUILD, ids, time.time())
        slowest = max(slowest, time.perf_counter() - asked)
        assert model is not None
        if model is not old:
            break
        served += 1
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db.close()
    return {"seconds": seconds, "read_seconds": read_seconds, "before_mb": before_mb, "peak_mb": peak_mb,
            "interactions": model.interactions, "served": served, "slowest_ms": slowest * 1000}


def warm_up(db: object) -> None:
    """Read the listening once untimed, so both ways start with it in the cache (the first read after set-up is
    slower, whichever way comes first)."""
    db.scalar("SELECT COUNT(*), MAX(played_at), MAX(track_id) FROM plays")  # type: ignore[attr-defined]
    db.scalar("SELECT COUNT(*) FROM tracks WHERE name_key <> ''")  # type: ignore[attr-defined]


def old_read(target: str) -> dict[str, float]:
    """The read as it was before (a dict per member, then a tuple per weight into the engine's matrix): a baseline."""
    from database import Database
    from utils.engine.data import Interactions
    from utils.listening.reads import interaction_weights, triples

    db = Database(target).open()
    ids = db.visible_members(GUILD)
    warm_up(db)
    start = time.perf_counter()
    Interactions.from_triples(triples(interaction_weights(db, ids, "tracks", time.time())))
    seconds = time.perf_counter() - start
    db.close()
    return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def one_size(postgres: str | None, members: int, items: int, baseline: bool) -> dict[str, float]:
    """Build and fit one size, each in a new process."""
    here = [sys.executable, __file__]
    with tempfile.TemporaryDirectory(prefix="bench-community-") as folder:
        place = _place(postgres, Path(folder))
        with place as target:
            started = time.perf_counter()
            subprocess.run([*here, "--build", target, str(members), str(items)], check=True)
            built = time.perf_counter() - started
            out = subprocess.run([*here, "--fit", target, str(members)], check=True, capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if baseline:
                out = subprocess.run([*here, "--old-read", target], check=True, capture_output=True, text=True)
                old = json.loads(out.stdout.strip().splitlines()[-1])
                result["old_seconds"], result["old_peak_mb"] = old["seconds"], old["peak_mb"]
    result["built"] = built
    return result


def _place(postgres: str | None, folder: Path):
    import contextlib

    if postgres:
        from fakes.postgres import throwaway_schema

        return throwaway_schema(postgres)
    return contextlib.nullcontext(str(folder / "bot.db"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--members", default="1000,5000,20000")
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--baseline", action="store_true",
                        help="also time the read as it was before (a dict per member), in a process of its own")
    parser.add_argument("--build", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--fit", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--old-read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build(args.build[0], int(args.build[1]), int(args.build[2]))
        return 0
    if args.fit:
        print(json.dumps(fit(args.fit[0], int(args.fit[1]))))
        return 0
    if args.old_read:
        print(json.dumps(old_read(args.old_read)))
        return 0
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(f"Community model on {where}, {args.items} songs a member; a stale model answers while one background "
          "refit reads and fits (one process each size):")
    print("  members   interactions   refit (read alone)   memory before -> peak   old model answered (slowest)"
          + ("   before: read into dicts + matrix (peak)" if args.baseline else ""))
    for members in (int(n) for n in args.members.split(",")):
        r = one_size(args.postgres, members, args.items, args.baseline)
        line = (f"  {members:>7,}   {int(r['interactions']):>12,}   {r['seconds']:>5.1f} s ({r['read_seconds']:>5.1f} s)   "
                f"{r['before_mb']:>6.0f} MB -> {r['peak_mb']:>5.0f} MB   {int(r['served']):>5,} times "
                f"({r['slowest_ms']:.1f} ms)")
        if args.baseline:
            line += f"   {r['old_seconds']:>5.1f} s ({r['old_peak_mb']:.0f} MB)"
        print(line + f"   [set-up {r['built']:.0f} s; host load {os.getloadavg()[0]:.1f}]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
