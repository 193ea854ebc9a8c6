"""The one image fetcher of the bot: only http(s), only allowed hosts, a time limit, a size cap, real images only.

`ImageFetcher.image(url)` gives a decoded cover (at most COVER_PIXELS a side) or None, never an error: a chart
draws its own tile for anything that could not be had. Blocking (requests); call it from worker threads.
"""

from __future__ import annotations

import io
import threading
import time
import warnings
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from PIL import Image

from utils.images.cache import DiskCache, MemoryCache
from utils.logger import get_logger

log = get_logger("images.fetch")

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 4096 * 4096  # covers are 640 a side: anything far bigger is refused before it is decoded
COVER_PIXELS = 300  # covers are kept at most this big: the largest chart square
MAX_REDIRECTS = 3
FAILURE_MEMORY_SECONDS = 300.0
_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"))


class ImageRefused(Exception):
    """Why an image was not fetched (for the log; members only ever see a drawn tile)."""


def sniff(data: bytes) -> str | None:
    """The image format the first bytes announce (JPEG, PNG, GIF, WEBP), or None for anything else."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def parse_hosts(raw: Iterable[str]) -> frozenset[str]:
    """Allowed hosts, lower case: `host` allows it on any port, `host:port` on that port only."""
    return frozenset(h.strip().lower().rstrip("/") for h in raw if h.strip())


def decode(data: bytes, largest: int = COVER_PIXELS) -> Image.Image:
    """Checked bytes to an RGB image at most `largest` a side; raises ImageRefused for anything unsafe or broken."""
    kind = sniff(data)
    if kind is None:
        raise ImageRefused("not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            if image.width * image.height > MAX_PIXELS:
                raise ImageRefused(f"too many pixels ({image.width}x{image.height})")
            image.draft("RGB", (largest, largest))  # JPEG decodes straight at a smaller scale
            image = image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRefused("decompression bomb") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageRefused(f"broken image ({type(error).__name__})") from error
    image.thumbnail((largest, largest), Image.Resampling.BILINEAR)
    return image


class ImageFetcher:
    def __init__(self, hosts: Iterable[str], disk: DiskCache | None = None, memory: MemoryCache | None = None, *,
                 timeout: float = 5.0, max_bytes: int = MAX_BYTES) -> None:
        self.hosts = parse_hosts(hosts)
        self.disk = disk
        self.memory = memory if memory is not None else MemoryCache()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._local = threading.local()
        self._failed: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- rules -------------------------------------------------------------------------------------------

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        host = parts.hostname.lower()
        try:
            port = parts.port
        except ValueError:
            return False
        return host in self.hosts or (port is not None and f"{host}:{port}" in self.hosts)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # no proxy settings or .netrc credentials sent along
        return session

    # -- fetching ----------------------------------------------------------------------------------------

    def fetch_bytes(self, url: str) -> bytes:
        """The checked bytes of an image at `url`; raises ImageRefused saying why not."""
        deadline = time.monotonic() + self.timeout
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allowed(url):
                raise ImageRefused("host or scheme not allowed")
            try:
                response = self._session().get(url, stream=True, allow_redirects=False,
                                               timeout=(min(3.0, self.timeout), self.timeout),
                                               headers={"Accept": "image/*", "Accept-Encoding": "identity"})
            except requests.RequestException as error:
                raise ImageRefused(f"could not connect ({type(error).__name__})") from error
            with response:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("Location", ""))
                    if urlsplit(target).netloc.lower() != urlsplit(url).netloc.lower():
                        raise ImageRefused("redirect to another host")
                    url = target
                    continue
                if response.status_code != 200:
                    raise ImageRefused(f"answered {response.status_code}")
                return self._read(response, deadline)
        raise ImageRefused("too many redirects")

    def _read(self, response: requests.Response, deadline: float) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ImageRefused("too big")
        body = bytearray()
        raw = response.raw
        try:
            while chunk := raw.read1(64 * 1024):  # whatever has arrived: a host sending a byte at a time is caught
                body += chunk
                if len(body) > self.max_bytes:
                    raise ImageRefused("too big")
                if time.monotonic() > deadline:
                    raise ImageRefused("too slow")
                if len(body) >= 16 and sniff(bytes(body[:16])) is None:
                    raise ImageRefused("not an image")  # stop reading at once, whatever the size
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            raise ImageRefused(f"cut off ({type(error).__name__})") from error
        if sniff(bytes(body[:16])) is None:
            raise ImageRefused("not an image")
        return bytes(body)

    def image(self, url: str | None, *, disk: bool = True) -> Image.Image | None:
        """The decoded cover at `url` from the caches or the web, or None when there is none to be had.

        `disk=False` keeps it in memory only: members' avatars never go to the disk cache.
        """
        if not url:
            return None
        cached = self.memory.get(url)
        if cached is not None:
            return cached
        with self._lock:
            failed_at = self._failed.get(url)
        if failed_at is not None and time.monotonic() - failed_at < FAILURE_MEMORY_SECONDS:
            return None
        try:
            image = self._load(url, disk)
        except ImageRefused as why:
            log.info("image not used (%s): %s", why, urlsplit(url).hostname)
            with self._lock:
                self._failed[url] = time.monotonic()
                if len(self._failed) > 5000:
                    self._failed.clear()
            return None
        self.memory.put(url, image)
        return image

    def _load(self, url: str, use_disk: bool = True) -> Image.Image:
        disk = self.disk if use_disk else None
        data = disk.get(url) if disk is not None else None
        if data is not None:
            try:
                return decode(data)
            except ImageRefused:
                pass  # a damaged file: fetch it again
        data = self.fetch_bytes(url)
        image = decode(data)
        if disk is not None:
            disk.put(url, data)
        return image
