"""/recommend's work in an engine process (ENGINE_PROCESSES): same answers, every cache event applied there before
the next request, a dead or stuck process loses nothing, and no process outlives the bot."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from database import Database
from tests.utils.services_support import (  # noqa: F401 - the `services` fixture
    GUILD,
    IDS,
    Services,
    known_track_keys,
    services_fixture,
    sync_members,
)
from utils.errors import NotEnoughData
from utils.music.engine_process import EngineProcesses

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(name="engine")
async def engine_fixture(services: Services) -> AsyncIterator[EngineProcesses]:
    """One engine process on the services' database, used by their MusicService."""
    engine = EngineProcesses(str(services.db.path), 1, timeout=1.5, restart_seconds=0.0)
    await asyncio.to_thread(engine.start)
    assert await asyncio.to_thread(engine.wait_ready, 60)
    services.music.engine = engine
    try:
        yield engine
    finally:
        services.music.engine = None
        await asyncio.to_thread(engine.close)


async def keys(services: Services, member: int, count: int = 10) -> list[str]:
    return [r.item.key for r in (await services.music.recommend(member, GUILD, count=count)).items]


def gone(pid: int) -> bool:
    """The process has ended (reaped, or a zombie nobody reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_recommendations_from_the_engine_process_are_those_of_the_bots_own(services: Services,
                                                                                 engine: EngineProcesses) -> None:
    alice, *_ = await sync_members(services)
    there = await keys(services, alice)
    assert engine.answered == 1 and services.music.personal.misses == 0  # worked out there, nothing read here
    saved = services.db.last_recommendations(alice)
    assert [entry["key"] for entry in saved["items"]] == there  # saved for the buttons, as at home
    services.music.engine = None
    assert await keys(services, alice) == there
    assert not set(there) & known_track_keys(services, alice)


async def test_not_for_me_reaches_the_engine_process_before_the_next_request(services: Services,
                                                                             engine: EngineProcesses) -> None:
    alice, *_ = await sync_members(services)
    first = await keys(services, alice)
    await services.music.feedback(alice, first[0], "track", -1)
    again = await keys(services, alice)
    assert first[0] not in again
    assert engine.answered == 2 and services.music.personal.misses == 0


async def test_a_sync_reaches_the_engine_process_before_the_next_request(services: Services,
                                                                         engine: EngineProcesses) -> None:
    alice, *_ = await sync_members(services)
    await services.privacy.set_visibility(alice, True)  # out of the model: her own listening keeps known songs out
    first = (await services.music.recommend(alice, GUILD, count=10)).items
    heard = first[0].item
    services.fake.add_play("alice", heard.spotify_id, int(time.time() * 1000))
    assert (await services.sync.sync_member(alice, force=True)).status == "synced"
    assert heard.key not in await keys(services, alice)
    assert engine.answered == 2


async def test_a_member_who_deletes_their_data_gets_nothing_from_it_in_the_engine_process(
        services: Services, engine: EngineProcesses) -> None:
    alice, *_ = await sync_members(services)
    assert await keys(services, alice)  # her inputs are cached in the engine process now
    await services.privacy.forget(alice)
    with pytest.raises(NotEnoughData):
        await services.music.recommend(alice, GUILD, count=10)
    assert engine.answered == 2 and services.music.personal.misses == 0


@pytest.mark.parametrize("change", ["hides their listening", "deletes their data"])
async def test_a_member_who_leaves_is_never_named_by_the_engine_process(services: Services, engine: EngineProcesses,
                                                                        change: str) -> None:
    alice, bob, *_ = await sync_members(services)
    for member in IDS.values():  # everyone's picks warm the engine process's model and caches
        if services.db.get_user(member):
            await keys(services, member, 25)
    if change == "hides their listening":
        await services.privacy.set_visibility(bob, True)
    else:
        await services.privacy.forget(bob)
    answered = engine.answered
    for member in (alice, IDS["carol"], IDS["dave"]):
        reasons = [r.reason for r in (await services.music.recommend(member, GUILD, count=25)).items]
        assert not [r for r in reasons if "Bob" in r], reasons
    assert engine.answered == answered + 3


async def test_a_killed_engine_process_loses_no_request_and_a_new_one_starts(
        services: Services, engine: EngineProcesses, caplog: pytest.LogCaptureFixture) -> None:
    ids = await sync_members(services)
    await keys(services, ids[0])
    (pid,) = engine.pids()
    services.music.invalidate()  # nothing cached: every request below is real work
    caplog.set_level(logging.WARNING, logger="utils.music.engine_process")
    requests = [asyncio.ensure_future(services.music.recommend(m, GUILD, count=10)) for m in ids * 3]
    await asyncio.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    lists = await asyncio.gather(*requests)
    assert all(len(found.items) == 10 for found in lists)  # answered here, or there before it died
    deadline = time.monotonic() + 30
    while engine.restarts == 0 and time.monotonic() < deadline:  # the bot notices the end of its channel
        await asyncio.sleep(0.02)
    assert engine.restarts == 1 and await asyncio.to_thread(engine.wait_ready, 60)
    assert engine.pids() and engine.pids() != [pid] and gone(pid)
    answered = engine.answered
    await keys(services, ids[1])
    assert engine.answered == answered + 1  # the new process answers again
    lines = [r.getMessage() for r in caplog.records if "engine process" in r.getMessage()]
    assert lines and "a new one starts" in lines[0]
    assert not [line for line in lines if str(services.db.path) in line or services.settings.spotify_client_secret in line]


async def test_a_stuck_engine_process_is_replaced_and_the_member_still_gets_an_answer(
        services: Services, engine: EngineProcesses) -> None:
    alice, *_ = await sync_members(services)
    await keys(services, alice)
    (pid,) = engine.pids()
    os.kill(pid, signal.SIGSTOP)  # alive, but answers nothing
    started = time.monotonic()
    found = await keys(services, alice)
    assert len(found) == 10 and time.monotonic() - started < 10
    assert await asyncio.to_thread(engine.wait_ready, 60)
    assert engine.pids() != [pid] and gone(pid)


async def test_an_engine_process_waiting_on_the_database_is_not_taken_for_stuck(services: Services,
                                                                              engine: EngineProcesses) -> None:
    """Work that takes longer than the silence allowed (a big server's first fit, a write waiting for a lock) is
    not a stuck process: it is not killed, and it answers."""
    alice, *_ = await sync_members(services)
    await keys(services, alice)
    answered = engine.answered
    writer = sqlite3.connect(services.db.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the list's save waits for this write, 3 timeouts long
    asyncio.get_running_loop().call_later(3 * engine.timeout, writer.commit)
    try:
        assert len(await keys(services, alice)) == 10
    finally:
        writer.close()
    assert engine.restarts == 0 and engine.answered == answered + 1


async def test_closing_leaves_no_engine_process(tmp_path: Path) -> None:
    Database(tmp_path / "bot.db").open().close()
    engine = EngineProcesses(str(tmp_path / "bot.db"), 2)
    await asyncio.to_thread(engine.start)
    assert await asyncio.to_thread(engine.wait_ready, 60)
    pids = engine.pids()
    assert len(pids) == 2
    await asyncio.to_thread(engine.close)
    assert engine.pids() == [] and all(gone(pid) for pid in pids)
    assert not [c for c in psutil.Process().children() if c.pid in pids]


async def test_an_engine_process_gives_way_to_the_bots_own_process_when_cores_are_busy(tmp_path: Path) -> None:
    """Acknowledgements (Discord's 3 seconds) and replies come from the bot's event loop: when the cores are short,
    the operating system must run it before the engine process's ranking."""
    Database(tmp_path / "bot.db").open().close()
    engine = EngineProcesses(str(tmp_path / "bot.db"), 1)
    await asyncio.to_thread(engine.start)
    try:
        assert await asyncio.to_thread(engine.wait_ready, 60)
        assert psutil.Process(engine.pids()[0]).nice() > psutil.Process().nice()
    finally:
        await asyncio.to_thread(engine.close)


def test_an_engine_process_ends_with_the_bot_even_when_the_bot_is_killed(tmp_path: Path) -> None:
    Database(tmp_path / "bot.db").open().close()
    script = ("import sys, time\n"
              "from utils.music.engine_process import EngineProcesses\n"
              f"engine = EngineProcesses({str(tmp_path / 'bot.db')!r}, 1)\n"
              "engine.start()\n"
              "assert engine.wait_ready(60)\n"
              "print(engine.pids()[0], flush=True)\n"
              "time.sleep(120)\n")
    bot = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(bot.stdout.readline())  # type: ignore[union-attr]
        assert not gone(pid)
        bot.kill()  # no shutdown at all: SIGKILL
        bot.wait(10)
        deadline = time.monotonic() + 15
        while not gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(pid)
    finally:
        if bot.poll() is None:
            bot.kill()
        bot.wait(10)



async def test_an_engine_process_never_touches_a_database_the_bot_has_not_brought_up_to_date(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from utils.music.engine_child import PickRequest
    from utils.music.engine_process import EngineGone

    (tmp_path / "old.db").touch()  # schema version 0: the bot's own start migrates it, never an engine process
    engine = EngineProcesses(str(tmp_path / "old.db"), 1, restart_seconds=0.0)
    caplog.set_level(logging.WARNING, logger="utils.music.engine_process")
    await asyncio.to_thread(engine.start)
    await asyncio.to_thread(engine.start)  # a second start starts nothing more
    try:
        deadline = time.monotonic() + 60
        while engine.pids() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert engine.pids() == [] and engine.restarts == 0  # it said why and ended; none started again
        with pytest.raises(EngineGone):  # so the bot answers every request itself
            await engine.pick(PickRequest(1, GUILD, (1, 2, 3), time.time(), 10, "balanced"))
        assert any("worked out in the bot's process" in r.getMessage() for r in caplog.records)
        untouched = Database(tmp_path / "old.db")
        assert untouched.schema_version() == 0
        untouched.close()
    finally:
        await asyncio.to_thread(engine.close)


async def test_an_engine_process_that_cannot_read_the_database_for_a_moment_is_tried_again(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.mkdir()  # can't be opened, as a database server down for a moment
    engine = EngineProcesses(str(path), 1, restart_seconds=0.2)
    await asyncio.to_thread(engine.start)
    try:
        deadline = time.monotonic() + 60
        while engine.restarts == 0 and time.monotonic() < deadline:  # the first one could not start
            await asyncio.sleep(0.05)
        assert engine.restarts >= 1
        path.rmdir()
        Database(path).open().close()  # the database is back
        assert await asyncio.to_thread(engine.wait_ready, 60)
    finally:
        await asyncio.to_thread(engine.close)


async def test_an_engine_process_logs_at_the_bots_level_with_the_bots_secrets_hidden(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Its own log lines (why it can't work, a failed refit) reach the console the bot writes to, masked alike."""
    from utils.logger import register_secrets

    secret = "hunter2-not-for-logs"
    register_secrets(secret)
    folder = tmp_path / secret
    folder.mkdir()
    (folder / "old.db").touch()  # an engine process says why it can't work with this database, then ends
    engine = EngineProcesses(str(folder / "old.db"), 1, restart_seconds=0.0)
    await asyncio.to_thread(engine.start)
    try:
        deadline = time.monotonic() + 60
        while engine.pids() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        console = capfd.readouterr().err
        assert "can't work with the database at" in console
        assert "[hidden]" in console and secret not in console
    finally:
        await asyncio.to_thread(engine.close)
