"""Two real bot processes (`python main.py`), each with its own SHARD_IDS, on one database, against the fakes.

Every command is answered once, by the process whose shard has the server; the scheduled sync takes each
member once between the two; each digest is posted once; a Spotify link finished on the other process's web
server still brings the confirmation DM, the first sync, and the member counted in all their servers.

The database is a SQLite file both processes open, or PostgreSQL in a PostgreSQL run (tests/helpers/shared_target.py):
the processes get it as DATABASE_PATH or DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet

from config import Settings
from database import Database
from discord_endpoints import DEFAULT_API_URL, configure_discord_endpoints
from fakes.discord_gateway import shard_of
from fakes.discord_server import FakeDiscord
from fakes.discord_world import FakeGuild
from fakes.spotify_server import FakeSpotify
from fakes.world import components, embed_text
from spotify_auth import SpotifyAuth
from tests.helpers.shared_target import settings_env, shared_target

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID, CLIENT_SECRET = "shard-test-client", "shard-test-secret-0123456789"
# Discord id -> Spotify account: enough members that the two processes' runs overlap (a second apart each).
PRELINKED = {9_000 + n: ("carol", "dave", "erin", "frank")[n % 4] for n in range(12)}

RUN_LINE = re.compile(r"sync run: (\d+) synced, (\d+) skipped, (\d+) failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SharedDatabase:
    """Where both processes keep their data, as their settings say it, and a way to open it here."""

    env: dict[str, str]
    open: Callable[[], Database]


@pytest.fixture
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> SharedDatabase:
    target = shared_target(request, tmp_path)
    return SharedDatabase(settings_env(target), lambda: Database(target).open())


@dataclass
class Cluster:
    discord: FakeDiscord
    spotify: FakeSpotify
    db: Database
    processes: dict[int, subprocess.Popen[bytes]]  # shard id -> the process running it
    logs: dict[int, Path]
    guilds: dict[str, FakeGuild]
    web_ports: dict[int, int]

    def output(self, tail: int | None = 4000) -> str:
        return "\n".join(f"--- shard {shard} ---\n{path.read_text(errors='replace')[-(tail or 0):]}"
                         for shard, path in self.logs.items())

    def pid_of(self, shard: int) -> int:
        return self.processes[shard].pid

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await asyncio.to_thread(predicate)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}\n{self.output()}")
            for shard, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"the process of shard {shard} stopped\n{self.output()}")
            await asyncio.sleep(0.1)


def build_world(fake: FakeDiscord) -> dict[str, FakeGuild]:
    """Two servers on each shard (of 2); alice admin everywhere, bob a member everywhere."""
    alice, bob = fake.user("alice"), fake.user("bob")
    guilds = {"Test Server": fake.guild}
    for name, shard in (("Even", 0), ("Even too", 0), ("Odd", 1), ("Odd too", 1)):
        guild = fake.add_guild(name, ["general", "digest"], owner=alice, shard=(shard, 2))
        fake.world.join(guild.id, alice.id, admin=True)
        fake.world.join(guild.id, bob.id)
        guilds[name] = guild
    return guilds


def prelink(db: Database, spotify: FakeSpotify, settings: Settings) -> None:
    """Members linked before the processes start: the scheduled sync is theirs to share."""
    vault = SpotifyAuth(settings, db).vault
    for discord_id, spotify_user in PRELINKED.items():
        tokens = spotify.issue_tokens(spotify_user)
        db.ensure_user(discord_id, f"{spotify_user.title()} {discord_id}")
        db.save_tokens(discord_id, vault.encrypt(tokens["access_token"]), vault.encrypt(tokens["refresh_token"]),
                       time.time() + 3600, tokens["scope"])
        db.set_link_state(discord_id, "linked", spotify_user_id=spotify_user)


def process_env(base: dict[str, str], shard: int, web_port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "SHARD_"))}
    env.update(base, SHARD_COUNT="2", SHARD_IDS=str(shard), WEB_HOST="127.0.0.1", WEB_PORT=str(web_port),
               LOG_DIR="", PYTHONUNBUFFERED="1")
    return env


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, shared: SharedDatabase) -> AsyncIterator[Cluster]:
    """Fakes here, two `python main.py` processes (shard 0 and shard 1 of 2) on the shared database."""
    web_ports = {0: free_port(), 1: free_port()}
    # The members' browsers reach the web server of shard 1's process, whichever process made the link.
    redirect_uri = f"http://127.0.0.1:{web_ports[1]}/callback"
    discord = FakeDiscord()
    guilds = build_world(discord)
    discord.start()
    spotify = FakeSpotify(CLIENT_ID, CLIENT_SECRET, redirect_uris=[redirect_uri]).start()
    key = Fernet.generate_key().decode()
    settings = Settings(discord_token=discord.token, spotify_client_id=CLIENT_ID, spotify_client_secret=CLIENT_SECRET,
                        token_encryption_keys=(key,), spotify_redirect_uri=redirect_uri,
                        spotify_api_url=spotify.api_url, spotify_accounts_url=spotify.accounts_url, log_dir="")
    db = shared.open()
    prelink(db, spotify, settings)
    for guild in guilds.values():
        if guild.name != "Test Server":
            db.update_guild_settings(guild.id, digest_channel_id=guild.channel("digest").id)
    base = {**shared.env, "DISCORD_TOKEN": discord.token, "DISCORD_API_URL": discord.api_url,
            "SPOTIFY_CLIENT_ID": CLIENT_ID, "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET, "TOKEN_ENCRYPTION_KEY": key,
            "SPOTIFY_REDIRECT_URI": redirect_uri, "SPOTIFY_API_URL": spotify.api_url,
            "SPOTIFY_ACCOUNTS_URL": spotify.accounts_url, "OWNER_IDS": str(discord.user("alice").id),
            "SYNC_INTERVAL_MINUTES": "60"}
    processes: dict[int, subprocess.Popen[bytes]] = {}
    logs = {shard: tmp_path / f"shard-{shard}.log" for shard in web_ports}
    try:
        for shard, port in web_ports.items():
            with open(logs[shard], "wb") as log:
                processes[shard] = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, stdout=log,
                                                    stderr=subprocess.STDOUT, env=process_env(base, shard, port))
        world = Cluster(discord, spotify, db, processes, logs, guilds, web_ports)
        await world.wait_for(lambda: discord.gateway.connected_shards() == {(0, 2), (1, 2)}, "both shards", 40)
        await world.wait_for(lambda: discord.commands.get(None), "the slash commands")
        for port in web_ports.values():
            await world.wait_for(lambda port=port: _ready(port), f"the web server on {port} to be ready")
        yield world
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for shard, process in processes.items():
            assert await asyncio.to_thread(process.wait, 30) == 0, f"shard {shard} did not stop cleanly\n{world.output()}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)
        db.close()
        spotify.stop()
        discord.stop()
        configure_discord_endpoints(DEFAULT_API_URL)


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


async def answer(record: Any, timeout: float = 15.0) -> dict[str, Any]:
    response = await record.wait_response(timeout)
    if response["type"] == 5:
        return (await record.wait_followups(1, timeout))[0]
    return await record.wait_original(timeout=timeout)


def recently_played_calls(spotify: FakeSpotify) -> int:
    return len(spotify.requests_to("/v1/me/player/recently-played"))


async def test_two_processes_share_the_servers_the_sync_the_digest_and_a_link(
        tmp_path: Path, shared_database: SharedDatabase) -> None:
    async with cluster(tmp_path, shared_database) as world:
        fake, alice, bob = world.discord, world.discord.user("alice"), world.discord.user("bob")

        # Every command is answered once, by the process whose shard has the server.
        for name in ("Even", "Odd", "Even too", "Odd too", "Test Server"):
            guild = world.guilds[name]
            shard = shard_of(guild.id, 2)
            record = await fake.slash(alice, guild, guild.channel("general"), "status")
            text = embed_text(await answer(record))
            assert f"This server is on shard {shard} of 2; this process runs shards: {shard}" in text, text
            assert record.shards == [(shard, 2)]
        dm = await fake.slash(alice, None, None, "status")
        assert "Direct messages come to shard 0 of 2; this process runs shards: 0" in embed_text(await answer(dm))
        assert dm.shards == [(0, 2)]
        odd = world.guilds["Odd"]
        sent = await fake.send_message(alice, odd.channel("general"), "!status")
        reply = await fake.wait_message(odd.channel("general"), lambda m: int(m["id"]) > int(sent["id"]), 15)
        assert "this process runs shards: 1" in embed_text(reply)
        await asyncio.sleep(0.5)  # time for a second answer, had any reached the other process
        assert all(r.callbacks == 1 for r in fake.records.values())
        assert len([m for m in fake.messages(odd.channel("general")) if int(m["author"]["id"]) == fake.bot_user.id]) == 1

        # The scheduled sync took each pre-linked member once between the two processes.
        ids = list(PRELINKED)
        await world.wait_for(lambda: all((world.db.get_user(i) or {}).get("last_synced_at") for i in ids),
                             "the scheduled sync of every linked member", 60)
        assert recently_played_calls(world.spotify) == len(ids)
        # Neither process even looked at a member the other had: no "skipped, synced a moment ago" in any run.
        def runs() -> list[tuple[int, ...]]:
            return [tuple(map(int, m)) for m in RUN_LINE.findall(world.output(tail=None))]

        await world.wait_for(lambda: sum(map(sum, runs())) >= len(ids), "the sync runs to finish", 30)
        await asyncio.sleep(0.5)
        runs = runs()
        assert sum(r[0] for r in runs) == len(ids) and not any(r[1] or r[2] for r in runs), runs
        holders = {world.db.sync_lease(i)["holder"] for i in ids}
        assert {h.split("-")[1] for h in holders} <= {str(world.pid_of(0)), str(world.pid_of(1))}

        # Each server's digest was posted once, by the process that has it.
        for name in ("Even", "Even too", "Odd", "Odd too"):
            channel = world.guilds[name].channel("digest")
            await fake.wait_message(channel, timeout=15)
        await asyncio.sleep(0.5)
        for name in ("Even", "Even too", "Odd", "Odd too"):
            assert len(fake.messages(world.guilds[name].channel("digest"))) == 1, name

        # bob runs /connect in Even (shard 0), but his browser lands on shard 1's web server.
        even = world.guilds["Even"]
        link = await answer(await fake.slash(bob, even, even.channel("general"), "connect"))
        url = next(c["url"] for c in components(link) if c.get("url"))
        landed = await asyncio.to_thread(requests.get, url, params={"login_as": "bob"}, timeout=15)
        assert landed.status_code == 200 and f":{world.web_ports[1]}/callback" in landed.url
        confirmation = await fake.wait_dm(bob, lambda m: "linked" in embed_text(m).lower(), 15)
        assert "/profile" in embed_text(confirmation)
        await world.wait_for(lambda: (world.db.get_user(bob.id) or {}).get("last_synced_at"), "bob's first sync")
        every_server = {g.id for g in world.guilds.values()}
        await world.wait_for(
            lambda: {r["guild_id"] for r in world.db.query("SELECT guild_id FROM guild_members WHERE discord_id = ?",
                                                           (bob.id,))} == every_server,
            "bob counted in every server he is in, whichever process has it")
