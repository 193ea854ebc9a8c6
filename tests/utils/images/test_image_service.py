"""The image service: charts from real covers off the fake Spotify, drawn tiles for the rest, bounded fetching."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from fakes.image_server import ImageServer
from fakes.spotify_server import FakeSpotify
from utils.images.draw import fallback_tile
from utils.images.service import FETCH_WORKERS, ChartEntry, ImageService


@pytest.fixture(scope="module")
def spotify() -> Iterator[FakeSpotify]:
    with FakeSpotify("images", "images-secret") as fake:
        yield fake


def cover_url(fake: FakeSpotify, number: int) -> str:
    album = list(fake.catalogue.albums.values())[number]
    return f"{fake.base_url}image/{album.image}"


def test_the_fake_spotify_serves_real_jpeg_covers_at_the_urls_it_hands_out(spotify: FakeSpotify) -> None:
    import requests

    token = spotify.token_for("alice")
    album = next(iter(spotify.catalogue.albums))
    body = requests.get(spotify.api_url + f"albums/{album}", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).json()
    url = body["images"][0]["url"]
    assert url.startswith(spotify.base_url + "image/")
    answer = requests.get(url, timeout=5)
    assert answer.headers["Content-Type"] == "image/jpeg"
    picture = Image.open(io.BytesIO(answer.content))
    assert picture.format == "JPEG" and picture.size == (300, 300)
    assert requests.get(spotify.base_url + "image/nothing-here", timeout=5).status_code == 404


def test_a_chart_uses_covers_and_draws_tiles_for_missing_or_refused_ones(spotify: FakeSpotify, tmp_path: Path,
                                                                         image_server: ImageServer) -> None:
    service = ImageService([f"127.0.0.1:{spotify.port}"], tmp_path, 50, timeout=1.0)
    try:
        entries = [ChartEntry(f"Album {i}", "Artist", 5, cover_url(spotify, i)) for i in range(7)]
        entries += [ChartEntry("Gone", None, 1, spotify.base_url + "image/" + "0" * 40 + "x"),
                    ChartEntry("Elsewhere", None, 1, image_server.url("/ok.jpg"))]  # a host not on the list
        image = Image.open(io.BytesIO(service.chart_png(entries, 3, labels=False))).convert("RGB")
        squares = [image.crop((x * 300, y * 300, x * 300 + 300, y * 300 + 300)) for y in range(3) for x in range(3)]
        assert squares[7].tobytes() == fallback_tile("Gone", 300).tobytes()
        assert squares[8].tobytes() == fallback_tile("Elsewhere", 300).tobytes()
        for number in range(7):
            assert squares[number].tobytes() != fallback_tile(f"Album {number}", 300).tobytes()
        assert len({s.tobytes() for s in squares}) == 9
        assert "/ok.jpg" not in image_server.hits
        assert any(tmp_path.iterdir())  # the covers went to the disk cache
    finally:
        service.close()


def test_covers_are_fetched_in_parallel_but_never_more_than_the_bound(image_server: ImageServer, tmp_path: Path) -> None:
    service = ImageService([f"127.0.0.1:{image_server.port}"], None, 0, timeout=5.0)
    image_server.slow_seconds, image_server.most_at_once = 0.3, 0
    try:
        pictures = service.pictures([image_server.url(f"/slow.jpg?n={n}") for n in range(20)] + [None])
    finally:
        image_server.slow_seconds = 2.0
        service.close()
    assert all(p is not None for p in pictures[:20]) and pictures[20] is None
    assert 1 < image_server.most_at_once <= FETCH_WORKERS


async def test_drawing_runs_off_the_event_loop(spotify: FakeSpotify, tmp_path: Path) -> None:
    import threading

    service = ImageService([f"127.0.0.1:{spotify.port}"], tmp_path, 50)
    seen: list[str] = []
    original = service.chart_png
    service.chart_png = lambda *a: seen.append(threading.current_thread().name) or original(*a)  # type: ignore[method-assign]
    try:
        png = await service.chart([ChartEntry("One", None, 1, cover_url(spotify, 0))], 3)
        bars = await service.month_bars([("Jan", 3), ("Feb", 5)], "Plays")
    finally:
        service.close()
    assert png.startswith(b"\x89PNG") and bars.startswith(b"\x89PNG")
    assert seen and seen[0].startswith("image-draw")
