"""The disk cache keeps to its cap, throwing out the least recently used first, and remembers across restarts."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from utils.images.cache import DiskCache, MemoryCache, url_key


def test_disk_cache_keeps_to_its_cap_least_recently_used_out_first(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 3000)
    for name in ("a", "b", "c"):
        cache.put(name, name.encode() * 1000)
    assert cache.get("a") == b"a" * 1000  # a is now the most recently used
    cache.put("d", b"d" * 1000)
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None and cache.get("d") is not None
    assert cache.total_bytes <= 3000
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 3000


def test_disk_cache_remembers_after_a_restart_and_a_smaller_cap_trims(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 10_000)
    for number, name in enumerate(("old", "mid", "new")):
        cache.put(name, b"x" * 1000)
        os.utime(tmp_path / url_key(name), (1000 + number, 1000 + number))  # last used in that order
    (tmp_path / "half-written.tmp").write_bytes(b"junk")
    again = DiskCache(tmp_path, 2000)
    assert again.get("old") is None and again.get("mid") is not None and again.get("new") is not None
    assert not (tmp_path / "half-written.tmp").exists()


def test_a_file_bigger_than_the_whole_cache_is_not_kept(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 100)
    cache.put("big", b"x" * 500)
    assert cache.get("big") is None and cache.total_bytes == 0


def test_memory_cache_keeps_to_its_cap() -> None:
    cache = MemoryCache(max_bytes=3 * 10 * 10 * 3)
    for name in "abcd":
        cache.put(name, Image.new("RGB", (10, 10)))
    assert len(cache) == 3 and cache.get("a") is None and cache.get("d") is not None
