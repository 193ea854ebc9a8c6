"""The bot's small web server: status pages for the host's health checks, and the Spotify `/callback`.

`create_app(ctx)` builds the Flask application; `WebServer(app, host, port)` serves it with waitress on a
daemon thread (`start()` / `stop()`, `.port` is the bound port, so port 0 works in tests).
"""

from __future__ import annotations

import contextlib
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from waitress import create_server, wasyncore
from werkzeug.exceptions import HTTPException

from config import Settings
from database import Database, is_temporary_failure
from spotify_auth import SpotifyAuth
from utils.errors import describe_wait
from utils.events import BotBridge, BridgeStatus, NullBridge
from utils.logger import get_logger
from web.pages import message_page, paragraph, render_page

log = get_logger("web")

DEFAULT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def app_version() -> str:
    """The version in pyproject.toml, or "dev" when it can't be read (e.g. a trimmed deployment)."""
    try:
        with open(Path(__file__).with_name("pyproject.toml"), "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "dev"


@dataclass
class WebContext:
    """What the web pages need. `bridge` may be swapped for the bot's own once it connects."""

    settings: Settings
    db: Database
    auth: SpotifyAuth
    bridge: BotBridge = field(default_factory=NullBridge)
    importer: Any | None = None
    sources: Any | None = None  # utils.sources.source_links.SourceLinks (Last.fm's callback)
    started_at: float = field(default_factory=time.time)
    version: str = field(default_factory=app_version)


def create_app(ctx: WebContext) -> Flask:
    """The Flask application: `/`, `/health`, `/ready`, `/api/status`, `/callback` (+ upload pages)."""
    app = Flask(__name__)
    app.config.update(JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=64 * 1024 * 1024)
    app.extensions["web_context"] = ctx
    _register_status_routes(app, ctx)
    _register_callback(app, ctx)
    _register_lastfm_callback(app, ctx)
    _register_upload(app, ctx)
    _register_error_pages(app)
    app.after_request(_security_headers)
    app.wsgi_app = _FastHealth(app.wsgi_app)  # type: ignore[method-assign]
    return app


class _FastHealth:
    """Answers `GET /health` before Flask: hosts poll it often, and liveness needs nothing Flask does.

    Same body and headers as the Flask route would give; everything else passes straight through.
    """

    BODY = b'{"status":"ok"}\n'

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.headers = [("Content-Type", "application/json"), ("Content-Length", str(len(self.BODY))),
                        *SECURITY_HEADERS.items(), ("Content-Security-Policy", DEFAULT_CSP),
                        ("Cache-Control", "no-store"), ("Pragma", "no-cache")]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/health" and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", list(self.headers))
            return [self.BODY]
        return self.wsgi_app(environ, start_response)


# -- routes ------------------------------------------------------------------------------------------------

def _bridge_status(ctx: WebContext) -> BridgeStatus:
    try:
        return ctx.bridge.status()
    except Exception:  # a bridge must never take a status page down
        log.exception("The bot bridge failed to report its status")
        return {"connected": False, "guilds": 0, "latency_ms": None}


def _status(ctx: WebContext) -> dict[str, Any]:
    """Counts only: no ids, names or tokens."""
    bot = _bridge_status(ctx)
    linked, last_sync = None, None
    if ctx.db.is_open:
        try:
            linked = ctx.db.counts()["linked_users"]
            last_sync = ctx.db.last_sync_at()
        except Exception:
            log.exception("Status page could not read the database")
    latency = bot.get("latency_ms")
    return {
        "version": ctx.version,
        "uptime_seconds": round(time.time() - ctx.started_at, 1),
        "bot_connected": bool(bot.get("connected")),
        "database_open": bool(ctx.db.is_open),
        "guilds": int(bot.get("guilds") or 0),
        "linked_users": linked,
        "gateway_latency_ms": None if latency is None else round(float(latency), 1),
        "last_sync_at": last_sync if isinstance(last_sync, int | float) else None,
    }


