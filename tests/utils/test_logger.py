"""Logs: secrets are masked in the rotating file and on the console; the file rotates at its size cap."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from utils import logger as bot_logger
from utils.logger import MASK, get_logger, register_secrets, setup_logging

CLIENT_SECRET = "clientsecretvalue0123456789abcdef"
# Built at run time so no token-shaped string sits in the repository.
DISCORD_TOKEN = "M" + "T" * 25 + "." + "G" * 6 + "." + "x" * 38
SPOTIFY_ACCESS = "BQ" + "a1B2c3" * 12
SPOTIFY_REFRESH = "AQ" + "z9Y8x7" * 12
OAUTH_CODE = "AQD" + "codeCODE42" * 5


Logs = tuple[Path, io.StringIO]


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Logs]:
    """Our handlers on the root logger, writing to a real file in tmp_path; undone afterwards."""
    root = logging.getLogger()
    level, secrets = root.level, set(bot_logger.SECRET_FILTER._secrets)
    setup_logging("DEBUG", str(tmp_path / "logs"), secrets=[CLIENT_SECRET])
    console = io.StringIO()
    # The console handler is kept (its filter and format are under test); only its stream is swapped for one
    # we can read, since pytest's own capture replaces sys.stderr between set-up and the test.
    for handler in root.handlers:
        if getattr(handler, "_ours", False) and type(handler) is logging.StreamHandler:
            handler.setStream(console)
    yield tmp_path / "logs" / "bot.log", console
    for handler in [h for h in root.handlers if getattr(h, "_ours", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    bot_logger.SECRET_FILTER._secrets = secrets


def written(logs: Logs) -> tuple[str, str]:
    """What reached the log file and the console."""
    path, console = logs
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_ours", False):
            handler.flush()
    return path.read_text(encoding="utf-8"), console.getvalue()


LEAKS = [
    ("registered client secret", "token exchange with client secret {}", CLIENT_SECRET),
    ("discord bot token", "logging in with {}", DISCORD_TOKEN),
    ("authorization header", "request headers: Authorization: Bearer {}", SPOTIFY_ACCESS),
    ("authorization header in a dict", "headers={{'Authorization': 'Bearer {}'}}", SPOTIFY_ACCESS),
    ("bearer anywhere", "retrying with bearer {}", SPOTIFY_ACCESS),
    ("oauth code in a url", "GET /callback?code={}&state=abcdef123456 HTTP/1.1", OAUTH_CODE),
    ("oauth code in a full url", "redirected to https://bot.example.org/callback?state=s&code={}", OAUTH_CODE),
    ("token json", '{{"access_token": "{}", "token_type": "Bearer"}}', SPOTIFY_ACCESS),
    ("refresh token field", "refresh_token={}", SPOTIFY_REFRESH),
    ("history upload link", "POST /import/{} failed", "kf_Mq31mMMQrWxajmCIZUvLZzZLBJVKjRFs4h_ZWb5s"),
    ("code in a request body", "body: {{'grant_type': 'authorization_code', 'code': '{}'}}", OAUTH_CODE),
    ("listenbrainz token header", "headers={{'Authorization': 'Token {}'}}", "5f0a3c1e-9b2d-4e7f-8a6b-1c2d3e4f5a6b"),
    ("last.fm session key in a url", "GET /2.0/?method=user.getRecentTracks&sk={}&format=json HTTP/1.1",
     "d580d57f32848f5dcf574d1ce18d78b2"),
]


@pytest.mark.parametrize(("what", "template", "secret"), LEAKS, ids=[leak[0] for leak in LEAKS])
def test_secret_is_masked_in_file_and_console(logs: Logs, what: str,
                                              template: str, secret: str) -> None:
    get_logger("test").info(template.format(secret))
    file_text, console = written(logs)
    for text in (file_text, console):
        assert secret not in text, what
        assert MASK in text
    assert "INFO" in file_text and "bot.test" in file_text  # the line itself is still there


def test_secret_in_format_arguments_and_foreign_loggers(logs: Logs) -> None:
    register_secrets(SPOTIFY_REFRESH)  # a token of the moment, registered once known
    get_logger("sync").warning("refresh failed for %s with %s", "member", SPOTIFY_REFRESH)
    logging.getLogger("some.library").warning("raw value %r", SPOTIFY_REFRESH)
    file_text, console = written(logs)
    assert SPOTIFY_REFRESH not in file_text and SPOTIFY_REFRESH not in console
    assert "refresh failed for member" in file_text and "raw value" in file_text


def test_spotipy_style_basic_auth_header_is_masked(logs: Logs) -> None:
    """spotipy logs its token request headers at DEBUG: the Basic value is base64 of client id and secret."""
    basic = base64.b64encode(f"clientid123:{CLIENT_SECRET}x".encode()).decode()
    logging.getLogger("spotipy.oauth2").debug(
        f"Sending POST request to https://accounts.example/api/token with Headers: {{'Authorization': 'Basic {basic}'}} "
        f"and Body: {{'grant_type': 'refresh_token', 'refresh_token': '{SPOTIFY_REFRESH}'}}")
    file_text, console = written(logs)
    for text in (file_text, console):
        assert basic not in text and SPOTIFY_REFRESH not in text


def test_traceback_is_masked(logs: Logs) -> None:
    def exchange() -> None:
        raise RuntimeError(f"token endpoint said no to code={OAUTH_CODE} with secret {CLIENT_SECRET}")

    try:
        exchange()
    except RuntimeError:
        get_logger("auth").exception("could not link a member")
    file_text, console = written(logs)
    for text in (file_text, console):
        assert "Traceback" in text and "RuntimeError" in text  # still useful to the owner
        assert OAUTH_CODE not in text and CLIENT_SECRET not in text


def test_plain_messages_are_left_alone(logs: Logs) -> None:
    get_logger("sync").info("synced 3 members in 1.2 s; next sync in 60 minutes")
    file_text, _ = written(logs)
    assert "synced 3 members in 1.2 s; next sync in 60 minutes" in file_text and MASK not in file_text


def test_file_rotates_at_its_size_cap(tmp_path: Path) -> None:
    root = logging.getLogger()
    level = root.level
    setup_logging("INFO", str(tmp_path), max_bytes=4_000, backups=2)
    try:
        log = get_logger("volume")
        for number in range(400):
            log.info("line %04d %s", number, "x" * 60)
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_ours", False)]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["bot.log", "bot.log.1", "bot.log.2"]  # capped number of old files
    assert all((tmp_path / name).stat().st_size <= 4_000 for name in files)
    assert "line 0399" in (tmp_path / "bot.log").read_text(encoding="utf-8")


def test_setting_up_twice_does_not_double_lines(tmp_path: Path) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        setup_logging("INFO", str(tmp_path))
        setup_logging("INFO", str(tmp_path))
        get_logger("once").info("only once")
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_ours", False)]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
    assert (tmp_path / "bot.log").read_text(encoding="utf-8").count("only once") == 1
