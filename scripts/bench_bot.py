"""Load test of the bot: N concurrent /recommend interactions through the fake Discord.

    python scripts/bench_bot.py [--interactions 200] [--spotify-delay 0.1] [--members 3] [--listeners 200]
                                [--profile DIR]

The bot runs as it does in production, `python main.py` in its own process, configured by environment
variables to use a fake Discord and a fake Spotify (answering every request after `--spotify-delay` s) that
run in this process, as remote services would. Members link through the real OAuth round trip (/connect,
the fake's consent page, our /callback); `--listeners` more members import a listening history (the real
import code, into the bot's SQLite file before it starts), so the server's model has a realistic size.

Timed bursts: /stats (a baseline with no engine work), /recommend from the few linked members (repeat
askers), and /recommend where every interaction comes from a different member (nothing cached for them).
Prints the time to the first acknowledgement (target p99 < 250 ms), to the final reply as the fake Discord
received it (target p99 < 1 s), the bot's CPU per interaction (its event loop and its worker threads apart) next to
the fakes', and the bot's peak memory (RSS). The engine processes (ENGINE_PROCESSES, children of the bot's process:
set ENGINE_PROCESSES=0 in the environment to measure without them) count in the bot's CPU and memory, and a line
of their own says how much of it is theirs. `--profile DIR` also samples the bot with py-spy during each
timed burst (`pip install py-spy`; collapsed stacks in DIR, one file per burst).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from fakes.discord_server import FakeDiscord  # noqa: E402
from fakes.spotify_server import FakeSpotify  # noqa: E402
from scripts.bench_support import die_with_parent, exit_on_sigterm  # noqa: E402
from tests.helpers.export_files import extended_entry, make_zip, to_json  # noqa: E402

MEMBERS = ("alice", "bob", "carol")
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret-0123456789"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bench:
    """The fakes in this process, the bot in its own."""

    def __init__(self, folder: Path, spotify_delay: float) -> None:
        self.folder = folder
        self.db_path = folder / "bot.db"
        self.port = free_port()
        self.redirect_uri = f"http://127.0.0.1:{self.port}/callback"
        self.bot: subprocess.Popen[bytes] | None = None
        self._cleanup = contextlib.ExitStack()
        self.spotify = FakeSpotify(CLIENT_ID, CLIENT_SECRET, redirect_uris=[self.redirect_uri]).start()
        self._cleanup.callback(self.spotify.stop)
        try:
            self.discord = FakeDiscord().start()
        except BaseException:
            self._cleanup.close()
            raise
        self._cleanup.callback(self.discord.stop)
        self.spotify_delay = spotify_delay

    def stop(self) -> None:
        """Stop the bot (politely, then not), then the fakes; safe to call at any point."""
        if self.bot is not None and self.bot.poll() is None:
            self.bot.send_signal(signal.SIGTERM)
            try:
                self.bot.wait(20)
            except subprocess.TimeoutExpired:
                self.bot.kill()
                self.bot.wait(10)
        self._cleanup.close()

    # -- before the bot starts -----------------------------------------------------------------------

    def import_listeners(self, count: int, seed: int = 5) -> list[str]:
        """`count` server members who import a history of catalogue tracks (mostly one scene each)."""
        from database import Database
        from utils.sources.export_import import HistoryImporter

        rng = random.Random(seed)
        catalogue = self.spotify.catalogue
        by_cluster: dict[str, list[Any]] = {}
        for track in catalogue.tracks.values():
            by_cluster.setdefault(catalogue.artists[track.artist_ids[0]].cluster, []).append(track)
        clusters = sorted(by_cluster)
        every = [t for c in clusters for t in by_cluster[c]]
        now = datetime.now(UTC)
        db = Database(self.db_path).open()
        importer = HistoryImporter(db, None)
        names = []
        try:
            for i in range(count):
                name = f"listener{i}"
                user = self.discord.add_user(name, f"Listener {i}")
                self.discord.add_member(self.discord.guild, user)
                home = by_cluster[clusters[i % len(clusters)]]
                entries = []
                for rank, track in enumerate(rng.sample(home, min(40, len(home))) + rng.sample(every, 15)):
                    artist = catalogue.artists[track.artist_ids[0]].name
                    for play in range(max(1, 12 // (1 + rank // 5))):
                        when = now - timedelta(hours=rng.uniform(1, 24 * 60), minutes=play)
                        entries.append(extended_entry(when, track.name, artist, uri=f"spotify:track:{track.id}"))
                data = make_zip({"Streaming_History_Audio_2026_0.json": to_json(entries)})
                importer.import_file_blocking(user.id, name, io.BytesIO(data), "my_spotify_data.zip",
                                              guild_id=self.discord.guild.id)
                names.append(name)
        finally:
            db.close()
        return names

    def start_bot(self) -> None:
        env = {**os.environ, "PYTHON_DOTENV_DISABLED": "1",
               "DISCORD_TOKEN": self.discord.token, "SPOTIFY_CLIENT_ID": CLIENT_ID,
               "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET, "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
               "SPOTIFY_REDIRECT_URI": self.redirect_uri, "DATABASE_PATH": str(self.db_path),
               "WEB_HOST": "127.0.0.1", "WEB_PORT": str(self.port), "DEV_GUILD_ID": str(self.discord.guild.id),
               "OWNER_IDS": str(self.discord.user("alice").id), "LOG_DIR": str(self.folder / "logs"),
               "LOG_LEVEL": "WARNING", "FEATURE_SCHEDULED_SYNC": "false",
               "DISCORD_API_URL": self.discord.api_url, "SPOTIFY_API_URL": self.spotify.api_url,
               "SPOTIFY_ACCOUNTS_URL": self.spotify.accounts_url}
        log = self._cleanup.enter_context((self.folder / "bot-output.txt").open("wb"))
        self.bot = subprocess.Popen([sys.executable, str(ROOT / "main.py")], cwd=self.folder, env=env,
                                    stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)

    # -- driving --------------------------------------------------------------------------------------

    async def ready(self, timeout: float = 60.0) -> None:
        try:
            await self.discord.wait_connected(timeout)
            await self.discord.wait_commands(self.discord.guild, timeout)
        except TimeoutError:
            raise SystemExit("the bot did not start:\n" + (self.folder / "bot-output.txt").read_text()[-3000:]) from None

    async def slash(self, who: str, name: str, options: dict[str, Any] | None = None) -> Any:
        guild = self.discord.guild
        return await self.discord.slash(self.discord.user(who), guild, guild.channel("general"), name, options)

    async def link(self, who: str) -> None:
        """/connect, open the link button as `who` on the fake Spotify, and wait for the first sync."""
        record = await self.slash(who, "connect")
        await record.wait_response(10)
        message = (await record.wait_followups(1, 10))[0]
        url = next(c["url"] for row in message["components"] for c in row["components"] if c.get("url"))
        response = await asyncio.to_thread(requests.get, url, params={"login_as": who}, timeout=15)
        assert response.status_code == 200, response.text[:300]
        member_id = self.discord.user(who).id
        deadline = time.monotonic() + 30
        while not self._synced(member_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{who}'s first sync did not finish")
            await asyncio.sleep(0.1)

    def _synced(self, member_id: int) -> bool:
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute("SELECT last_synced_at FROM users WHERE discord_id = ?", (member_id,)).fetchone()
        return bool(row and row[0])


async def fire(bench: Bench, count: int, members: list[str], name: str, options: dict[str, Any] | None,
               profile: Path | None = None) -> tuple[list[float], list[float], int, float, float, float, float]:
    """Dispatch `count` interactions at once; return ack times, final-reply times (s), failures, bot CPU s, the
    bot's event-loop thread's share of it, and this process's CPU s (the fake Discord and Spotify, which share the
    host's cores with the bot), and the engine processes' share of the bot's CPU s.

    With `profile`, py-spy samples the bot process during the burst and writes collapsed stacks there: only the
    thread holding Python's lock (`--gil`), since a thread waiting for it is not using the CPU."""
    bot = psutil.Process(bench.bot.pid) if bench.bot else None
    spy = None
    if profile is not None and bot is not None:
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(bot.pid), "--rate", "200", "--format", "raw",
                                "--gil", "--nonblocking", "--subprocesses", "-o", str(profile)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        await asyncio.sleep(1.0)  # py-spy attaches before the burst starts
    cpu_before = sum(bot.cpu_times()[:2]) if bot else 0.0
    engine_before = children_cpu(bot)
    loop_before = loop_cpu(bot)
    fakes_before = sum(os.times()[:2])
    records = await asyncio.gather(*(bench.slash(members[i % len(members)], name, options) for i in range(count)))
    acks: list[float] = []
    finals: list[float] = []
    failures = 0

    async def follow(record: Any) -> None:
        nonlocal failures
        response = await record.wait_response(30)
        acks.append(response["elapsed"])
        if response["late"]:
            failures += 1
            return
        message = (await record.wait_followups(1, 60))[0] if response["type"] == 5 else await record.wait_original(timeout=60)
        # when the fake received the reply, not when this script got round to reading it
        finals.append((record.replied_at or time.monotonic()) - record.dispatched_at)
        if "error id" in str(message) or not message.get("embeds"):
            failures += 1

    await asyncio.gather(*(follow(r) for r in records))
    engine = children_cpu(bot) - engine_before
    cpu = sum(bot.cpu_times()[:2]) - cpu_before + engine if bot else 0.0
    loop = loop_cpu(bot) - loop_before
    fakes = sum(os.times()[:2]) - fakes_before
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        await asyncio.to_thread(spy.wait, 30)
    return acks, finals, failures, cpu, loop, fakes, engine


