"""`python main.py` without settings: one clear message, exit status 2, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

MAIN = Path(__file__).resolve().parents[1] / "main.py"


def run_main(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    # Only PATH is kept: none of the bot's settings leak in from the test runner's environment, and
    # PYTHON_DOTENV_DISABLED keeps a developer's own .env beside main.py from being read.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHON_DOTENV_DISABLED": "1", **settings}
    return subprocess.run([sys.executable, str(MAIN)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)


def test_no_settings_prints_what_is_missing_and_exits_2(tmp_path: Path) -> None:
    done = run_main(tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    for name in ("DISCORD_TOKEN", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "TOKEN_ENCRYPTION_KEY"):
        assert name in output
    assert ".env.example" in output
    assert "Traceback" not in output and "Error:" not in output


def test_some_settings_wrong_names_only_those(tmp_path: Path) -> None:
    done = run_main(tmp_path, DISCORD_TOKEN="discord-token-value-123", SPOTIFY_CLIENT_ID="client-id",
                    SPOTIFY_CLIENT_SECRET="client-secret-value-456", TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
                    WEB_PORT="eighty")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "WEB_PORT" in output and "DISCORD_TOKEN" not in output
    assert "client-secret-value-456" not in output and "discord-token-value-123" not in output
    assert "Traceback" not in output


def base_settings() -> dict[str, str]:
    return {"DISCORD_TOKEN": "discord-token-value-123", "SPOTIFY_CLIENT_ID": "client-id",
            "SPOTIFY_CLIENT_SECRET": "client-secret-value-456", "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode()}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free again once closed: nothing listens there


def test_a_malformed_database_url_names_the_setting_and_exits_2(tmp_path: Path) -> None:
    done = run_main(tmp_path, **base_settings(), DATABASE_URL="mysql://bot:pw-hunter2@db/bot")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "DATABASE_URL must start with postgresql://" in output
    assert "pw-hunter2" not in output and "Traceback" not in output


def test_a_database_server_that_is_down_at_start_names_the_setting_and_exits_2(tmp_path: Path) -> None:
    url = f"postgresql://bot:pw-hunter2@127.0.0.1:{closed_port()}/bot"
    done = run_main(tmp_path, **base_settings(), DATABASE_URL=url, LOG_DIR=str(tmp_path / "logs"))
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "DATABASE_URL" in output and "nothing answered there" in output and "postgresql://bot@127.0.0.1:" in output
    assert "pw-hunter2" not in output and "Traceback" not in output
    assert not any("pw-hunter2" in log.read_text() for log in (tmp_path / "logs").glob("*"))
