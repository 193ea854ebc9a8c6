"""Fixtures for the fake Spotify's own tests (the lead may lift shared ones into tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.spotify_server import FakeSpotify

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
REDIRECT_URI = "http://127.0.0.1:8765/callback"


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotify]:
    """A running fake Spotify on an ephemeral port, stopped after the test."""
    with FakeSpotify(CLIENT_ID, CLIENT_SECRET, redirect_uris=[REDIRECT_URI], seed=0) as fake:
        yield fake
