"""The tiny image host for the fetcher tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.image_server import ImageServer


@pytest.fixture(scope="module")
def image_server() -> Iterator[ImageServer]:
    server = ImageServer(slow_seconds=2.0).start()
    yield server
    server.stop()