def children_cpu(bot: psutil.Process | None) -> float:
    """CPU s of the bot's child processes (its engine processes) alive now."""
    total = 0.0
    for child in bot.children(recursive=True) if bot else []:
        with contextlib.suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return total


def tree_rss(bot: psutil.Process) -> tuple[int, int]:
    """RSS of the bot's process and of its child processes, in bytes."""
    own = bot.memory_info().rss
    children = 0
    for child in bot.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            children += child.memory_info().rss
    return own, children


def loop_cpu(bot: psutil.Process | None) -> float:
    """CPU s of the bot's main thread (its event loop: discord.py, our cogs); the rest is the worker threads'."""
    if bot is None:
        return 0.0
    with contextlib.suppress(psutil.Error):
        return next((t.user_time + t.system_time for t in bot.threads() if t.id == bot.pid), 0.0)
    return 0.0


def report(label: str, acks: list[float], finals: list[float], failures: int, cpu: float, loop: float,
           fakes: float, engine: float) -> None:
    ms = [a * 1000 for a in acks]
    each = 1000 / len(acks)
    print(f"{label}: {len(acks)} interactions, {failures} failed, bot CPU {cpu * each:.1f} ms each (event loop "
          f"{loop * each:.1f}, worker threads {(cpu - loop - engine) * each:.1f}; the fakes' process: {fakes * each:.1f} ms)")
    if engine:
        print(f"  of the bot's CPU, its engine processes: {engine * each:.1f} ms each")
    print(f"  first acknowledgement  p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  max {max(ms):7.1f} ms")
    print(f"  final reply            p50 {pct(finals, 50):7.3f} s   p99 {pct(finals, 99):7.3f} s   "
          f"max {max(finals):7.3f} s  (mean {statistics.mean(finals):.3f} s)")


