"""A fake Last.fm (web authentication + API 2.0) over real HTTP on 127.0.0.1, for tests, the demo and benchmarks.

    with FakeLastFm("key", "secret") as fake:
        fake.add_user("alice", [Scrobble(1_700_000_000, "Kino", "Gruppa krovi")])
        fake.auth_page_url  # the browser's page: add login_as=alice to "allow" as alice

Answers follow Last.fm's documented JSON shapes: `{"recenttracks": {"track": [...], "@attr": {...}}}` with numbers
as strings, the song playing now first with `"@attr": {"nowplaying": "true"}` and no `date`, and errors as
`{"error": N, "message": "..."}` (6 no such user, 9 invalid session key, 11/16 unavailable, 17 login required for a
private profile, 29 rate limit, 13 invalid signature, 14/15 token not authorised/expired, 10 invalid API key).
"""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

from fakes.http_base import FakeHttpServer
from fakes.listening_history import History, ListHistory, MadeUpHistory, Scrobble

ERROR_TEXT = {4: "Invalid authentication token supplied", 6: "User not found", 8: "Operation failed",
              9: "Invalid session key - Please re-authenticate", 10: "Invalid API key - You must be granted a valid key "
              "by last.fm", 11: "Service Offline - This service is temporarily offline. Try again later.",
              13: "Invalid method signature supplied", 14: "Unauthorized Token - This token has not been authorized",
              15: "This token has expired", 16: "There was a temporary error processing your request. Please try again",
              17: "Login: User required to be logged in", 26: "Suspended API key",
              29: "Rate Limit Exceeded - This application has made too many requests in a short period. If this is "
                  "your API key, see https://www.last.fm/api/tos#4.4 for information about raising the limit."}
HTTP_STATUS = {4: 403, 6: 404, 8: 500, 9: 403, 10: 403, 11: 503, 13: 403, 14: 403, 15: 403, 16: 503, 17: 403,
               26: 403, 29: 429}
TOKEN_TTL = 3600.0


