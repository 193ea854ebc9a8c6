"""Fixtures for the Spotify client tests (the lead may lift shared ones into tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from fakes.spotify_server import FakeSpotify
from utils.errors import LinkBroken
from utils.sources import spotify_client
from utils.sources.spotify_client import SpotifyClient

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


class TokenBox:
    """A token provider like the vault's: the stored token, or a real refresh against the fake on demand."""

    def __init__(self, fake: FakeSpotify, user_id: str) -> None:
        self.fake = fake
        tokens = fake.issue_tokens(user_id)
        self.access = tokens["access_token"]
        self.refresh = tokens["refresh_token"]
        self.calls: list[bool] = []

    def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        if force_refresh:
            answer = requests.post(self.fake.token_endpoint, timeout=5, auth=(CLIENT_ID, CLIENT_SECRET),
                                   data={"grant_type": "refresh_token", "refresh_token": self.refresh})
            if answer.status_code == 400 and answer.json().get("error") == "invalid_grant":
                raise LinkBroken()
            answer.raise_for_status()
            body = answer.json()
            self.access = body["access_token"]
            self.refresh = body.get("refresh_token", self.refresh)
        return self.access


@pytest.fixture(autouse=True)
def _fresh_spotify_stats() -> Iterator[None]:
    spotify_client.reset_stats()
    yield
    spotify_client.reset_stats()


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotify]:
    with FakeSpotify(CLIENT_ID, CLIENT_SECRET, redirect_uris=["http://127.0.0.1:8765/callback"], seed=0) as fake:
        yield fake


@pytest.fixture
def make_client(fake_spotify: FakeSpotify) -> Callable[..., tuple[SpotifyClient, TokenBox]]:
    """make_client("alice", **overrides) -> (client, token box), with backoff small enough for tests."""

    def make(user_id: str = "alice", **overrides: float) -> tuple[SpotifyClient, TokenBox]:
        box = TokenBox(fake_spotify, user_id)
        options = {"timeout": 2.0, "max_wait": 5.0, "max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05}
        options.update(overrides)
        return SpotifyClient(box, fake_spotify.api_url, **options), box

    return make