async def measure(bench: Bench, args: argparse.Namespace, listeners: list[str]) -> int:
    assert bench.bot is not None
    process = psutil.Process(bench.bot.pid)
    members = list(MEMBERS[: args.members])
    for name in members:
        await bench.link(name)
    bench.spotify.set_delay(args.spotify_delay)
    rss_idle = sum(tree_rss(process))
    peak = [rss_idle, 0, 0]  # the whole bot, its own process, its engine processes

    async def sample() -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                own, children = tree_rss(process)
                peak[:] = [max(peak[0], own + children), max(peak[1], own), max(peak[2], children)]
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    # warm the model, the HTTP connection pools and the code paths with a burst of each command
    await fire(bench, args.interactions, members, "recommend", {"count": 10})
    admins = ["alice"]  # /stats is for server admins: alice owns the server
    await fire(bench, args.interactions, admins, "stats", None)
    spy = Path(args.profile) if args.profile else None
    if spy:
        spy.mkdir(parents=True, exist_ok=True)
    results = {"/stats baseline": await fire(bench, args.interactions, admins, "stats", None,
                                             spy / "stats.txt" if spy else None)}
    started = time.perf_counter()
    results["/recommend from the linked members"] = await fire(bench, args.interactions, members, "recommend",
                                                               {"count": 10}, spy / "repeat.txt" if spy else None)
    wall = time.perf_counter() - started
    if listeners:
        asked = (listeners * (args.interactions // len(listeners) + 1))[: args.interactions]
        label = f"/recommend from {len(set(asked))} different members (nothing cached for them)"
        results[label] = await fire(bench, args.interactions, asked, "recommend", {"count": 10},
                                    spy / "different.txt" if spy else None)
    sampler.cancel()
    print(f"Fake Spotify answers after {args.spotify_delay * 1000:.0f} ms; {len(members)} linked members, "
          f"{len(listeners)} who imported their history; the bot runs in its own process.")
    for label, result in results.items():
        report(label, *result)
    print(f"  {args.interactions} /recommend from the linked members done in {wall:.2f} s")
    print(f"Bot peak memory: RSS {peak[0] / 2**20:.0f} MiB (idle after linking: {rss_idle / 2**20:.0f} MiB)")
    if peak[2]:
        print(f"  its own process's peak {peak[1] / 2**20:.0f} MiB, its engine processes' {peak[2] / 2**20:.0f} MiB")
    children = [" ".join(p.cmdline()[-2:]) for p in process.children()]
    print(f"ENGINE_PROCESSES={os.environ.get('ENGINE_PROCESSES', 'default')} on {os.cpu_count()} cores; the bot's child "
          f"processes: {len(children)} (engine processes, and multiprocessing's resource tracker beside them)")
    timed = [r for label, r in results.items() if label.startswith("/recommend")]
    ok = all(pct(a, 99) < 0.25 and pct(f, 99) < 1.0 and n == 0 for a, f, n, *_ in timed)
    print("Targets (ack p99 < 250 ms, reply p99 < 1 s, no failures):", "met" if ok else "NOT met")
    return 0 if ok else 1


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), args.spotify_delay)
        try:
            listeners = bench.import_listeners(args.listeners)
            bench.start_bot()
            await bench.ready()
            return await measure(bench, args, listeners)
        finally:
            bench.stop()


def main() -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=200)
    parser.add_argument("--spotify-delay", type=float, default=0.1)
    parser.add_argument("--members", type=int, default=3, choices=range(1, len(MEMBERS) + 1))
    parser.add_argument("--listeners", type=int, default=200, help="members who import a history instead of linking")
    parser.add_argument("--profile", metavar="DIR", help="sample the bot with py-spy during each timed burst "
                        "(collapsed stacks: stats.txt, repeat.txt, different.txt; the CPU figures then include py-spy's cost)")
    args = parser.parse_args()
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy: pip install py-spy")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
