"""ImageService: what the cogs call for pictures. Fetches covers in parallel (bounded) and draws off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from utils.images import draw
from utils.images.cache import DiskCache, MemoryCache
from utils.images.fetch import ImageFetcher
from utils.models import Item

FETCH_WORKERS = 8  # covers fetched at once: enough for a 10x10 in a few round trips, gentle on the image host
DRAW_WORKERS = 2  # drawing is CPU work; more threads than cores only add waiting


@dataclass(frozen=True)
class ChartEntry:
    """One square to be: its words and where its picture is."""

    name: str
    subtitle: str | None = None
    plays: int | None = None
    image_url: str | None = None
    listeners: int | None = None  # server charts: how many members play it


def entries_from_items(items: Sequence[Item]) -> list[ChartEntry]:
    """Tracks and artists as chart squares: a track shows its artist under its name."""
    return [ChartEntry(item.name, item.artist_name, item.plays, item.image_url, item.listeners) for item in items]


class ImageService:
    def __init__(self, hosts: Sequence[str], cache_folder: str | Path | None, cache_mb: int, *,
                 timeout: float = 5.0, memory_mb: int = 64) -> None:
        disk = DiskCache(cache_folder, cache_mb * 1024 * 1024) if cache_folder is not None and cache_mb > 0 else None
        self.fetcher = ImageFetcher(hosts, disk, MemoryCache(memory_mb * 1024 * 1024), timeout=timeout)
        self._fetch_pool = ThreadPoolExecutor(FETCH_WORKERS, thread_name_prefix="image-fetch")
        self._draw_pool = ThreadPoolExecutor(DRAW_WORKERS, thread_name_prefix="image-draw")

    def close(self) -> None:
        self._fetch_pool.shutdown(wait=False, cancel_futures=True)
        self._draw_pool.shutdown(wait=False, cancel_futures=True)

    # -- blocking parts ----------------------------------------------------------------------------------

    def pictures(self, urls: Sequence[str | None], *, disk: bool = True) -> list[Image.Image | None]:
        """The covers at `urls` (None where there is none), fetched at most FETCH_WORKERS at a time."""
        wanted = list(dict.fromkeys(u for u in urls if u))
        found = dict(zip(wanted, self._fetch_pool.map(lambda u: self.fetcher.image(u, disk=disk), wanted), strict=True))
        return [found.get(u) if u else None for u in urls]

    def scaled(self, url: str | None, side: int) -> Image.Image | None:
        """The cover at `url` as a `side` square, kept in the memory cache (charts of one size repeat covers)."""
        if not url:
            return None
        key = f"{url}#{side}"
        found = self.fetcher.memory.get(key)
        if found is None:
            picture = self.fetcher.image(url)
            if picture is None:
                return None
            found = draw.cover(picture, side)
            self.fetcher.memory.put(key, found)
        return found

    def chart_png(self, entries: Sequence[ChartEntry], grid: int, labels: bool = True) -> bytes:
        shown = list(entries[: grid * grid])
        self.pictures([e.image_url for e in shown])  # fetched in parallel first
        side = draw.tile_size(grid)
        pictures = [self.scaled(e.image_url, side) for e in shown]
        tiles = [draw.Tile(e.name, e.subtitle, e.plays, p) for e, p in zip(shown, pictures, strict=True)]
        return draw.collage(tiles, grid, labels=labels)

    def taste_png(self, names: tuple[str, str], avatar_urls: tuple[str | None, str | None], score: int,
                  shared: Sequence[str]) -> bytes:
        first, second = self.pictures(list(avatar_urls), disk=False)  # a member's face is not kept on disk
        return draw.taste_card(names, (first, second), score, shared)

    # -- for the event loop ------------------------------------------------------------------------------

    async def _off_loop(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self._draw_pool, lambda: fn(*args))

    async def chart(self, entries: Sequence[ChartEntry], grid: int, labels: bool = True) -> bytes:
        """A `grid` x `grid` collage PNG of `entries` (drawn tiles where a cover can't be had)."""
        return await self._off_loop(self.chart_png, entries, grid, labels)

    async def taste_card(self, names: tuple[str, str], avatar_urls: tuple[str | None, str | None], score: int,
                         shared: Sequence[str]) -> bytes:
        return await self._off_loop(self.taste_png, names, avatar_urls, score, shared)

    async def month_bars(self, values: Sequence[tuple[str, int]], title: str) -> bytes:
        return await self._off_loop(draw.month_bars, values, title)