def _register_status_routes(app: Flask, ctx: WebContext) -> None:
    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    @app.get("/ready")
    def ready() -> tuple[Response, int]:
        bot = _bridge_status(ctx)
        checks = {"database": bool(ctx.db.is_open), "discord": bool(bot.get("connected"))}
        ok = all(checks.values())
        return jsonify(ready=ok, checks=checks), 200 if ok else 503

    @app.get("/api/status")
    def api_status() -> Response:
        return jsonify(_status(ctx))

    @app.get("/")
    def index() -> str:
        status = _status(ctx)
        online = status["bot_connected"]
        rows = [
            ("Bot", "online" if online else "starting or offline"),
            ("Servers", str(status["guilds"])),
            ("Linked Spotify accounts", "unknown" if status["linked_users"] is None else str(status["linked_users"])),
            ("Up for", describe_wait(status["uptime_seconds"])),
            ("Last sync", _ago(status["last_sync_at"])),
            ("Version", ctx.version),
        ]
        table = "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"
        body = paragraph("This is the web side of the Spotify recommendations bot. Use the bot from Discord: "
                         "run /connect there to link your Spotify account.") + table
        return render_page("The bot is running" if online else "The bot is starting", body,
                           tone="ok" if online else "info")


def _register_callback(app: Flask, ctx: WebContext) -> None:
    @app.get("/callback")
    def callback() -> tuple[str, int]:
        outcome = ctx.auth.handle_callback(request.args.to_dict())
        if outcome.ok and outcome.discord_id is not None:
            try:
                ctx.bridge.on_linked(outcome.discord_id, outcome.guild_id)
            except Exception:  # the link is stored; the DM is a courtesy
                log.exception("Could not tell the bot about a new link")
        page = message_page(outcome.title, outcome.message, tone="ok" if outcome.ok else "error")
        return page, outcome.status_code


def _register_lastfm_callback(app: Flask, ctx: WebContext) -> None:
    @app.get("/lastfm/callback")
    def lastfm_callback() -> tuple[str, int]:
        if ctx.sources is None:
            return message_page("Last.fm isn't set up here", "This bot doesn't link Last.fm accounts.",
                                tone="error"), 404
        outcome = ctx.sources.handle_lastfm_callback(request.args.to_dict())
        if outcome.ok and outcome.discord_id is not None:
            notify = getattr(ctx.bridge, "on_source_linked", None)
            try:
                if notify is not None:
                    notify(outcome.discord_id, outcome.guild_id, "lastfm")
            except Exception:  # the link is stored; the history starts at the next sync anyway
                log.exception("Could not tell the bot about a new Last.fm link")
        page = message_page(outcome.title, outcome.message, tone="ok" if outcome.ok else "error")
        return page, outcome.status_code


def _register_upload(app: Flask, ctx: WebContext) -> None:
    if ctx.importer is None:
        return
    try:
        from web.upload import create_upload_blueprint
    except ImportError:
        log.warning("History upload pages are not available (web/upload.py is missing)")
        return
    app.register_blueprint(create_upload_blueprint(ctx))


def _register_error_pages(app: Flask) -> None:
    words = {404: ("Page not found", "There's nothing at this address. Check the link the bot sent you."),
             405: ("Not allowed", "This page can't be used that way."),
             413: ("File too large", "That file is bigger than the bot accepts.")}

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        title, text = words.get(code, ("Something went wrong", "The page couldn't be shown."))
        return message_page(title, text, tone="error"), code

    @app.errorhandler(Exception)
    def crash(error: Exception) -> tuple[str, int]:
        # The route's pattern, never the path: callback and upload paths carry one-time secrets.
        page = request.url_rule.rule if request.url_rule is not None else "an unknown page"
        if is_temporary_failure(error):  # the database server is away or busy: nothing was half-done
            log.warning("Web page %s couldn't reach the database; the visitor was asked to try again", page)
            return message_page("Please try again in a moment",
                                "The bot can't reach its storage right now. Nothing was changed: reload this page "
                                "in a moment.", tone="error"), 503
        log.error("Web page failed on %s: %s", page, type(error).__name__, exc_info=error)
        return message_page("Something went wrong on our side",
                            "The page couldn't be shown. Please try again in a minute; if it keeps happening, "
                            "tell the bot owner.", tone="error"), 500


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    csp = response.headers.get("Content-Security-Policy")
    if csp is None:
        response.headers["Content-Security-Policy"] = DEFAULT_CSP
    elif "frame-ancestors" not in csp:
        response.headers["Content-Security-Policy"] = csp.rstrip("; ") + "; frame-ancestors 'none'"
    # Nothing here is worth caching, and the callback and upload pages carry one-time secrets in their URL.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _e(value: object) -> str:
    from html import escape

    return escape(str(value))


