"""A fake Spotify (accounts service + Web API) served over real HTTP on 127.0.0.1, for tests and the demo.

    with FakeSpotify("cid", "secret", redirect_uris=["http://127.0.0.1:8080/callback"]) as fake:
        token = fake.token_for("alice")
        requests.get(fake.api_url + "me", headers={"Authorization": f"Bearer {token}"})

The control methods (fail_next, set_delay, revoke, ...) are thread-safe and take effect at once.
Responses follow the shapes of Spotify's OpenAPI description, with the Feb 2026 removals applied,
and closed endpoints answer like they do for a new app, so nobody builds on them by accident.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from fakes import spotify_catalogue as cat_mod
from fakes.spotify_catalogue import (
    BOT_SCOPES,
    KNOWN_SCOPES,
    NOT_ALLOWLISTED_MESSAGE,
    TIME_RANGES,
    Accounts,
    Catalogue,
    Grant,
    PlaylistInfo,
    RequestRecord,
    build_catalogue,
)

_DEFAULT_MESSAGES = {400: "Bad request", 401: "Invalid access token", 403: "Forbidden", 404: "Resource not found",
                     429: "API rate limit exceeded", 500: "Server error", 502: "Bad gateway", 503: "Service unavailable"}


@dataclass
class _Failure:
    prefix: str
    status: int
    remaining: int
    retry_after: int | None
    body: Any


class _State:
    def __init__(self) -> None:
        self.failures: list[_Failure] = []
        self.log: list[RequestRecord] = []
        self.playlists: dict[str, PlaylistInfo] = {}
        self.plays: dict[str, list[tuple[int, str]]] = {}


class _ApiError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _playlist_json(fake: FakeSpotify, pid: str, api: str) -> dict:
    info = fake.playlists[pid]
    items = cat_mod.paging(info.uris, 100, 0, _item_renderer(fake, info, api), f"{api}playlists/{pid}/items", {})
    return cat_mod.render_playlist(fake.catalogue, info, items, api)


def _item_renderer(fake: FakeSpotify, info: PlaylistInfo, api: str) -> Callable[[str], dict]:
    return lambda uri: cat_mod.render_playlist_item(fake.catalogue, info.owner, uri, fake.anchor_ms, api)


def api_error(status: int, message: str | None = None, reason: str | None = None) -> Response:
    """A Web API error in the real shape {"error": {"status", "message"}}."""
    err: dict[str, Any] = {"status": status, "message": message or _DEFAULT_MESSAGES.get(status, "Error")}
    if reason:
        err["reason"] = reason
    resp = jsonify({"error": err})
    resp.status_code = status
    return resp


def _token_error(status: int, error: str, description: str) -> Response:
    resp = jsonify({"error": error, "error_description": description})
    resp.status_code = status
    return resp


class _QuietHandler(WSGIRequestHandler):
    """Keeps test output clean (and never prints a query string holding a code)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeSpotify:
    """Fake Spotify accounts service and Web API on one ephemeral port."""

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
        self._lock = threading.RLock()
        self._delay = 0.0
        self._ids = random.Random(seed + 1)
        self._state = _State()
        self._accounts = Accounts()
        for user, offsets in self.catalogue.play_offsets.items():
            self._state.plays[user] = [(self.anchor_ms - m * 60_000, t) for m, t in offsets]
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app: Flask = _build_app(self)

    # ---- lifecycle ----

    def start(self) -> FakeSpotify:
        """Start serving in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._server = make_server(self._host, self._port, self.app, threaded=True, request_handler=_QuietHandler)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="fake-spotify", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSpotify:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSpotify is not started")
        return self._server.server_port

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

    # ---- control API for tests ----

    def fail_next(
        self, path_prefix: str, status: int, count: int = 1, retry_after: int | None = None, body: Any = None
    ) -> None:
        """Make the next `count` requests whose path starts with `path_prefix` answer `status`."""
        prefix = path_prefix if path_prefix.startswith("/") else "/" + path_prefix
        with self._lock:
            self._state.failures.append(_Failure(prefix, status, count, retry_after, body))

    def clear_failures(self) -> None:
        with self._lock:
            self._state.failures.clear()

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
            self._state.plays.setdefault(user_id, []).append((int(played_at_ms), track_id))

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
            return list(self._state.log)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.request_log if r.path.startswith(path_prefix) and method in (None, r.method)]

    def clear_log(self) -> None:
        with self._lock:
            self._state.log.clear()

    @property
    def playlists(self) -> dict[str, PlaylistInfo]:
        with self._lock:
            return dict(self._state.playlists)

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
            return sorted(self._state.plays.get(user_id, []))

    # ---- internals used by the routes ----

    def _new_id(self) -> str:
        with self._lock:
            return "".join(self._ids.choice(cat_mod._BASE62) for _ in range(22))

    def _grant(self, user: str, scopes: frozenset[str], with_refresh: bool) -> dict[str, Any]:
        return self._accounts.grant(user, scopes, self.access_token_ttl, with_refresh)

    def _record_and_fail(self, method: str, path: str, query: dict[str, str]) -> Response | None:
        """Log the request, wait the configured delay, and apply any injected failure."""
        with self._lock:
            self._state.log.append(RequestRecord(method, path, query))
            failure = next((f for f in self._state.failures if path.startswith(f.prefix)), None)
            if failure is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._state.failures.remove(failure)
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

    def _authorize_code(self, user: str, redirect_uri: str, scopes: frozenset[str]) -> str:
        return self._accounts.new_code(user, redirect_uri, scopes, self.code_ttl)

    def _exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any] | Response:
        grant, problem = self._accounts.spend_code(code, redirect_uri)
        if grant is None:
            return _token_error(400, "invalid_grant", problem)
        with self._lock:
            self.code_exchange_count[grant.user] += 1
        return self._grant(grant.user, grant.scopes, with_refresh=True)

    def _refresh(self, refresh_token: str) -> dict[str, Any] | Response:
        out = self._accounts.use_refresh(refresh_token, self.rotate_refresh_tokens, self.access_token_ttl)
        if out is None:
            return _token_error(400, "invalid_grant", "Refresh token revoked")
        with self._lock:
            self.token_refresh_count[out.pop("user")] += 1
        return out

    def _check_bearer(self, header: str | None) -> Grant:
        if not header or not header.startswith("Bearer "):
            raise _ApiError(api_error(401, "No token provided"))
        token = self._accounts.access_grant(header[len("Bearer "):].strip())
        if token is None:
            raise _ApiError(api_error(401, "Invalid access token"))
        if token.expires_at < time.time():
            raise _ApiError(api_error(401, "The access token expired"))
        allow = self.allowlist
        if allow is not None and token.user not in allow:
            raise _ApiError(api_error(403, NOT_ALLOWLISTED_MESSAGE))
        return token

    def _check_client(self, auth_header: str | None, form: dict[str, str]) -> bool:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if auth_header and auth_header.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth_header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
        return client_id == self.client_id and secret == self.client_secret

    def _create_playlist(self, owner: str, name: str, public: bool, collaborative: bool, desc: str | None) -> str:
        pid = self._new_id()
        with self._lock:
            self._state.playlists[pid] = PlaylistInfo(pid, owner, name, public, collaborative, desc)
        return pid

    def _add_items(self, pid: str, uris: Sequence[str], position: int | None) -> int:
        with self._lock:
            info = self._state.playlists[pid]
            items = list(info.uris)
            at = len(items) if position is None else max(0, min(position, len(items)))
            items[at:at] = uris
            self._state.playlists[pid] = replace(info, uris=tuple(items), snapshot=info.snapshot + 1)
            return info.snapshot + 1

    def _recent(self, user: str) -> list[tuple[int, str]]:
        # Like the real service, only the latest 50 plays can be read.
        return self.plays(user)[-50:]


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _ApiError(api_error(400, f"Invalid {name}")) from None
    if not low <= value <= high:
        raise _ApiError(api_error(400, f"Invalid {name}"))
    return value


def _need_scope(token: Grant, scope: str) -> None:
    if scope not in token.scopes:
        raise _ApiError(api_error(403, "Insufficient client scope"))


def _lookup(table: dict[str, Any], item_id: str) -> Any:
    if not cat_mod.is_base62_id(item_id):
        raise _ApiError(api_error(400, "Invalid base62 id"))
    if item_id not in table:
        raise _ApiError(api_error(404, "Resource not found"))
    return table[item_id]


def _build_app(fake: FakeSpotify) -> Flask:
    app = Flask("fake_spotify")
    cat = fake.catalogue
    closed = api_error  # closed endpoints answer like they do for a new app

    def api() -> str:
        return request.host_url + "v1/"

    def auth() -> Grant:
        return fake._check_bearer(request.headers.get("Authorization"))

    def track_json(track_id: str) -> dict:
        return cat_mod.render_track(cat, cat.tracks[track_id], api())

    def page_of(items: Sequence[Any], render: Callable[[Any], dict], default: int, high: int) -> dict:
        limit = _int_arg("limit", default, 1, high)
        offset = _int_arg("offset", 0, 0, 100_000)
        return cat_mod.paging(items, limit, offset, render, request.base_url, dict(request.args))

    @app.before_request
    def before() -> Response | None:
        path = request.environ.get("fake.original_path", request.path)
        return fake._record_and_fail(request.method, path, request.args.to_dict())

    @app.errorhandler(_ApiError)
    def on_api_error(err: _ApiError) -> Response:
        return err.response

    @app.errorhandler(404)
    def on_404(_err: Exception) -> Response:
        return api_error(404, "Service not found")

    @app.errorhandler(405)
    def on_405(_err: Exception) -> Response:
        return api_error(405, "Method not allowed")

    # ---- accounts service ----

    @app.get("/authorize")
    def authorize() -> Any:
        args = request.args.to_dict()
        if args.get("client_id") != fake.client_id:
            return Response("INVALID_CLIENT: Invalid client", status=400)
        redirect_uri = args.get("redirect_uri", "")
        if redirect_uri not in fake.redirect_uris:
            return Response("INVALID_CLIENT: Invalid redirect URI", status=400)
        state = {"state": args["state"]} if "state" in args else {}
        sep = "&" if "?" in redirect_uri else "?"
        if args.get("response_type") != "code":
            return redirect(redirect_uri + sep + urlencode({"error": "unsupported_response_type", **state}))
        scopes = frozenset(args.get("scope", "").replace(",", " ").split())
        if not scopes <= KNOWN_SCOPES:
            return redirect(redirect_uri + sep + urlencode({"error": "invalid_scope", **state}))
        if args.get("deny"):
            return redirect(redirect_uri + sep + urlencode({"error": "access_denied", **state}))
        user = args.get("login_as")
        if user is None:
            keep = {k: v for k, v in args.items() if k not in ("login_as", "deny")}
            return Response(cat_mod.authorize_page(cat.users.values(), keep), mimetype="text/html")
        if user not in cat.users:
            return Response("Unknown fake user", status=400)
        code = fake._authorize_code(user, redirect_uri, scopes)
        return redirect(redirect_uri + sep + urlencode({"code": code, **state}))

    @app.post("/api/token")
    def token() -> Any:
        form = request.form.to_dict()
        if not fake._check_client(request.headers.get("Authorization"), form):
            return _token_error(401, "invalid_client", "Invalid client")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            result = fake._exchange_code(form.get("code", ""), form.get("redirect_uri", ""))
        elif grant == "refresh_token":
            result = fake._refresh(form.get("refresh_token", ""))
        else:
            return _token_error(400, "unsupported_grant_type", f"grant_type must be authorization_code or "
                                                               f"refresh_token, not {grant!r}")
        return result if isinstance(result, Response) else jsonify(result)

    # ---- Web API: the user ----

    @app.get("/v1/me")
    def me() -> Any:
        user = cat.users[auth().user]
        return jsonify(cat_mod.render_user(user, api()))

    @app.get("/v1/me/top/<kind>")
    def top(kind: str) -> Any:
        token = auth()
        _need_scope(token, "user-top-read")
        time_range = request.args.get("time_range", "medium_term")
        if time_range not in TIME_RANGES:
            raise _ApiError(api_error(400, "Invalid time range"))
        if kind == "tracks":
            return jsonify(page_of(cat.top_tracks[(token.user, time_range)], track_json, 20, 50))
        if kind == "artists":
            ids = cat.top_artists[(token.user, time_range)]
            return jsonify(page_of(ids, lambda a: cat_mod.render_artist(cat.artists[a], api()), 20, 50))
        raise _ApiError(api_error(400, "Unsupported type"))

    @app.get("/v1/me/player/recently-played")
    def recently_played() -> Any:
        token = auth()
        _need_scope(token, "user-read-recently-played")
        return jsonify(_recent_page(fake, token.user, api()))

    # ---- Web API: the catalogue ----

    @app.get("/v1/artists/<artist_id>")
    def artist(artist_id: str) -> Any:
        auth()
        return jsonify(cat_mod.render_artist(_lookup(cat.artists, artist_id), api()))

    @app.get("/v1/artists/<artist_id>/albums")
    def artist_albums(artist_id: str) -> Any:
        auth()
        _lookup(cat.artists, artist_id)
        groups = set(request.args.get("include_groups", "album,single,compilation,appears_on").split(","))
        albums = [a for a in cat.artist_albums(artist_id) if a.album_type in groups]
        albums.sort(key=lambda a: (a.release_date, a.id), reverse=True)

        def render(album: cat_mod.Album) -> dict:
            return {**cat_mod.render_simple_album(cat, album, api()), "album_group": album.album_type}

        return jsonify(page_of(albums, render, 5, 10))

    @app.get("/v1/albums/<album_id>")
    def album(album_id: str) -> Any:
        auth()
        found = _lookup(cat.albums, album_id)
        tracks = cat_mod.paging(found.track_ids, 50, 0, lambda t: cat_mod.render_simple_track(cat, cat.tracks[t], api()),
                                f"{api()}albums/{found.id}/tracks", {})
        return jsonify(cat_mod.render_album(cat, found, api(), tracks))

    @app.get("/v1/albums/<album_id>/tracks")
    def album_tracks(album_id: str) -> Any:
        auth()
        found = _lookup(cat.albums, album_id)
        return jsonify(page_of(found.track_ids, lambda t: cat_mod.render_simple_track(cat, cat.tracks[t], api()), 20, 50))

    @app.get("/v1/tracks/<track_id>")
    def track(track_id: str) -> Any:
        auth()
        return jsonify(track_json(_lookup(cat.tracks, track_id).id))

    @app.get("/v1/search")
    def search() -> Any:
        auth()
        query = request.args.get("q", "").strip()
        if not query:
            raise _ApiError(api_error(400, "No search query"))
        types = [t for t in request.args.get("type", "").split(",") if t]
        if not types or not set(types) <= {"track", "artist", "album"}:
            raise _ApiError(api_error(400, "Bad search type field"))
        limit = _int_arg("limit", 5, 0, 10)
        offset = _int_arg("offset", 0, 0, 1000)
        out = {}
        for kind in types:
            found, render = cat_mod.search(cat, kind, query, api())
            out[kind + "s"] = cat_mod.paging(found, limit, offset, render, request.base_url, dict(request.args))
        return jsonify(out)

    @app.route("/v1/recommendations", methods=["GET"])
    @app.route("/v1/recommendations/<path:_rest>", methods=["GET"])
    @app.route("/v1/audio-features", methods=["GET"])
    @app.route("/v1/audio-features/<path:_rest>", methods=["GET"])
    @app.route("/v1/audio-analysis/<path:_rest>", methods=["GET"])
    @app.route("/v1/artists/<_id>/related-artists", methods=["GET"])
    @app.route("/v1/artists/<_id>/top-tracks", methods=["GET"])
    @app.route("/v1/users/<_id>", methods=["GET"])
    @app.route("/v1/users/<_id>/playlists", methods=["GET", "POST"])
    @app.route("/v1/browse/<path:_rest>", methods=["GET"])
    @app.route("/v1/markets", methods=["GET"])
    def closed_endpoint(**_kw: str) -> Any:
        auth()
        return closed(403, "This endpoint is not available to this app")

    @app.get("/v1/artists")
    @app.get("/v1/tracks")
    @app.get("/v1/albums")
    def batch_get() -> Any:
        auth()
        return closed(403, "Batch requests are not available to this app; fetch items one by one")

    # ---- Web API: playlists ----

    @app.post("/v1/me/playlists")
    def create_playlist() -> Any:
        token = auth()
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise _ApiError(api_error(400, "Missing required field: name"))
        public = bool(body.get("public", True))
        _need_scope(token, "playlist-modify-public" if public else "playlist-modify-private")
        pid = fake._create_playlist(token.user, body["name"], public, bool(body.get("collaborative", False)),
                                    body.get("description"))
        resp = jsonify(_playlist_json(fake, pid, api()))
        resp.status_code = 201
        return resp

    @app.get("/v1/playlists/<playlist_id>")
    def get_playlist(playlist_id: str) -> Any:
        auth()
        _lookup(fake.playlists, playlist_id)
        return jsonify(_playlist_json(fake, playlist_id, api()))

    @app.get("/v1/playlists/<playlist_id>/items")
    def playlist_items(playlist_id: str) -> Any:
        auth()
        info = _lookup(fake.playlists, playlist_id)
        return jsonify(page_of(info.uris, _item_renderer(fake, info, api()), 20, 50))

    @app.post("/v1/playlists/<playlist_id>/items")
    def add_items(playlist_id: str) -> Any:
        token = auth()
        info = _lookup(fake.playlists, playlist_id)
        if token.user != info.owner and not info.collaborative:
            raise _ApiError(api_error(403, "You cannot add items to a playlist you don't own."))
        _need_scope(token, "playlist-modify-public" if info.public else "playlist-modify-private")
        uris, position = _parse_uris()
        if not uris:
            raise _ApiError(api_error(400, "No uris provided"))
        if len(uris) > 100:
            raise _ApiError(api_error(400, "You can add a maximum of 100 tracks per request."))
        for uri in uris:
            parts = uri.split(":")
            if len(parts) != 3 or parts[:2] != ["spotify", "track"] or parts[2] not in cat.tracks:
                raise _ApiError(api_error(400, "Payload contains a non-existing ID"))
        snapshot = fake._add_items(playlist_id, uris, position)
        resp = jsonify({"snapshot_id": cat_mod.snapshot_id(playlist_id, snapshot)})
        resp.status_code = 201
        return resp

    @app.route("/v1/playlists/<playlist_id>/tracks", methods=["GET", "POST", "PUT", "DELETE"])
    def renamed_tracks(playlist_id: str) -> Any:
        auth()
        return api_error(404, "Service not found")

    app.wsgi_app = _strip_trailing_slash(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _parse_uris() -> tuple[list[str], int | None]:
    """Accept ?uris=a,b, a bare JSON array (spotipy 2.26) or {"uris": [...]} (Spotify's docs)."""
    position = _int_arg("position", -1, 0, 1_000_000) if "position" in request.args else None
    if request.args.get("uris"):
        return [u.strip() for u in request.args["uris"].split(",") if u.strip()], position
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        if isinstance(body.get("position"), int):
            position = body["position"]
        body = body.get("uris")
    if not isinstance(body, list) or not all(isinstance(u, str) for u in body):
        raise _ApiError(api_error(400, "Invalid JSON body: expected a list of URIs"))
    return body, position


def _recent_page(fake: FakeSpotify, user: str, api: str) -> dict:
    """Recently played, newest first, with `after`/`before` cursors in Unix ms (like the real service)."""
    limit = _int_arg("limit", 20, 1, 50)
    after = _int_arg("after", 0, 0, 10**14) if "after" in request.args else None
    before = _int_arg("before", 0, 0, 10**14) if "before" in request.args else None
    if after is not None and before is not None:
        raise _ApiError(api_error(400, "Only one of after and before may be given"))
    visible = fake._recent(user)
    chunk, more = cat_mod.recent_window(visible, limit, after, before)
    cursors = {"after": str(chunk[-1][0]), "before": str(chunk[0][0])} if chunk else None
    key = "after" if after is not None else "before"
    query = request.args.to_dict()
    return {
        "href": request.base_url + ("?" + urlencode(query) if query else ""),
        "items": [cat_mod.render_play(fake.catalogue, ms, tid, api) for ms, tid in reversed(chunk)],
        "limit": limit,
        "next": request.base_url + "?" + urlencode({key: cursors[key], "limit": limit}) if more and cursors else None,
        "cursors": cursors,
        "total": len(visible),
    }


def _strip_trailing_slash(wsgi_app: Callable) -> Callable:
    """spotipy asks for `me/` and `albums/{id}/tracks/`: treat a trailing slash as absent."""

    def middleware(environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        environ["fake.original_path"] = path
        if len(path) > 1 and path.endswith("/"):
            environ["PATH_INFO"] = path.rstrip("/") or "/"
        return wsgi_app(environ, start_response)

    return middleware


__all__ = [
    "BOT_SCOPES",
    "NOT_ALLOWLISTED_MESSAGE",
    "TIME_RANGES",
    "FakeSpotify",
    "PlaylistInfo",
    "RequestRecord",
    "api_error",
]
