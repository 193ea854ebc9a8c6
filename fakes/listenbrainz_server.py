"""A fake ListenBrainz API over real HTTP on 127.0.0.1, for tests, the demo and benchmarks.

    with FakeListenBrainz() as fake:
        token = fake.add_user("bob", [Scrobble(1_700_000_000, "Kino", "Zvezda")])
        requests.get(fake.api_url + "1/validate-token", headers={"Authorization": f"Token {token}"})

Shapes follow ListenBrainz's API documentation: `GET /1/validate-token`, `GET /1/user/NAME/listens` with `count`
(up to 1,000), `min_ts` and `max_ts` (both exclusive), newest first, `GET /1/user/NAME/listen-count`; every
answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset-In` and `X-RateLimit-Reset`, and
over the limit it answers 429.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

from fakes.http_base import FakeHttpServer
from fakes.listening_history import History, ListHistory, MadeUpHistory, Scrobble

MAX_COUNT = 1000
DEFAULT_COUNT = 25


@dataclass
class _State:
    users: dict[str, History] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # lower-case -> as registered
    tokens: dict[str, str] = field(default_factory=dict)  # user token -> name
    failures: list[list[int]] = field(default_factory=list)  # [status, times left]
    window_started: float = 0.0
    used: int = 0
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class FakeListenBrainz(FakeHttpServer):
    """Fake ListenBrainz with a per-window rate limit (`set_rate_limit`) and injectable outages (`fail_next`)."""

    thread_name = "fake-listenbrainz"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, rate_limit: int = 10_000,
                 rate_window: float = 10.0) -> None:
        super().__init__(host, port)
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.delay = 0.0
        self._lock = threading.RLock()
        self._state = _State()
        self.app = self._build_app()

    @property
    def api_url(self) -> str:
        return self.base_url + "/"

    # ---- control ----

    def add_user(self, name: str, listens: Iterable[Scrobble] = ()) -> str:
        """Add a member with these listens; returns their user token."""
        return self._add(name, ListHistory(listens))

    def add_made_up_user(self, name: str, count: int, *, newest_uts: int | None = None, step: int = 180,
                         seed: int = 0) -> str:
        newest = newest_uts if newest_uts is not None else int(time.time()) - 60
        return self._add(name, MadeUpHistory(count, newest, step=step, seed=seed))

    def _add(self, name: str, history: History) -> str:
        token = secrets.token_hex(18)
        with self._lock:
            self._state.users[name.lower()] = history
            self._state.names[name.lower()] = name
            self._state.tokens[token] = name
        return token

    def listen(self, name: str, scrobble: Scrobble) -> None:
        history = self._state.users[name.lower()]
        assert isinstance(history, ListHistory), "only a listed history takes new listens"
        with self._lock:
            history.add(scrobble)

    def set_rate_limit(self, limit: int, window_seconds: float) -> None:
        with self._lock:
            self.rate_limit, self.rate_window = limit, window_seconds
            self._state.window_started, self._state.used = time.time(), 0

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        with self._lock:
            self._state.failures.append([status, times])

    def calls(self, path_part: str = "") -> list[dict[str, str]]:
        with self._lock:
            return [params for path, params in self._state.log if path_part in path]

    # ---- the app ----

    def _build_app(self) -> Flask:
        app = Flask("fake_listenbrainz")

        @app.before_request
        def gate() -> Response | None:
            if self.delay:
                time.sleep(self.delay)
            with self._lock:
                self._state.log.append((request.path, request.args.to_dict()))
                limited = self._count_request()
                failure = self._take_failure()
            if limited:
                return _answer({"code": 429, "error": "You have exceeded your rate limit. See the X-RateLimit-* "
                                "headers in this response for more information."}, 429)
            if failure is not None:
                return _answer({"code": failure, "error": "The service is temporarily unavailable."}, failure)
            return None

        @app.after_request
        def headers(response: Response) -> Response:
            with self._lock:
                reset_in = max(0, math.ceil(self._state.window_started + self.rate_window - time.time()))
                remaining = max(0, self.rate_limit - self._state.used)
            response.headers["X-RateLimit-Limit"] = str(self.rate_limit)
            response.headers["X-RateLimit-Remaining"] = str(remaining)
            response.headers["X-RateLimit-Reset-In"] = str(reset_in)
            response.headers["X-RateLimit-Reset"] = str(int(time.time()) + reset_in)
            return response

        @app.get("/1/validate-token")
        def validate_token() -> Response:
            header = request.headers.get("Authorization", "")
            token = header[len("Token "):].strip() if header.startswith("Token ") else request.args.get("token", "")
            if not token:
                return _answer({"code": 400, "error": "You need to provide an Authorization token."}, 400)
            name = self._state.tokens.get(token)
            if name is None:
                return _answer({"code": 200, "message": "Token invalid.", "valid": False})
            return _answer({"code": 200, "message": "Token valid.", "valid": True, "user_name": name})

        @app.get("/1/user/<name>/listen-count")
        def listen_count(name: str) -> Response:
            history = self._state.users.get(name.lower())
            if history is None:
                return _answer({"code": 404, "error": f"Cannot find user: {name}"}, 404)
            return _answer({"payload": {"count": len(history)}})

        @app.get("/1/user/<name>/listens")
        def listens(name: str) -> Response:
            history = self._state.users.get(name.lower())
            if history is None:
                return _answer({"code": 404, "error": f"Cannot find user: {name}"}, 404)
            try:
                count = min(MAX_COUNT, max(1, int(request.args.get("count", DEFAULT_COUNT))))
                max_ts = int(request.args["max_ts"]) if request.args.get("max_ts") else None
                min_ts = int(request.args["min_ts"]) if request.args.get("min_ts") else None
            except ValueError:
                return _answer({"code": 400, "error": "count, min_ts and max_ts must be whole numbers."}, 400)
            # exclusive bounds: listened_at < max_ts and > min_ts
            start, stop = history.window(None if max_ts is None else max_ts - 1, None if min_ts is None else min_ts + 1)
            shown = [_listen(history.item(i), self._state.names[name.lower()]) for i in range(start, min(stop, start + count))]
            payload = {"count": len(shown), "user_id": self._state.names[name.lower()], "listens": shown,
                       "latest_listen_ts": history.uts_at(0) if len(history) else 0,
                       "oldest_listen_ts": history.uts_at(len(history) - 1) if len(history) else 0}
            return _answer({"payload": payload})

        return app

    def _count_request(self) -> bool:
        now = time.time()
        if now - self._state.window_started >= self.rate_window:
            self._state.window_started, self._state.used = now, 0
        if self._state.used >= self.rate_limit:
            return True
        self._state.used += 1
        return False

    def _take_failure(self) -> int | None:
        if not self._state.failures:
            return None
        status, times = self._state.failures[0]
        if times <= 1:
            self._state.failures.pop(0)
        else:
            self._state.failures[0][1] = times - 1
        return status


def _listen(scrobble: Scrobble, user: str) -> dict[str, Any]:
    msid = hashlib.md5(f"{scrobble.artist}\n{scrobble.title}".encode()).hexdigest()
    info: dict[str, Any] = {"submission_client": "fake", "recording_msid": f"{msid[:8]}-{msid[8:12]}-{msid[12:16]}"
                            f"-{msid[16:20]}-{msid[20:32]}"}
    if scrobble.spotify_id:
        info["spotify_id"] = f"https://open.spotify.com/track/{scrobble.spotify_id}"
    if scrobble.mbid:
        info["recording_mbid"] = scrobble.mbid
    return {"inserted_at": scrobble.uts + 5, "listened_at": scrobble.uts, "recording_msid": info["recording_msid"],
            "user_name": user,
            "track_metadata": {"artist_name": scrobble.artist, "track_name": scrobble.title,
                               "release_name": scrobble.album or None, "additional_info": info}}


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
