"""The two image caches every chart shares: checked image bytes on disk (capped, least recently used out first)
and a small memory cache of decoded covers.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

from utils.logger import get_logger

log = get_logger("images.cache")


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


class DiskCache:
    """Image bytes by URL in a folder, at most `max_bytes` in all; the least recently used go first."""

    def __init__(self, folder: str | Path, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max(0, max_bytes)
        self._lock = threading.Lock()
        self._index: OrderedDict[str, int] = OrderedDict()  # file name -> size, oldest use first
        self._total = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self._load_index()

    def _load_index(self) -> None:
        found = []
        for path in self.folder.iterdir():
            if path.suffix == ".tmp":
                path.unlink(missing_ok=True)  # a write cut short by a stop
            elif path.is_file():
                stat = path.stat()
                found.append((stat.st_mtime, path.name, stat.st_size))
        for _, name, size in sorted(found):
            self._index[name] = size
            self._total += size
        self._evict()

    @property
    def total_bytes(self) -> int:
        return self._total

    def get(self, url: str) -> bytes | None:
        name = url_key(url)
        with self._lock:
            if name not in self._index:
                return None
            self._index.move_to_end(name)
        path = self.folder / name
        try:
            data = path.read_bytes()
            os.utime(path)  # the file's time keeps the use order across restarts
        except OSError:
            with self._lock:
                self._total -= self._index.pop(name, 0)
            return None
        return data

    def put(self, url: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        name = url_key(url)
        temporary = self.folder / f"{name}.{threading.get_ident()}.tmp"
        try:
            temporary.write_bytes(data)
            os.replace(temporary, self.folder / name)
        except OSError:
            log.warning("could not write an image to the cache folder")
            temporary.unlink(missing_ok=True)
            return
        with self._lock:
            self._total += len(data) - self._index.pop(name, 0)
            self._index[name] = len(data)
            self._evict()

    def _evict(self) -> None:
        while self._total > self.max_bytes and self._index:
            name, size = self._index.popitem(last=False)
            self._total -= size
            (self.folder / name).unlink(missing_ok=True)


class MemoryCache:
    """Decoded covers by URL, up to `max_bytes` of pixels; the least recently used go first."""

    def __init__(self, max_bytes: int = 48 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Image.Image] = OrderedDict()
        self._total = 0

    @staticmethod
    def _cost(image: Image.Image) -> int:
        return image.width * image.height * len(image.getbands())

    def get(self, url: str) -> Image.Image | None:
        with self._lock:
            image = self._items.get(url)
            if image is not None:
                self._items.move_to_end(url)
            return image

    def put(self, url: str, image: Image.Image) -> None:
        with self._lock:
            old = self._items.pop(url, None)
            if old is not None:
                self._total -= self._cost(old)
            self._items[url] = image
            self._total += self._cost(image)
            while self._total > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._total -= self._cost(dropped)

    def __len__(self) -> int:
        return len(self._items)
