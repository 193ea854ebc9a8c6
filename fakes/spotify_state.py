"""What the fake Spotify knows and the test controls over it: the catalogue, accounts and tokens, playlists, plays,
the request log and injected failures. `SpotifyState` holds it all; the routes (fakes.spotify_routes) read and change
it through its public methods, and `FakeSpotify` (fakes.spotify_server) is a `SpotifyState` served over HTTP.

Every method is thread-safe and takes effect at once (the HTTP server answers each request on its own thread).
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from flask import Response, jsonify

from fakes import spotify_catalogue as cat_mod
from fakes.spotify_catalogue import (
    BOT_SCOPES,
    NOT_ALLOWLISTED_MESSAGE,
    Accounts,
    Catalogue,
    Grant,
    PlaylistInfo,
    RequestRecord,
    build_catalogue,
)
from fakes.spotify_errors import ApiError, api_error, token_error


@dataclass
class _Failure:
    prefix: str
    status: int
    remaining: int
    retry_after: int | None
    body: Any
    method: str | None = None


class SpotifyState:
    """The fake Spotify's accounts, catalogue and recorded traffic, with the controls tests use."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str] = (),
        seed: int = 0,
        *,
        anchor_ms: int | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris)
        self.seed = seed
        self.catalogue: Catalogue = build_catalogue(seed)
        self.anchor_ms = anchor_ms if anchor_ms is not None else int(time.time() * 1000)
        # None means no allowlist (extended quota); a set means Development Mode with those users only.
        self.allowlist: set[str] | None = None
        self.rotate_refresh_tokens = False
        self.code_ttl = 600.0
        self.access_token_ttl = 3600
        self.token_refresh_count: Counter[str] = Counter()
        self.code_exchange_count: Counter[str] = Counter()
        self.image_delay = 0.0  # seconds each cover at /image/<id> waits before it is sent (slow image host)
        self._lock = threading.RLock()
        self._delay = 0.0
        self._ids = random.Random(seed + 1)
        self._accounts = Accounts()
        self._failures: list[_Failure] = []
        self._log: list[RequestRecord] = []
        self._playlists: dict[str, PlaylistInfo] = {}
        self._plays: dict[str, list[tuple[int, str]]] = {
            user: [(self.anchor_ms - m * 60_000, t) for m, t in offsets]
            for user, offsets in self.catalogue.play_offsets.items()
        }

    # ---- control API for tests ----

    def fail_next(
        self, path_prefix: str, status: int, count: int = 1, retry_after: int | None = None, body: Any = None,
        method: str | None = None,
    ) -> None:
        """Make the next `count` requests whose path starts with `path_prefix` (and, if given, whose method is
        `method`) answer `status`."""
        prefix = path_prefix if path_prefix.startswith("/") else "/" + path_prefix
        with self._lock:
            self._failures.append(_Failure(prefix, status, count, retry_after, body, method))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def set_delay(self, seconds: float) -> None:
        """Every reply waits this long before being sent (slow Spotify)."""
        self._delay = max(0.0, float(seconds))

    def expire_access_tokens(self) -> None:
        self._accounts.expire_all()

    def revoke(self, user_id: str) -> None:
        """The user removed the app: their refresh tokens answer invalid_grant, access tokens 401."""
        self._accounts.revoke(user_id)

    def set_allowlist(self, user_ids: Iterable[str] | None) -> None:
        self.allowlist = None if user_ids is None else set(user_ids)

    def add_play(self, user_id: str, track_id: str, played_at_ms: int) -> None:
        if track_id not in self.catalogue.tracks:
            raise KeyError(f"unknown track {track_id}")
        with self._lock:
            self._plays.setdefault(user_id, []).append((int(played_at_ms), track_id))

    def issue_tokens(self, user_id: str, scopes: Iterable[str] = BOT_SCOPES) -> dict[str, Any]:
        """Tokens for a user without the browser dance, in the token endpoint's JSON shape."""
        if user_id not in self.catalogue.users:
            raise KeyError(f"unknown user {user_id}")
        return self._grant(user_id, frozenset(scopes), with_refresh=True)

    def token_for(self, user_id: str, scopes: Iterable[str] = BOT_SCOPES) -> str:
        return self.issue_tokens(user_id, scopes)["access_token"]

    @property
    def request_log(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.request_log if r.path.startswith(path_prefix) and method in (None, r.method)]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def playlists(self) -> dict[str, PlaylistInfo]:
        with self._lock:
            return dict(self._playlists)

    @property
    def users(self) -> dict[str, cat_mod.User]:
        return dict(self.catalogue.users)

    def top_tracks(self, user_id: str, time_range: str = "medium_term") -> list[str]:
        """Track ids of the user's top tracks, best first."""
        return list(self.catalogue.top_tracks[(user_id, time_range)])

    def top_artists(self, user_id: str, time_range: str = "medium_term") -> list[str]:
        return list(self.catalogue.top_artists[(user_id, time_range)])

    def plays(self, user_id: str) -> list[tuple[int, str]]:
        """All (played_at_ms, track_id) of a user, oldest first (the API shows only the last 50)."""
        with self._lock:
            return sorted(self._plays.get(user_id, []))

    # ---- what the routes call ----

    def record_request(self, method: str, path: str, query: dict[str, str]) -> Response | None:
        """Log the request, wait the configured delay, and return the injected failure's answer, if any."""
        with self._lock:
            self._log.append(RequestRecord(method, path, query))
            failure = next((f for f in self._failures if path.startswith(f.prefix)
                            and f.method in (None, method)), None)
            if failure is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
        if self._delay:
            time.sleep(self._delay)
        if failure is None:
            return None
        if failure.body is not None:
            resp = jsonify(failure.body) if not isinstance(failure.body, str | bytes) else Response(failure.body)
            resp.status_code = failure.status
        else:
            reason = "QUOTA_EXCEEDED" if failure.status == 429 and (failure.retry_after or 0) >= 3600 else None
            resp = api_error(failure.status, reason=reason)
        if failure.retry_after is not None:
            resp.headers["Retry-After"] = str(failure.retry_after)
        return resp

    def check_client(self, auth_header: str | None, form: dict[str, str]) -> bool:
        """Whether the token request names this app, by Basic auth or in the form."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if auth_header and auth_header.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth_header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
        return client_id == self.client_id and secret == self.client_secret

    def check_bearer(self, header: str | None) -> Grant:
        """The grant behind an Authorization header; raises ApiError with Spotify's answer when it is refused."""
        if not header or not header.startswith("Bearer "):
            raise ApiError(api_error(401, "No token provided"))
        token = self._accounts.access_grant(header[len("Bearer "):].strip())
        if token is None:
            raise ApiError(api_error(401, "Invalid access token"))
        if token.expires_at < time.time():
            raise ApiError(api_error(401, "The access token expired"))
        allow = self.allowlist
        if allow is not None and token.user not in allow:
            raise ApiError(api_error(403, NOT_ALLOWLISTED_MESSAGE))
        return token

    def authorize_code(self, user: str, redirect_uri: str, scopes: frozenset[str]) -> str:
        return self._accounts.new_code(user, redirect_uri, scopes, self.code_ttl)

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any] | Response:
        grant, problem = self._accounts.spend_code(code, redirect_uri)
        if grant is None:
            return token_error(400, "invalid_grant", problem)
        with self._lock:
            self.code_exchange_count[grant.user] += 1
        return self._grant(grant.user, grant.scopes, with_refresh=True)

    def refresh(self, refresh_token: str) -> dict[str, Any] | Response:
        out = self._accounts.use_refresh(refresh_token, self.rotate_refresh_tokens, self.access_token_ttl)
        if out is None:
            return token_error(400, "invalid_grant", "Refresh token revoked")
        with self._lock:
            self.token_refresh_count[out.pop("user")] += 1
        return out

    def create_playlist(self, owner: str, name: str, public: bool, collaborative: bool, desc: str | None) -> str:
        pid = self._new_id()
        with self._lock:
            self._playlists[pid] = PlaylistInfo(pid, owner, name, public, collaborative, desc)
        return pid

    def add_items(self, pid: str, uris: Sequence[str], position: int | None) -> int:
        """Insert the URIs (at the end without a position); returns the playlist's new snapshot number."""
        with self._lock:
            info = self._playlists[pid]
            items = list(info.uris)
            at = len(items) if position is None else max(0, min(position, len(items)))
            items[at:at] = uris
            self._playlists[pid] = replace(info, uris=tuple(items), snapshot=info.snapshot + 1)
            return info.snapshot + 1

    def recent_plays(self, user: str) -> list[tuple[int, str]]:
        """The plays the API shows: like the real service, only the latest 50."""
        return self.plays(user)[-50:]

    # ---- internals ----

    def _new_id(self) -> str:
        with self._lock:
            return "".join(self._ids.choice(cat_mod._BASE62) for _ in range(22))

    def _grant(self, user: str, scopes: frozenset[str], with_refresh: bool) -> dict[str, Any]:
        return self._accounts.grant(user, scopes, self.access_token_ttl, with_refresh)