def _ago(timestamp: float | None) -> str:
    if timestamp is None:
        return "not yet"
    return describe_wait(time.time() - timestamp) + " ago"


# -- the server ------------------------------------------------------------------------------------------------

class WebServer:
    """Serves a WSGI app with waitress on a daemon thread. `stop()` closes every socket and worker."""

    def __init__(self, app: Any, host: str = "0.0.0.0", port: int = 8080, *, threads: int = 8,
                 connection_limit: int = 200) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self.threads = threads
        self.connection_limit = connection_limit
        self._map: dict[int, Any] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._lifecycle = threading.Lock()  # the bot's shutdown and a test's teardown may both stop it

    @property
    def port(self) -> int:
        """The bound port once started (the real one when asked for port 0)."""
        return int(self._server.effective_port) if self._server is not None else self._requested_port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebServer:
        with self._lifecycle:
            return self._start()

    def _start(self) -> WebServer:
        if self._server is not None:
            return self
        self._server = create_server(self.app, map=self._map, host=self.host, port=self._requested_port,
                                     threads=self.threads, connection_limit=self.connection_limit,
                                     channel_timeout=60, ident="bot", clear_untrusted_proxy_headers=True)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="web-server", daemon=True)
        self._thread.start()
        log.info("Web server listening on port %s", self.port)
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        finally:
            self._stopped.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listening socket and open connections, end the worker threads, join the loop thread."""
        with self._lifecycle:
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        # Workers first, while the loop still runs: a worker finishing a response pulls the loop's trigger,
        # which must not be closed under it.
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        if thread is not None and thread.is_alive():
            self._end_loop(server, thread, timeout)
        else:
            wasyncore.close_all(self._map, ignore_all=True)
        self._server = None
        self._thread = None
        log.info("Web server stopped")

    def _end_loop(self, server: Any, thread: threading.Thread, timeout: float) -> None:
        # Close from inside the event loop: closing sockets under a running select() is not safe.
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(self._map, ignore_all=True))
        except OSError:
            log.warning("The web server's wake-up pipe was already closed; stopping it the slow way")
            # Its file numbers may belong to another file by now: mark it closed so nothing closes them again.
            server.trigger._closed = True
            self._end_loop_without_trigger(thread, timeout)
            return
        if not self._stopped.wait(timeout):
            log.warning("The web server's loop did not stop in time; stopping it the slow way")
            self._end_loop_without_trigger(thread, timeout)

    def _end_loop_without_trigger(self, thread: threading.Thread, timeout: float) -> None:
        """Empty the loop's map so it ends at its next turn (within a second), then close what it held.

        Taking the map first means the loop and this thread never both close one socket (a double close
        would hit whatever file reused its number).
        """
        held: list[Any] = []
        deadline = time.monotonic() + timeout
        while thread.is_alive() and time.monotonic() < deadline:
            held.extend(self._map.values())  # a connection accepted meanwhile is taken on the next pass
            self._map.clear()
            thread.join(0.1)
        held.extend(self._map.values())
        self._map.clear()
        for channel in held:
            if getattr(channel, "_closed", False):
                continue  # the wake-up pipe, given up above
            with contextlib.suppress(OSError):
                channel.close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
