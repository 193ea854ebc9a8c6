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


def test_last_fm_and_listenbrainz_settings() -> None:
    s = load()
    assert not s.lastfm_enabled and s.lastfm_api_key == "" and s.lastfm_shared_secret == ""
    assert (s.lastfm_api_url, s.lastfm_auth_url, s.listenbrainz_api_url) == (
        "https://ws.audioscrobbler.com/2.0/", "https://www.last.fm/api/auth/", "https://api.listenbrainz.org/")
    s = load(LASTFM_API_KEY="fm-key-123", LASTFM_SHARED_SECRET="fm-secret-456", PUBLIC_URL="https://bot.example.org/",
             LASTFM_API_URL="http://127.0.0.1:5003/2.0", LASTFM_AUTH_URL="http://127.0.0.1:5003/api/auth",
             LISTENBRAINZ_API_URL="http://127.0.0.1:5004")
    assert s.lastfm_enabled and s.public_base_url == "https://bot.example.org"
    assert (s.lastfm_api_url, s.lastfm_auth_url, s.listenbrainz_api_url) == (
        "http://127.0.0.1:5003/2.0/", "http://127.0.0.1:5003/api/auth/", "http://127.0.0.1:5004/")
    assert "fm-secret-456" in s.secrets() and "fm-secret-456" not in repr(s) and "fm-key-123" not in repr(s)


def test_last_fm_needs_both_or_neither() -> None:
    found = problems({**REQUIRED, "LASTFM_API_KEY": "only-the-key"})
    assert found == ["LASTFM_SHARED_SECRET is missing: Last.fm linking needs both LASTFM_API_KEY and "
                     "LASTFM_SHARED_SECRET from your Last.fm API account (or neither, to leave it off)."]
    assert "LASTFM_API_KEY is missing" in problems({**REQUIRED, "LASTFM_SHARED_SECRET": "s"})[0]
    assert "PUBLIC_URL must be a web address" in problems({**REQUIRED, "PUBLIC_URL": "bot.example.org"})[0]


def test_image_settings_default_to_spotify_hosts_and_a_200_mb_cache() -> None:
    from config import DEFAULT_IMAGE_HOSTS

    settings = load_settings(_image_env(), read_dotenv=False)
    assert settings.image_hosts == DEFAULT_IMAGE_HOSTS and "i.scdn.co" in settings.image_hosts
    assert settings.image_cache_mb == 200
    custom = load_settings(_image_env(IMAGE_HOSTS="127.0.0.1:5000, I.SCDN.CO", IMAGE_CACHE_MB="0"), read_dotenv=False)
    assert custom.image_hosts == ("127.0.0.1:5000", "i.scdn.co") and custom.image_cache_mb == 0


def test_bad_image_settings_are_explained() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_image_env(IMAGE_HOSTS="https://i.scdn.co/image", IMAGE_CACHE_MB="lots"), read_dotenv=False)
    text = caught.value.render()
    assert "IMAGE_HOSTS must be host names" in text and "IMAGE_CACHE_MB must be a whole number" in text


def _image_env(**extra: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {"DISCORD_TOKEN": "t", "SPOTIFY_CLIENT_ID": "c", "SPOTIFY_CLIENT_SECRET": "s",
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), **extra}


def test_no_shard_settings_mean_one_unsharded_process() -> None:
    s = load()
    assert (s.shard_count, s.shard_ids, s.sharded) == (None, None, False)
    assert load(SHARD_COUNT="", SHARD_IDS="").sharded is False


def test_shard_count_alone_runs_every_shard_here_and_ids_pick_some() -> None:
    s = load(SHARD_COUNT="4")
    assert (s.shard_count, s.shard_ids, s.sharded) == (4, None, True)
    s = load(SHARD_COUNT="4", SHARD_IDS=" 3, 1,1 ")
    assert (s.shard_count, s.shard_ids) == (4, (1, 3))


@pytest.mark.parametrize(("env", "expected"), [
    ({"SHARD_IDS": "0,1"}, "SHARD_IDS needs SHARD_COUNT too"),
    ({"SHARD_COUNT": "2", "SHARD_IDS": "1,2"}, "SHARD_IDS may only name shards 0 to 1 when SHARD_COUNT is 2 (got 2)"),
    ({"SHARD_COUNT": "2", "SHARD_IDS": "first"}, "SHARD_IDS must be shard numbers separated by commas"),
    ({"SHARD_COUNT": "0"}, "SHARD_COUNT must be between 1"),
    ({"SHARD_COUNT": "two"}, "SHARD_COUNT must be a whole number"),
])
def test_bad_shard_settings_say_what_to_fix(env: dict[str, str], expected: str) -> None:
    found = problems({**REQUIRED, **env})
    assert len(found) == 1 and expected in found[0], found
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


def test_engine_processes_default_to_two_beside_the_bot_when_there_is_a_second_core(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert load().engine_processes == 2
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)
    assert load().engine_processes == 2  # each holds its own copy of every server's model: not one a core
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert load().engine_processes == 0  # one core: it would only take turns with the bot
    assert load(ENGINE_PROCESSES="1").engine_processes == 1
    assert load(ENGINE_PROCESSES="0").engine_processes == 0
    assert any("ENGINE_PROCESSES" in p for p in problems({**REQUIRED, "ENGINE_PROCESSES": "many"}))
    assert Settings(discord_token="t", spotify_client_id="c", spotify_client_secret="s",
                    token_encryption_keys=(KEY,)).engine_processes == 0  # settings built in code: one process
