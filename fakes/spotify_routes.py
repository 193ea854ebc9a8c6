"""The HTTP side of the fake Spotify: `build_app(state)` makes the Flask app with the accounts-service and Web API
routes over a `SpotifyState` (fakes.spotify_state), which keeps the catalogue, tokens and test controls; the routes
and their helpers here parse requests, check tokens and scopes through it, and render answers in the shapes of
Spotify's OpenAPI description, closed endpoints answering like they do for a new app. Error bodies come from
fakes.spotify_errors; `FakeSpotify` (fakes.spotify_server) serves this app over its state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

from fakes import spotify_catalogue as cat_mod
from fakes.spotify_catalogue import KNOWN_SCOPES, TIME_RANGES, Grant, PlaylistInfo
from fakes.spotify_errors import ApiError, api_error, token_error
from fakes.spotify_images import add_image_routes
from fakes.spotify_state import SpotifyState


def _playlist_json(state: SpotifyState, pid: str, api: str) -> dict:
    info = state.playlists[pid]
    items = cat_mod.paging(info.uris, 100, 0, _item_renderer(state, info, api), f"{api}playlists/{pid}/items", {})
    return cat_mod.render_playlist(state.catalogue, info, items, api)


def _item_renderer(state: SpotifyState, info: PlaylistInfo, api: str) -> Callable[[str], dict]:
    return lambda uri: cat_mod.render_playlist_item(state.catalogue, info.owner, uri, state.anchor_ms, api)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(api_error(400, f"Invalid {name}")) from None
    if not low <= value <= high:
        raise ApiError(api_error(400, f"Invalid {name}"))
    return value


def _need_scope(token: Grant, scope: str) -> None:
    if scope not in token.scopes:
        raise ApiError(api_error(403, "Insufficient client scope"))


def _lookup(table: dict[str, Any], item_id: str) -> Any:
    if not cat_mod.is_base62_id(item_id):
        raise ApiError(api_error(400, "Invalid base62 id"))
    if item_id not in table:
        raise ApiError(api_error(404, "Resource not found"))
    return table[item_id]


def build_app(state: SpotifyState) -> Flask:
    app = Flask("fake_spotify")
    cat = state.catalogue
    closed = api_error  # closed endpoints answer like they do for a new app

    def api() -> str:
        return request.host_url + "v1/"

    def auth() -> Grant:
        return state.check_bearer(request.headers.get("Authorization"))

    def track_json(track_id: str) -> dict:
        return cat_mod.render_track(cat, cat.tracks[track_id], api())

    def page_of(items: Sequence[Any], render: Callable[[Any], dict], default: int, high: int) -> dict:
        limit = _int_arg("limit", default, 1, high)
        offset = _int_arg("offset", 0, 0, 100_000)
        return cat_mod.paging(items, limit, offset, render, request.base_url, dict(request.args))

    add_image_routes(app, lambda: state.image_delay)

    @app.before_request
    def before() -> Response | None:
        path = request.environ.get("fake.original_path", request.path)
        if path.startswith("/image/"):
            return None  # the image host: no token, not in the API log, its own delay
        return state.record_request(request.method, path, request.args.to_dict())

    @app.errorhandler(ApiError)
    def on_api_error(err: ApiError) -> Response:
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
        if args.get("client_id") != state.client_id:
            return Response("INVALID_CLIENT: Invalid client", status=400)
        redirect_uri = args.get("redirect_uri", "")
        if redirect_uri not in state.redirect_uris:
            return Response("INVALID_CLIENT: Invalid redirect URI", status=400)
        echo = {"state": args["state"]} if "state" in args else {}
        sep = "&" if "?" in redirect_uri else "?"
        if args.get("response_type") != "code":
            return redirect(redirect_uri + sep + urlencode({"error": "unsupported_response_type", **echo}))
        scopes = frozenset(args.get("scope", "").replace(",", " ").split())
        if not scopes <= KNOWN_SCOPES:
            return redirect(redirect_uri + sep + urlencode({"error": "invalid_scope", **echo}))
        if args.get("deny"):
            return redirect(redirect_uri + sep + urlencode({"error": "access_denied", **echo}))
        user = args.get("login_as")
        if user is None:
            keep = {k: v for k, v in args.items() if k not in ("login_as", "deny")}
            return Response(cat_mod.authorize_page(cat.users.values(), keep), mimetype="text/html")
        if user not in cat.users:
            return Response("Unknown fake user", status=400)
        code = state.authorize_code(user, redirect_uri, scopes)
        return redirect(redirect_uri + sep + urlencode({"code": code, **echo}))

    @app.post("/api/token")
    def token() -> Any:
        form = request.form.to_dict()
        if not state.check_client(request.headers.get("Authorization"), form):
            return token_error(401, "invalid_client", "Invalid client")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            result = state.exchange_code(form.get("code", ""), form.get("redirect_uri", ""))
        elif grant == "refresh_token":
            result = state.refresh(form.get("refresh_token", ""))
        else:
            return token_error(400, "unsupported_grant_type", f"grant_type must be authorization_code or "
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
            raise ApiError(api_error(400, "Invalid time range"))
        if kind == "tracks":
            return jsonify(page_of(cat.top_tracks[(token.user, time_range)], track_json, 20, 50))
        if kind == "artists":
            ids = cat.top_artists[(token.user, time_range)]
            return jsonify(page_of(ids, lambda a: cat_mod.render_artist(cat.artists[a], api()), 20, 50))
        raise ApiError(api_error(400, "Unsupported type"))

    @app.get("/v1/me/player/recently-played")
    def recently_played() -> Any:
        token = auth()
        _need_scope(token, "user-read-recently-played")
        return jsonify(_recent_page(state, token.user, api()))

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
            raise ApiError(api_error(400, "No search query"))
        types = [t for t in request.args.get("type", "").split(",") if t]
        if not types or not set(types) <= {"track", "artist", "album"}:
            raise ApiError(api_error(400, "Bad search type field"))
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
            raise ApiError(api_error(400, "Missing required field: name"))
        public = bool(body.get("public", True))
        _need_scope(token, "playlist-modify-public" if public else "playlist-modify-private")
        pid = state.create_playlist(token.user, body["name"], public, bool(body.get("collaborative", False)),
                                    body.get("description"))
        resp = jsonify(_playlist_json(state, pid, api()))
        resp.status_code = 201
        return resp

    @app.get("/v1/playlists/<playlist_id>")
    def get_playlist(playlist_id: str) -> Any:
        auth()
        _lookup(state.playlists, playlist_id)
        return jsonify(_playlist_json(state, playlist_id, api()))

    @app.get("/v1/playlists/<playlist_id>/items")
    def playlist_items(playlist_id: str) -> Any:
        auth()
        info = _lookup(state.playlists, playlist_id)
        return jsonify(page_of(info.uris, _item_renderer(state, info, api()), 20, 50))

    @app.post("/v1/playlists/<playlist_id>/items")
    def add_items(playlist_id: str) -> Any:
        token = auth()
        info = _lookup(state.playlists, playlist_id)
        if token.user != info.owner and not info.collaborative:
            raise ApiError(api_error(403, "You cannot add items to a playlist you don't own."))
        _need_scope(token, "playlist-modify-public" if info.public else "playlist-modify-private")
        uris, position = _parse_uris()
        if not uris:
            raise ApiError(api_error(400, "No uris provided"))
        if len(uris) > 100:
            raise ApiError(api_error(400, "You can add a maximum of 100 tracks per request."))
        for uri in uris:
            parts = uri.split(":")
            if len(parts) != 3 or parts[:2] != ["spotify", "track"] or parts[2] not in cat.tracks:
                raise ApiError(api_error(400, "Payload contains a non-existing ID"))
        snapshot = state.add_items(playlist_id, uris, position)
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
        raise ApiError(api_error(400, "Invalid JSON body: expected a list of URIs"))
    return body, position


def _recent_page(state: SpotifyState, user: str, api: str) -> dict:
    """Recently played, newest first, with `after`/`before` cursors in Unix ms (like the real service)."""
    limit = _int_arg("limit", 20, 1, 50)
    after = _int_arg("after", 0, 0, 10**14) if "after" in request.args else None
    before = _int_arg("before", 0, 0, 10**14) if "before" in request.args else None
    if after is not None and before is not None:
        raise ApiError(api_error(400, "Only one of after and before may be given"))
    visible = state.recent_plays(user)
    chunk, more = cat_mod.recent_window(visible, limit, after, before)
    cursors = {"after": str(chunk[-1][0]), "before": str(chunk[0][0])} if chunk else None
    key = "after" if after is not None else "before"
    query = request.args.to_dict()
    return {
        "href": request.base_url + ("?" + urlencode(query) if query else ""),
        "items": [cat_mod.render_play(state.catalogue, ms, tid, api) for ms, tid in reversed(chunk)],
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
