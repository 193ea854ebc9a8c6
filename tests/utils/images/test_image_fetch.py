"""The image fetcher against a real local image host: what it takes, what it refuses, and that refusing is quick."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from fakes.image_server import ImageServer, picture
from utils.images.cache import DiskCache, MemoryCache
from utils.images.fetch import ImageFetcher, ImageRefused, decode, sniff


def fetcher(server: ImageServer, tmp_path: Path | None = None, **options: object) -> ImageFetcher:
    disk = DiskCache(tmp_path / "cache", 10 * 1024 * 1024) if tmp_path is not None else None
    return ImageFetcher([f"127.0.0.1:{server.port}"], disk, MemoryCache(), timeout=0.8, **options)  # type: ignore[arg-type]


def test_a_real_picture_is_fetched_and_decoded(image_server: ImageServer) -> None:
    got = fetcher(image_server).image(image_server.url("/ok.jpg"))
    assert isinstance(got, Image.Image) and got.size == (64, 64) and got.mode == "RGB"
    assert fetcher(image_server).image(image_server.url("/ok.png")).getpixel((5, 5)) == (20, 160, 90)


@pytest.mark.parametrize("path, why", [
    ("/missing", "answered 404"),
    ("/page.html", "not an image"),
    ("/huge.jpg", "too big"),
    ("/huge-unsized.jpg", "too big"),
    ("/bomb.png", "decompression bomb"),  # Pillow's own guard
    ("/big.png", "too many pixels"),  # ours: far bigger than any cover
    ("/redirect-other", "redirect to another host"),
])
def test_bad_images_are_refused_with_the_reason(image_server: ImageServer, path: str, why: str) -> None:
    with pytest.raises(ImageRefused, match=why):
        data = fetcher(image_server).fetch_bytes(image_server.url(path))
        decode(data)  # the bomb's bytes are small: the decoder refuses it before drawing a pixel
    assert fetcher(image_server).image(image_server.url(path)) is None


def test_a_redirect_on_the_same_host_is_followed(image_server: ImageServer) -> None:
    assert fetcher(image_server).image(image_server.url("/redirect-same")) is not None


def test_hosts_outside_the_list_and_other_schemes_are_never_asked(image_server: ImageServer) -> None:
    before = len(image_server.hits)
    other_port = ImageFetcher(["127.0.0.1:1"], timeout=0.8)
    for url in (image_server.url("/ok.jpg"), image_server.url("/ok.jpg", host="localhost"),
                f"ftp://127.0.0.1:{image_server.port}/ok.jpg", "file:///etc/passwd", "data:image/png;base64,AAAA"):
        assert other_port.image(url) is None
        assert fetcher(image_server).allowed(url) is (url == image_server.url("/ok.jpg"))
    assert len(image_server.hits) == before


def test_slow_and_dripping_hosts_give_up_within_the_time_limit(image_server: ImageServer) -> None:
    for path in ("/slow.jpg", "/drip.jpg"):
        started = time.monotonic()
        assert fetcher(image_server).image(image_server.url(path)) is None
        assert time.monotonic() - started < 1.6, path


def test_a_failed_url_is_not_asked_again_at_once(image_server: ImageServer) -> None:
    the_fetcher = fetcher(image_server)
    url = image_server.url("/missing")
    the_fetcher.image(url)
    asked = image_server.hits.count("/missing")
    the_fetcher.image(url)
    assert image_server.hits.count("/missing") == asked


def test_the_disk_cache_serves_a_second_fetcher_without_the_network(image_server: ImageServer, tmp_path: Path) -> None:
    url = image_server.url("/ok.png")
    assert fetcher(image_server, tmp_path).image(url) is not None
    asked = image_server.hits.count("/ok.png")
    again = fetcher(image_server, tmp_path).image(url)  # new memory cache, same folder
    assert again is not None and again.getpixel((1, 1)) == (20, 160, 90)
    assert image_server.hits.count("/ok.png") == asked


def test_avatars_stay_out_of_the_disk_cache(image_server: ImageServer, tmp_path: Path) -> None:
    the_fetcher = fetcher(image_server, tmp_path)
    assert the_fetcher.image(image_server.url("/ok.jpg"), disk=False) is not None
    assert the_fetcher.disk is not None and the_fetcher.disk.total_bytes == 0
    assert not list((tmp_path / "cache").iterdir())


def test_sniffing_knows_pictures_from_other_bytes() -> None:
    assert sniff(picture("JPEG")) == "JPEG" and sniff(picture("PNG")) == "PNG" and sniff(picture("GIF")) == "GIF"
    assert sniff(picture("WEBP")) == "WEBP"
    assert sniff(b"<html>") is None and sniff(b"") is None
    with pytest.raises(ImageRefused, match="broken"):
        decode(picture("PNG")[:40])
