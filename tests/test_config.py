"""Settings: defaults, fall-backs, and one clear message listing every missing or malformed setting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import config
from config import ConfigError, Settings, load_settings

KEY = Fernet.generate_key().decode()
REQUIRED = {
    "DISCORD_TOKEN": "discord-token-value-123",
    "SPOTIFY_CLIENT_ID": "client-id-value",
    "SPOTIFY_CLIENT_SECRET": "client-secret-value-456",
    "TOKEN_ENCRYPTION_KEY": KEY,
}


def load(**overrides: str) -> Settings:
    return load_settings({**REQUIRED, **overrides}, read_dotenv=False)


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, read_dotenv=False)
    return caught.value.problems


def test_defaults_as_documented() -> None:
    s = load()
    assert (s.spotify_redirect_uri, s.database_path, s.web_host, s.web_port) == (
        "http://127.0.0.1:8080/callback", "data/bot.db", "0.0.0.0", 8080)
    assert (s.command_prefix, s.owner_ids, s.dev_guild_id, s.log_level, s.log_dir) == ("!", frozenset(), None, "INFO", "logs")
    assert s.sync_interval_minutes == 60
    assert s.feature_community and s.feature_playlists and s.feature_scheduled_sync
    assert s.discord_api_url == config.DEFAULT_DISCORD_API_URL
    assert s.spotify_api_url == config.DEFAULT_SPOTIFY_API_URL
    assert s.spotify_accounts_url == config.DEFAULT_SPOTIFY_ACCOUNTS_URL
    assert s.token_encryption_keys == (KEY,)
    assert s.public_base_url == "http://127.0.0.1:8080"


def test_every_setting_read_from_the_environment() -> None:
    second_key = Fernet.generate_key().decode()
    s = load(TOKEN_ENCRYPTION_KEY=f"{KEY}, {second_key}", SPOTIFY_REDIRECT_URI="https://bot.example.org/callback",
             DATABASE_PATH="/tmp/x.db", WEB_HOST="127.0.0.1", WEB_PORT="9000", COMMAND_PREFIX="?",
             OWNER_IDS="123, 456,789", DEV_GUILD_ID="42", LOG_LEVEL="debug", LOG_DIR="/tmp/logs",
             SYNC_INTERVAL_MINUTES="30", FEATURE_COMMUNITY="no", FEATURE_PLAYLISTS="0", FEATURE_SCHEDULED_SYNC="off",
             DISCORD_API_URL="http://127.0.0.1:5000/api/v10/", SPOTIFY_API_URL="http://127.0.0.1:5001/v1",
             SPOTIFY_ACCOUNTS_URL="http://127.0.0.1:5002")
    assert s.token_encryption_keys == (KEY, second_key)  # newest first, old ones kept for rotation
    assert s.public_base_url == "https://bot.example.org"
    assert (s.database_path, s.web_host, s.web_port, s.command_prefix) == ("/tmp/x.db", "127.0.0.1", 9000, "?")
    assert s.owner_ids == frozenset({123, 456, 789}) and s.dev_guild_id == 42
    assert (s.log_level, s.log_dir, s.sync_interval_minutes) == ("DEBUG", "/tmp/logs", 30)
    assert not (s.feature_community or s.feature_playlists or s.feature_scheduled_sync)
    assert s.discord_api_url == "http://127.0.0.1:5000/api/v10"
    assert s.spotify_api_url == "http://127.0.0.1:5001/v1/"
    assert s.spotify_accounts_url == "http://127.0.0.1:5002/"


def test_web_port_falls_back_to_port() -> None:
    assert load(PORT="3000").web_port == 3000
    assert load(PORT="3000", WEB_PORT="9000").web_port == 9000
    assert load(PORT="").web_port == 8080


def test_nothing_set_names_all_four_required_settings_at_once() -> None:
    found = problems({})
    assert len(found) == 4
    for name in REQUIRED:
        assert any(p.startswith(f"{name} is missing") for p in found), name
    message = str(ConfigError(found))
    assert ".env.example" in message and ".env" in message
    assert "\n  - DISCORD_TOKEN is missing" in message


def test_blank_values_count_as_missing() -> None:
    found = problems({**REQUIRED, "DISCORD_TOKEN": "   ", "SPOTIFY_CLIENT_SECRET": ""})
    assert [p.split()[0] for p in found] == ["DISCORD_TOKEN", "SPOTIFY_CLIENT_SECRET"]


@pytest.mark.parametrize(("name", "value", "words"), [
    ("WEB_PORT", "eighty", "whole number"),
    ("WEB_PORT", "70000", "between 1 and 65535"),
    ("PORT", "http", "whole number"),
    ("SYNC_INTERVAL_MINUTES", "1", "between 5 and 10080"),
    ("DEV_GUILD_ID", "my-server", "whole number"),
    ("OWNER_IDS", "123,bob", "Discord user ids"),
    ("LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("FEATURE_COMMUNITY", "maybe", "true or false"),
    ("FEATURE_PLAYLISTS", "2", "true or false"),
    ("TOKEN_ENCRYPTION_KEY", "not-a-key", "Fernet.generate_key"),
    ("SPOTIFY_REDIRECT_URI", "http://localhost:8080/callback", "localhost"),
    ("SPOTIFY_REDIRECT_URI", "http://bot.example.org/callback", "https://"),
    ("SPOTIFY_REDIRECT_URI", "callback", "full web address"),
    ("DISCORD_API_URL", "ftp://127.0.0.1/api", "http:// or https://"),
    ("SPOTIFY_API_URL", "127.0.0.1:5001", "http:// or https://"),
    ("SPOTIFY_ACCOUNTS_URL", "https://", "http:// or https://"),
])
def test_each_malformed_setting_gets_a_clear_message(name: str, value: str, words: str) -> None:
    found = problems({**REQUIRED, name: value})
    assert len(found) == 1
    shown = "WEB_PORT" if name == "PORT" else name  # PORT is read as the fall-back of WEB_PORT
    assert shown in found[0] and words in found[0]


def test_all_problems_are_listed_together() -> None:
    env = {"DISCORD_TOKEN": "x" * 10, "TOKEN_ENCRYPTION_KEY": f"{KEY},broken", "WEB_PORT": "abc", "LOG_LEVEL": "LOUD",
           "OWNER_IDS": "1,x", "FEATURE_COMMUNITY": "maybe", "SPOTIFY_REDIRECT_URI": "http://localhost/callback"}
    found = problems(env)
    named = " ".join(found)
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "TOKEN_ENCRYPTION_KEY key number 2", "WEB_PORT",
                 "LOG_LEVEL", "OWNER_IDS", "FEATURE_COMMUNITY", "SPOTIFY_REDIRECT_URI"):
        assert name in named
    assert len(found) == 8


def test_secrets_never_appear_in_messages_or_repr() -> None:
    bad_key = "secret-looking-but-not-a-fernet-key"
    message = str(ConfigError(problems({**REQUIRED, "TOKEN_ENCRYPTION_KEY": bad_key, "WEB_PORT": "x"})))
    assert bad_key not in message
    text = repr(load())
    for secret in (REQUIRED["DISCORD_TOKEN"], REQUIRED["SPOTIFY_CLIENT_SECRET"], KEY):
        assert secret not in text
    assert set(load().secrets()) == {REQUIRED["DISCORD_TOKEN"], REQUIRED["SPOTIFY_CLIENT_SECRET"], KEY}


def test_settings_cannot_be_changed_after_start() -> None:
    settings = load()
    with pytest.raises(AttributeError):
        settings.web_port = 1  # type: ignore[misc]


def test_dotenv_file_next_to_the_code_is_read_but_the_environment_wins(tmp_path: Path) -> None:
    """Runs a copy of config.py beside a .env in a child process, so no real .env and no real environment interfere."""
    shutil.copy(Path(config.__file__), tmp_path / "config.py")
    (tmp_path / ".env").write_text("\n".join(f"{k}={v}" for k, v in REQUIRED.items()) + "\nWEB_PORT=7000\nPORT=1\n")
    script = "import config; s = config.load_settings(); print(s.web_port, s.spotify_client_id, s.log_level)"
    env = {"PATH": os.environ.get("PATH", ""), "WEB_PORT": "7100", "LOG_LEVEL": "warning"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["7100", REQUIRED["SPOTIFY_CLIENT_ID"], "WARNING"]


def test_process_environment_is_used_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_DOTENV_DISABLED", "1")  # a developer's own .env must not change the outcome
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WEB_PORT", "7200")
    assert load_settings().web_port == 7200
    monkeypatch.delenv("DISCORD_TOKEN")
    with pytest.raises(ConfigError, match="DISCORD_TOKEN is missing"):
        load_settings()


def test_database_url_chooses_postgresql_and_its_password_is_a_secret() -> None:
    assert load().database == "data/bot.db"  # no DATABASE_URL: the SQLite file
    settings = load(DATABASE_URL="postgresql://bot:p%40ss-word@db.example.org:5432/bot")
    assert settings.database == "postgresql://bot:p%40ss-word@db.example.org:5432/bot"
    assert {"p@ss-word", "p%40ss-word"} <= set(settings.secrets())  # masked in every log line, either spelling
    assert "p%40ss" not in repr(settings)


@pytest.mark.parametrize(("url", "words"), [
    ("mysql://bot:hunter2@db/bot", "must start with postgresql://"),
    ("postgresql://bot:hunter2@/bot", "must name a server and a database"),
    ("postgresql://bot:hunter2@db.example.org:port/bot", "the port must be a number"),
    ("postgresql://bot:hunter2@db.example.org:5432", "must name a server and a database")])
def test_a_malformed_database_url_is_named_without_its_password(url: str, words: str) -> None:
    found = problems({**REQUIRED, "DATABASE_URL": url})
    assert len(found) == 1 and found[0].startswith("DATABASE_URL") and words in found[0]
    assert "hunter2" not in found[0]