def api_signature(params: Mapping[str, str], secret: str) -> str:
    """Last.fm's api_sig: md5 of every parameter as name+value, sorted by name, without format/callback, + secret."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k not in ("format", "callback", "api_sig"))
    return hashlib.md5((text + secret).encode("utf-8")).hexdigest()


@dataclass
class LastFmUser:
    name: str
    history: History
    registered: int = 1_100_000_000
    private: bool = False
    now_playing: Scrobble | None = None
    single_as_object: bool = False  # the old quirk: a one-track page gives an object, not a list


@dataclass
class _State:
    users: dict[str, LastFmUser] = field(default_factory=dict)
    tokens: dict[str, tuple[str | None, float]] = field(default_factory=dict)  # token -> (user once allowed, made)
    sessions: dict[str, str] = field(default_factory=dict)  # session key -> user name
    failures: list[tuple[int, int, str | None]] = field(default_factory=list)  # (code, times left, method)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class FakeLastFm(FakeHttpServer):
    """Fake Last.fm: `/api/auth/` (the page a member allows the app on) and `/2.0/` (the API)."""

    thread_name = "fake-lastfm"

    def __init__(self, api_key: str, shared_secret: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.api_key, self.shared_secret = api_key, shared_secret
        self.delay = 0.0
        self._lock = threading.RLock()
        self._state = _State()
        self.app = self._build_app()

    # ---- addresses ----

    @property
    def api_url(self) -> str:
        return self.base_url + "/2.0/"

    @property
    def auth_url(self) -> str:
        return self.base_url + "/api/auth/"

    # ---- control (thread-safe) ----

    def add_user(self, name: str, scrobbles: Iterable[Scrobble] = (), *, private: bool = False,
                 now_playing: Scrobble | None = None, undated: Iterable[Scrobble] = (),
                 registered: int = 1_100_000_000) -> LastFmUser:
        user = LastFmUser(name, ListHistory(scrobbles, undated), registered, private, now_playing)
        with self._lock:
            self._state.users[name.lower()] = user
        return user

    def add_made_up_user(self, name: str, count: int, *, newest_uts: int | None = None, step: int = 180,
                         seed: int = 0) -> LastFmUser:
        newest = newest_uts if newest_uts is not None else int(time.time()) - 60
        user = LastFmUser(name, MadeUpHistory(count, newest, step=step, seed=seed))
        with self._lock:
            self._state.users[name.lower()] = user
        return user

    def user(self, name: str) -> LastFmUser:
        return self._state.users[name.lower()]

    def scrobble(self, name: str, scrobble: Scrobble) -> None:
        history = self.user(name).history
        assert isinstance(history, ListHistory), "only a listed history takes new plays"
        with self._lock:
            history.add(scrobble)

    def fail_next(self, code: int, times: int = 1, method: str | None = None) -> None:
        """The next `times` API calls (of `method`, or any) answer Last.fm error `code`."""
        with self._lock:
            self._state.failures.append((code, times, method.lower() if method else None))

    def revoke(self, name: str) -> None:
        """The member removed the app in their Last.fm settings: their session keys stop working."""
        with self._lock:
            for key in [k for k, user in self._state.sessions.items() if user.lower() == name.lower()]:
                del self._state.sessions[key]

    def session_key_for(self, name: str) -> str:
        """A session key as auth.getSession would give it (for tests that skip the web page)."""
        key = secrets.token_hex(16)
        with self._lock:
            self._state.sessions[key] = self.user(name).name
        return key

    def calls(self, method: str | None = None) -> list[dict[str, str]]:
        """Parameters of the API calls made so far (of one method, or all); secrets left out."""
        with self._lock:
            return [params for name, params in self._state.log if method is None or name == method.lower()]

    def allow(self, cb: str, name: str) -> str:
        """Where the browser goes after `name` allows the app: `cb` with a fresh token added."""
        token = secrets.token_hex(16)
        with self._lock:
            self._state.tokens[token] = (self.user(name).name, time.time())
        return cb + ("&" if "?" in cb else "?") + urlencode({"token": token})

    def expire_tokens(self) -> None:
        with self._lock:
            self._state.tokens = {t: (u, 0.0) for t, (u, _made) in self._state.tokens.items()}

    # ---- the app ----

    def _build_app(self) -> Flask:
        app = Flask("fake_lastfm")

        @app.get("/api/auth/")
        def auth_page() -> Any:
            args = request.args.to_dict()
            if args.get("api_key") != self.api_key:
                return Response("<p>Invalid API key</p>", status=400, mimetype="text/html")
            cb = args.get("cb", "")
            if not cb:
                return Response("<p>No callback address was given.</p>", status=400, mimetype="text/html")
            login_as = args.get("login_as")
            if login_as is None:
                return Response(self._allow_page(args), mimetype="text/html")
            if login_as.lower() not in self._state.users:
                return Response("<p>Unknown fake user</p>", status=400, mimetype="text/html")
            return redirect(self.allow(cb, login_as))

        @app.route("/2.0/", methods=["GET", "POST"])
        def api() -> Any:
            params = {**request.args.to_dict(), **request.form.to_dict()}
            if self.delay:
                time.sleep(self.delay)
            method = params.get("method", "").lower()
            with self._lock:
                self._state.log.append((method, {k: v for k, v in params.items()
                                                 if k not in ("sk", "token", "api_sig")}))
                failure = self._take_failure(method)
            if failure is not None:
                return _error(failure)
            if params.get("api_key") != self.api_key:
                return _error(10)
            handler = {"auth.getsession": self._get_session, "user.getinfo": self._user_info,
                       "user.getrecenttracks": self._recent_tracks}.get(method)
            if handler is None:
                return _error(3, "Invalid Method - No method with that name in this package", 400)
            return handler(params)

        return app

    def _allow_page(self, args: dict[str, str]) -> str:
        links = "".join(
            f'<li><a href="?{html.escape(urlencode({**args, "login_as": u.name}))}">Allow as {html.escape(u.name)}'
            "</a></li>" for u in self._state.users.values())
        return f"<h1>Connect application</h1><p>An application would like to connect to your account.</p><ul>{links}</ul>"

    def _take_failure(self, method: str) -> int | None:
        for position, (code, times, only) in enumerate(self._state.failures):
            if only is None or only == method:
                if times <= 1:
                    del self._state.failures[position]
                else:
                    self._state.failures[position] = (code, times - 1, only)
                return code
        return None

    def _signed(self, params: dict[str, str]) -> bool:
        return params.get("api_sig") == api_signature(params, self.shared_secret)

    def _get_session(self, params: dict[str, str]) -> Any:
        if not self._signed(params):
            return _error(13)
        with self._lock:
            found = self._state.tokens.pop(params.get("token", ""), None)  # a token works once
            if found is None:
                return _error(4)
            name, made = found
            if time.time() - made > TOKEN_TTL:
                return _error(15)
            if name is None:
                return _error(14)
            key = secrets.token_hex(16)
            self._state.sessions[key] = name
        return jsonify(session={"name": name, "key": key, "subscriber": 0})

    def _session_user(self, params: dict[str, str]) -> str | Response | None:
        """The user a signed call's session key names; None for an unsigned call; an error answer otherwise."""
        if "sk" not in params:
            return None
        if not self._signed(params):
            return _error(13)
        name = self._state.sessions.get(params["sk"])
        return name if name is not None else _error(9)

    def _find_user(self, params: dict[str, str]) -> LastFmUser | Response:
        session = self._session_user(params)
        if isinstance(session, Response):
            return session
        name = params.get("user") or session
        if not name:
            return _error(6, "Invalid parameters - user is required", 400)
        user = self._state.users.get(name.lower())
        if user is None:
            return _error(6)
        if user.private and (session is None or session.lower() != user.name.lower()):
            return _error(17)
        return user

    def _user_info(self, params: dict[str, str]) -> Any:
        user = self._find_user(params)
        if isinstance(user, Response):
            return user
        return jsonify(user={
            "name": user.name, "realname": "", "url": f"https://www.last.fm/user/{user.name}",
            "image": [{"size": size, "#text": ""} for size in ("small", "medium", "large", "extralarge")],
            "country": "None", "age": "0", "gender": "n", "subscriber": "0", "playcount": str(len(user.history)),
            "playlists": "0", "bootstrap": "0", "registered": {"unixtime": str(user.registered), "#text": user.registered},
            "type": "user"})

    def _recent_tracks(self, params: dict[str, str]) -> Any:
        user = self._find_user(params)
        if isinstance(user, Response):
            return user
        try:
            limit = min(200, max(1, int(params.get("limit", "50"))))
            page = max(1, int(params.get("page", "1")))
            oldest = int(params["from"]) if params.get("from") else None
            newest = int(params["to"]) if params.get("to") else None
        except ValueError:
            return _error(6, "Invalid parameters - page, limit, from and to must be numbers", 400)
        history = user.history
        start, stop = history.window(newest, oldest)
        total = stop - start
        first = start + (page - 1) * limit
        tracks = [_track(history.item(i)) for i in range(first, min(stop, first + limit))]
        if page == 1:
            tracks = [_track(s, dated=False) for s in history.undated] + tracks
            if user.now_playing is not None and newest is None:
                tracks.insert(0, {**_track(user.now_playing, dated=False), "@attr": {"nowplaying": "true"}})
        attr = {"user": user.name, "totalPages": str(-(-total // limit)), "page": str(page), "perPage": str(limit),
                "total": str(total)}
        shaped: Any = tracks[0] if user.single_as_object and len(tracks) == 1 else tracks
        return jsonify(recenttracks={"track": shaped, "@attr": attr})


def _track(scrobble: Scrobble, *, dated: bool = True) -> dict[str, Any]:
    slug = f"{scrobble.artist}/_/{scrobble.title}".replace(" ", "+")
    track: dict[str, Any] = {
        "artist": {"mbid": "", "#text": scrobble.artist}, "streamable": "0",
        "image": [{"size": size, "#text": ""} for size in ("small", "medium", "large", "extralarge")],
        "mbid": scrobble.mbid, "album": {"mbid": "", "#text": scrobble.album}, "name": scrobble.title,
        "url": f"https://www.last.fm/music/{slug}"}
    if dated:
        when = time.strftime("%d %b %Y, %H:%M", time.gmtime(scrobble.uts))
        track["date"] = {"uts": str(scrobble.uts), "#text": when}
    return track


def _error(code: int, message: str | None = None, status: int | None = None) -> Response:
    response = jsonify(error=code, message=message or ERROR_TEXT.get(code, "Error"))
    response.status_code = status or HTTP_STATUS.get(code, 400)
    return response
