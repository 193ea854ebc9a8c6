"""The web server as a browser and a host's health checker see it: real waitress, real sockets."""

from __future__ import annotations

import html
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oauth_support import DISCORD_ID, GUILD_ID, World, build_world

from keep_alive import WebServer, create_app
from spotify_auth import hash_state

SECURITY = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from build_world(tmp_path)


def get(world: World, path: str, **params: str) -> requests.Response:
    return requests.get(world.base_url + path, params=params or None, allow_redirects=False, timeout=10)


# -- health and status ----------------------------------------------------------------------------------

def test_health_answers_while_the_process_serves(world: World) -> None:
    response = get(world, "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_503_until_the_bot_is_connected_then_200(world: World) -> None:
    response = get(world, "/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "discord": False}
    world.bridge.connected = True
    assert get(world, "/ready").status_code == 200
    world.db.is_open = False  # as while closing down
    assert get(world, "/ready").status_code == 503


def test_a_failing_bridge_makes_ready_503_not_500(world: World) -> None:
    class Broken:
        def status(self) -> dict:
            raise RuntimeError("bot loop gone")

    world.ctx.bridge = Broken()  # type: ignore[assignment]
    assert get(world, "/ready").status_code == 503
    assert get(world, "/api/status").json()["bot_connected"] is False


def test_status_reports_counts_and_leaks_no_ids_or_tokens(world: World) -> None:
    world.link(user="alice")
    world.bridge.connected, world.bridge.guilds, world.bridge.latency_ms = True, 3, 42.345
    world.db.set_state("last_sync_at", 1_700_000_000.5)
    response = get(world, "/api/status")
    assert response.status_code == 200
    status = response.json()
    assert status["version"] == "9.9.9-test"
    assert status["guilds"] == 3
    assert status["linked_users"] == 1
    assert status["gateway_latency_ms"] == 42.3
    assert status["last_sync_at"] == 1_700_000_000.5
    world.db.conn.execute("UPDATE users SET last_synced_at = 1700000900.0")  # a member's own sync, later
    assert get(world, "/api/status").json()["last_sync_at"] == 1_700_000_900.0
    assert status["bot_connected"] is True and status["database_open"] is True
    assert 0 <= status["uptime_seconds"] < 600
    row = world.db.get_tokens(DISCORD_ID)
    access = world.auth.access_token(DISCORD_ID)
    for page in (response.text, get(world, "/").text):
        for private in (str(DISCORD_ID), str(GUILD_ID), "alice", "Alice", "member-alice", access):
            assert private not in page
        assert row["access_token"].decode()[:20] not in page


def test_home_page_says_whether_the_bot_is_running(world: World) -> None:
    page = get(world, "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "The bot is starting" in page.text
    world.bridge.connected = True
    assert "The bot is running" in get(world, "/").text
    assert "<script" not in page.text and "http" not in page.text.split("</style>")[1]  # no external assets


@pytest.mark.parametrize("path", ["/", "/health", "/ready", "/api/status", "/callback", "/nowhere"])
def test_security_headers_on_every_response(world: World, path: str) -> None:
    response = get(world, path)
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, name
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_unknown_page_is_friendly(world: World) -> None:
    response = get(world, "/wp-admin")
    assert response.status_code == 404
    assert "Page not found" in response.text and "Traceback" not in response.text


# -- the callback over HTTP -------------------------------------------------------------------------------------

def test_callback_success_page_and_the_bot_is_told(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    args = world.callback_args(url, "alice")
    response = get(world, "/callback", **args)
    assert response.status_code == 200
    assert "Spotify is linked!" in response.text and "Alice" in response.text
    assert world.bridge.linked == [(DISCORD_ID, GUILD_ID)]
    assert response.headers["Cache-Control"] == "no-store"


def _state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


@pytest.mark.parametrize(("case", "status", "words"), [
    ("denied", 400, "You chose not to give the bot access"),
    ("missing", 400, "are missing"),
    ("unknown", 400, "wasn't made by the bot"),
    ("expired", 410, "10 minutes"),
    ("reused", 410, "works only once"),
    ("bad_code", 400, "Spotify refused"),
    ("not_allowlisted", 403, "ask the bot owner to add"),
])
def test_every_failed_callback_gets_a_clear_page_and_stores_nothing(world: World, case: str, status: int,
                                                                     words: str) -> None:
    if case == "not_allowlisted":
        world.fake.set_allowlist(set())
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    args = world.callback_args(url, "alice")
    if case == "denied":
        args = {"error": "access_denied", "state": _state_of(url)}
    elif case == "missing":
        args = {"state": _state_of(url)}
    elif case == "unknown":
        args = {**args, "state": "x" * 43}
    elif case == "expired":
        world.age_states(601)
    elif case == "reused":
        world.db.spend_state(hash_state(args["state"]), "spotify")  # used by an earlier visit
    elif case == "bad_code":
        args = {**args, "code": "forged"}
    response = get(world, "/callback", **args)
    assert response.status_code == status
    assert words in html.unescape(response.text)
    assert "Traceback" not in response.text and "Exception" not in response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert world.token_rows() == []
    assert world.bridge.linked == []


def test_a_crash_in_the_callback_shows_a_friendly_page_without_details(world: World) -> None:
    class Exploding:
        def handle_callback(self, args: dict) -> None:
            raise RuntimeError("internal detail the member must not see")

    world.ctx.auth = Exploding()  # type: ignore[assignment]
    response = get(world, "/callback", code="c", state="s")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "internal detail" not in response.text and "Traceback" not in response.text
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_failing_bridge_does_not_undo_the_link(world: World) -> None:
    class Offline:
        def on_linked(self, discord_id: int, guild_id: int | None) -> None:
            raise RuntimeError("loop closed")

        def status(self) -> dict:
            return {"connected": False, "guilds": 0, "latency_ms": None}

    world.ctx.bridge = Offline()  # type: ignore[assignment]
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    assert get(world, "/callback", **world.callback_args(url)).status_code == 200
    assert world.db.get_user(DISCORD_ID)["link_state"] == "linked"


def test_upload_pages_are_skipped_cleanly_without_an_importer(world: World) -> None:
    assert not any(rule.rule.startswith("/upload") for rule in create_app(world.ctx).url_map.iter_rules())


# -- the server itself ------------------------------------------------------------------------------------------

def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_server_binds_port_zero_and_stop_really_stops(world: World) -> None:
    server = WebServer(create_app(world.ctx), "127.0.0.1", 0, threads=2).start()
    port = server.port
    assert port > 0
    assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    # An idle keep-alive connection is open when we stop: stop must not wait for it.
    session = requests.Session()
    session.get(f"http://127.0.0.1:{port}/health", timeout=5)
    loop_thread, workers = server._thread, server._server.task_dispatcher
    assert loop_thread is not None and loop_thread.is_alive() and workers.threads
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    assert _port_is_closed(port)
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/health", timeout=2)
    assert not loop_thread.is_alive()
    assert not workers.threads  # every worker thread has ended
    server.stop()  # twice is harmless


def test_stop_frees_the_port_even_when_the_loops_wake_up_pipe_was_closed_under_it(world: World) -> None:
    """Something else in the process closing the pipe's file number must not turn shutdown into a crash."""
    server = WebServer(create_app(world.ctx), "127.0.0.1", 0, threads=2).start()
    port = server.port
    assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    loop_thread = server._thread
    os.close(server._server.trigger.trigger)
    server.stop()
    assert _port_is_closed(port)
    assert loop_thread is not None and not loop_thread.is_alive()


def test_json_endpoints_are_json(world: World) -> None:
    for path in ("/health", "/ready", "/api/status"):
        response = get(world, path)
        assert response.headers["Content-Type"] == "application/json"
        json.loads(response.text)
