"""A fake Spotify (accounts service + Web API) served over real HTTP on 127.0.0.1, for tests and the demo.

    with FakeSpotify("cid", "secret", redirect_uris=["http://127.0.0.1:8080/callback"]) as fake:
        token = fake.token_for("alice")
        requests.get(fake.api_url + "me", headers={"Authorization": f"Bearer {token}"})

The control methods (fail_next, set_delay, revoke, ...) are thread-safe and take effect at once.
Responses follow the shapes of Spotify's OpenAPI description, with the Feb 2026 removals applied,
and closed endpoints answer like they do for a new app, so nobody builds on them by accident.

`FakeSpotify` puts three parts together: the state and test controls (fakes.spotify_state.SpotifyState), the Flask
routes over that state (fakes.spotify_routes.build_app) and the HTTP server's start/stop (fakes.http_base).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask

from fakes.http_base import FakeHttpServer
from fakes.spotify_catalogue import BOT_SCOPES, NOT_ALLOWLISTED_MESSAGE, TIME_RANGES, PlaylistInfo, RequestRecord
from fakes.spotify_errors import api_error
from fakes.spotify_routes import build_app
from fakes.spotify_state import SpotifyState


class FakeSpotify(SpotifyState, FakeHttpServer):
    """Fake Spotify accounts service and Web API on one ephemeral port."""

    thread_name = "fake-spotify"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str] = (),
        seed: int = 0,
        *,
        anchor_ms: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        SpotifyState.__init__(self, client_id, client_secret, redirect_uris, seed, anchor_ms=anchor_ms)
        FakeHttpServer.__init__(self, host, port)
        self.app: Flask = build_app(self)

    # ---- lifecycle (start, stop, port: FakeHttpServer) ----

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/"

    @property
    def accounts_url(self) -> str:
        return self.base_url

    @property
    def api_url(self) -> str:
        return self.base_url + "v1/"

    @property
    def authorize_endpoint(self) -> str:
        return self.base_url + "authorize"

    @property
    def token_endpoint(self) -> str:
        return self.base_url + "api/token"


__all__ = [
    "BOT_SCOPES",
    "NOT_ALLOWLISTED_MESSAGE",
    "TIME_RANGES",
    "FakeSpotify",
    "PlaylistInfo",
    "RequestRecord",
    "api_error",
]
