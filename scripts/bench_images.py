"""Chart picture speed: draws with covers cached, 20 members at once, and a chart whose covers are all fetched.

    python scripts/bench_images.py

Covers come from the fake Spotify's image host on 127.0.0.1 (real JPEGs). Prints figures; asserts nothing.
Targets (issue 11): cached 3x3 < 150 ms, 5x5 < 300 ms, 10x10 < 1 s (p99 of 50); 20 concurrent 5x5 all within 3 s
and under 100 MB more memory; uncached 5x5 with 100 ms covers within 3 s.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes.spotify_server import FakeSpotify
from scripts.bench_support import exit_on_sigterm
from utils.images.service import ChartEntry, ImageService

DRAWS = 50


def entries(fake: FakeSpotify, count: int, start: int = 0) -> list[ChartEntry]:
    albums = list(fake.catalogue.albums.values())
    chosen = [albums[(start + i) % len(albums)] for i in range(count)]
    return [ChartEntry(a.name, fake.catalogue.artists[a.artist_ids[0]].name, 10 + i, f"{fake.base_url}image/{a.image}")
            for i, a in enumerate(chosen)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def cached_draws(service: ImageService, fake: FakeSpotify) -> None:
    targets = {3: 150, 5: 300, 10: 1000}
    for grid, target in targets.items():
        chart = entries(fake, grid * grid)
        service.chart_png(chart, grid)  # covers into the caches
        times = []
        for _ in range(DRAWS):
            started = time.perf_counter()
            service.chart_png(chart, grid)
            times.append((time.perf_counter() - started) * 1000)
        print(f"cached {grid}x{grid}: p50 {statistics.median(times):.0f} ms, p99 {percentile(times, 0.99):.0f} ms "
              f"(target < {target} ms)")


async def concurrent(service: ImageService, fake: FakeSpotify, members: int = 20) -> None:
    charts = [entries(fake, 25, start=i * 5) for i in range(members)]  # overlapping favourites, as on a server
    for chart in charts:
        service.pictures([e.image_url for e in chart])
    process = psutil.Process()
    before = process.memory_info().rss
    cpu_before = sum(process.cpu_times()[:2])
    started = time.perf_counter()

    async def one(chart: list[ChartEntry]) -> float:
        await service.chart(chart, 5)
        return time.perf_counter() - started

    done = await asyncio.gather(*(one(chart) for chart in charts))
    grown = (process.memory_info().rss - before) / 1e6
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    print(f"{members} members at once, 5x5 each: all answered within {max(done):.2f} s (first {min(done):.2f} s; "
          f"target 3 s); memory grew {grown:.0f} MB (target < 100 MB); {cpu:.2f} CPU seconds in all")


def uncached(fake: FakeSpotify, folder: Path) -> None:
    fake.image_delay = 0.1
    service = ImageService([f"127.0.0.1:{fake.port}"], folder / "cold", 200)
    try:
        chart = entries(fake, 25, start=200)
        started = time.perf_counter()
        service.chart_png(chart, 5)
        took = time.perf_counter() - started
    finally:
        fake.image_delay = 0.0
        service.close()
    print(f"uncached 5x5, each cover answering in 100 ms: {took:.2f} s (target 3 s; "
          f"{len(chart)} covers, 8 fetched at a time)")


def main() -> int:
    exit_on_sigterm()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start (other work on the host slows every figure)")
    with tempfile.TemporaryDirectory() as folder, FakeSpotify("bench", "bench-secret") as fake:
        service = ImageService([f"127.0.0.1:{fake.port}"], Path(folder) / "warm", 200)
        try:
            cached_draws(service, fake)
            asyncio.run(concurrent(service, fake))
        finally:
            service.close()
        uncached(fake, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
