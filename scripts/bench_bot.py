"""Load test of the Discord layer: N concurrent /recommend interactions through the fake Discord.

    python scripts/bench_bot.py [--interactions 200] [--spotify-delay 0.1] [--members 3] [--listeners 200]

The real bot, services, SQLite file and web server run against FakeDiscord and a FakeSpotify that answers
every request after `--spotify-delay` seconds. Members are linked through the real OAuth round trip first;
`--listeners` more members join the server and import a listening history (the real import path), so the
server's model is a realistic size. Two bursts are timed: one where the interactions come from the few
linked members (repeat askers: their data is cached), and one where every interaction comes from a
different member (nothing cached for them).
Prints the time to the first acknowledgement (target p99 < 250 ms), to the final reply (target p99 < 2 s),
and the process's peak memory (everything in one process: fakes and web server included), with a baseline
of /stats (no engine work) measured in the same run, because these machines are shared and figures drift.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from tests.cogs.support import BotWorld, bot_world
from tests.helpers.export_files import extended_entry, make_zip, to_json

MEMBERS = ("alice", "bob", "carol")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def fire(world: BotWorld, count: int, members: list[str], name: str,
               options: dict[str, Any] | None) -> tuple[list[float], list[float], int]:
    """Dispatch `count` interactions at once; return ack times, final-reply times (s) and failures."""
    records = await asyncio.gather(*(world.slash(members[i % len(members)], name, options) for i in range(count)))
    acks: list[float] = []
    finals: list[float] = []
    failures = 0

    async def follow(record: Any) -> None:
        nonlocal failures
        response = await record.wait_response(30)
        acks.append(response["elapsed"])
        if response["late"]:
            failures += 1
            return
        message = (await record.wait_followups(1, 60))[0] if response["type"] == 5 else await record.wait_original(timeout=60)
        # when the fake received the reply, not when this script got round to reading it
        finals.append((record.replied_at or time.monotonic()) - record.dispatched_at)
        if "error id" in str(message) or not message.get("embeds"):
            failures += 1

    await asyncio.gather(*(follow(r) for r in records))
    return acks, finals, failures


async def add_listeners(world: BotWorld, count: int, seed: int = 5) -> list[str]:
    """`count` members who join the server and import a history of catalogue tracks (mostly one scene each)."""
    rng = random.Random(seed)
    catalogue = world.spotify.catalogue
    by_cluster: dict[str, list[Any]] = {}
    for track in catalogue.tracks.values():
        by_cluster.setdefault(catalogue.artists[track.artist_ids[0]].cluster, []).append(track)
    clusters = sorted(by_cluster)
    every = [t for c in clusters for t in by_cluster[c]]
    now = datetime.now(UTC)
    names = []
    for i in range(count):
        name = f"listener{i}"
        user = world.discord.add_user(name, f"Listener {i}")
        await asyncio.to_thread(world.discord.add_member, world.guild, user)
        home = by_cluster[clusters[i % len(clusters)]]
        picks = rng.sample(home, min(40, len(home))) + rng.sample(every, 15)
        entries = []
        for rank, track in enumerate(picks):
            for play in range(max(1, 12 // (1 + rank // 5))):
                when = now - timedelta(hours=rng.uniform(1, 24 * 60), minutes=play)
                artist = catalogue.artists[track.artist_ids[0]].name
                entries.append(extended_entry(when, track.name, artist, uri=f"spotify:track:{track.id}"))
        data = make_zip({"Streaming_History_Audio_2026_0.json": to_json(entries)})
        await world.services.importer.import_bytes(user.id, name, data, "my_spotify_data.zip", guild_id=world.guild.id)
        names.append(name)
    return names


def report(label: str, acks: list[float], finals: list[float], failures: int) -> None:
    ms = [a * 1000 for a in acks]
    print(f"{label}: {len(acks)} interactions, {failures} failed")
    print(f"  first acknowledgement  p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  max {max(ms):7.1f} ms")
    print(f"  final reply            p50 {pct(finals, 50):7.3f} s   p99 {pct(finals, 99):7.3f} s   "
          f"max {max(finals):7.3f} s  (mean {statistics.mean(finals):.3f} s)")


async def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        async with bot_world(Path(tmp)) as world:
            members = list(MEMBERS[: args.members])
            for name in members:
                await world.link(name)
            listeners = await add_listeners(world, args.listeners)
            world.spotify.set_delay(args.spotify_delay)
            # warm caches, models and the HTTP connection pools with a burst of each command
            await fire(world, args.interactions, members, "recommend", {"count": 10})
            await fire(world, args.interactions, members, "stats", None)
            base = await fire(world, args.interactions, members, "stats", None)
            rss_before = process.memory_info().rss
            peak = [rss_before]

            async def sample() -> None:
                while True:
                    peak[0] = max(peak[0], process.memory_info().rss)
                    await asyncio.sleep(0.02)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            result = await fire(world, args.interactions, members, "recommend", {"count": 10})
            wall = time.perf_counter() - started
            sampler.cancel()
            # Python allocations, traced in a second burst (tracing slows everything, so it is not timed)
            tracemalloc.start()
            await fire(world, args.interactions, members, "recommend", {"count": 10})
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"Fake Spotify answers after {args.spotify_delay * 1000:.0f} ms; {len(members)} linked members, "
                  f"{len(listeners)} who imported their history.")
            report("/stats baseline", *base)
            report("/recommend", *result)
            print(f"  {args.interactions} /recommend done in {wall:.2f} s "
                  f"({args.interactions / wall:.0f} per second)")
            print(f"Peak memory: process RSS {peak[0] / 2**20:.0f} MiB (was {rss_before / 2**20:.0f} MiB before the burst; "
                  f"fakes and web server included), Python allocations during the burst {traced_peak / 2**20:.1f} MiB")
            results = [result]
            if listeners:
                # every interaction from a different member: nothing of theirs is cached yet
                asked = (listeners * (args.interactions // len(listeners) + 1))[: args.interactions]
                distinct = await fire(world, args.interactions, asked, "recommend", {"count": 10})
                report(f"/recommend from {len(set(asked))} different members (cold)", *distinct)
                results.append(distinct)
            ok = all(pct(a, 99) < 0.25 and pct(f, 99) < 2.0 and n == 0 for a, f, n in results)
            print("Targets (ack p99 < 250 ms, reply p99 < 2 s, no failures):", "met" if ok else "NOT met")
            return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=200)
    parser.add_argument("--spotify-delay", type=float, default=0.1)
    parser.add_argument("--members", type=int, default=3, choices=range(1, len(MEMBERS) + 1))
    parser.add_argument("--listeners", type=int, default=200, help="members who import a history instead of linking")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
