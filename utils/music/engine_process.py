"""Personal recommendations in engine processes of their own (ENGINE_PROCESSES), beside the bot's event loop.

Why: a process runs Python on one core at a time (the GIL), and a burst of /recommend for members with nothing
cached spends most of its CPU reading their data and ranking: in the bot's own process that work and the event
loop take turns on one core while the host's other cores wait. An engine process does that work on another core.

How: each engine process is started with `spawn` (a fresh interpreter: forking a process that has threads can copy
a lock held by another thread and hang), opens the same database without migrating it and keeps its own caches
(engine_child.py). One ordered channel carries both requests and the cache events the bot's process applies, so
an event sent before a request is applied before it. A reader thread per process hands answers to the event loop
(`call_soon_threadsafe`) and a sender thread writes the channel: the loop never waits on a pipe. When a process
dies, stops answering, or is not ready yet, `pick` raises EngineGone and the caller answers in its own process;
a dead or stuck process is killed and a new one started. Plain module: no `discord`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import queue
import threading
import time
from typing import Any

from utils.logger import SECRET_FILTER, get_logger
from utils.music.engine_child import PickRequest, PickResult, child_main

log = get_logger(__name__)

START_METHOD = "spawn"  # never "fork": the bot's process has threads (database pool, web server, engine threads)
RESTART_SECONDS = 10.0  # at most one start per process slot in this time: a process that keeps dying is not a busy loop


class EngineGone(Exception):
    """The engine process could not answer this request (not ready, stopped, died, stuck, or the work failed there):
    the caller works it out in its own process."""


class _Child:
    """One engine process, its channel, and the two threads that talk to it."""

    def __init__(self, slot: int, database: str, options: dict[str, Any], beat: float) -> None:
        context = multiprocessing.get_context(START_METHOD)
        self.slot = slot
        self.lock = threading.Lock()
        self.pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[PickResult]]] = {}
        self.ready = threading.Event()
        # One thread at a time asks the system about the process: when two do (the reader thread reaping it while
        # close() checks it), the one that comes second finds it already reaped ("no such child") and calls it alive.
        self.reaping = threading.Lock()
        self.dead = False
        self.last_heard = time.monotonic()
        self.outbox: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        requests_in, self.requests = context.Pipe(duplex=False)
        self.results, results_out = context.Pipe(duplex=False)
        logs = (logging.getLevelName(logging.getLogger().getEffectiveLevel()), SECRET_FILTER.known())
        self.process = context.Process(target=child_main, args=(requests_in, results_out, database, options, beat, logs),
                                       name=f"engine-process-{slot}", daemon=True)  # daemon: ended if the bot's Python exits
        self.process.start()
        # the child's ends live in the child only: when it dies, our reader sees the channel end at once
        requests_in.close()
        results_out.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        with self.reaping:
            return self.process.is_alive()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the process to end (it is reaped then); whether it is still alive."""
        if multiprocessing.connection.wait([self.process.sentinel], timeout):
            with self.reaping:  # its end of the sentinel closes a moment before it can be reaped: wait for that
                self.process.join(5)
        return self.alive()

    def kill(self) -> None:
        with self.reaping:
            if self.process.is_alive():
                self.process.kill()

    def exitcode(self) -> int | None:
        with self.reaping:
            return self.process.exitcode


class EngineProcesses:
    """`count` engine processes; a member's requests always go to the same one (their inputs are cached there)."""

    def __init__(self, database: str, count: int = 1, *, timeout: float = 10.0,
                 restart_seconds: float = RESTART_SECONDS, **options: Any) -> None:
        self.database = database
        self.count = max(1, count)
        # a process silent this long while a request waits is stuck: a live one says so every timeout / 4 s, however
        # long its work takes (a big server's first fit takes longer than this)
        self.timeout = timeout
        self.restart_seconds = restart_seconds
        self.options = options  # ChildEngine's: personal_ttl, model_ttl, genre_seconds
        self._children: list[_Child | None] = [None] * self.count
        self._started_at = [0.0] * self.count
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closing = False
        self._gave_up = False
        self.restarts = 0
        self.answered = 0  # requests the engine processes answered (the rest were answered by the bot itself)

    # -- life ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every engine process (they get ready in the background; until then the bot answers). Blocking."""
        for slot in range(self.count):
            if self._children[slot] is None:  # started once: a second call starts nothing more
                self._start(slot)

    def _start(self, slot: int) -> None:
        with self._lock:
            if self._closing or self._gave_up:
                return
            self._started_at[slot] = time.monotonic()
            child = _Child(slot, self.database, self.options, self.timeout / 4)
            self._children[slot] = child
        threading.Thread(target=self._send, args=(child,), name=f"to-engine-process-{slot}", daemon=True).start()
        threading.Thread(target=self._read, args=(child,), name=f"from-engine-process-{slot}", daemon=True).start()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Whether every engine process is ready within `timeout` s (tests and benchmarks). Blocking."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = list(self._children)
            if all(c is not None and c.ready.is_set() and not c.dead for c in children):
                return True
            time.sleep(0.02)
        return False

    def pids(self) -> list[int]:
        """The engine processes alive now."""
        return [c.pid for c in self._children if c is not None and c.pid and c.alive()]

    def close(self, timeout: float = 15.0) -> None:
        """Stop the processes: they finish the work in hand (it uses the database), then exit; one that does not
        within `timeout` s is killed. Nothing outlives the bot. Blocking."""
        with self._lock:
            self._closing = True
            children = [c for c in self._children if c is not None]
        for child in children:
            child.outbox.put(("stop",))
            child.outbox.put(None)
        deadline = time.monotonic() + timeout
        for child in children:
            child.join(max(0.1, deadline - time.monotonic()))
        for child in children:
            if child.alive():
                log.warning("The engine process %s did not stop in time; ending it", child.slot)
                child.kill()
                child.join(10)
            self._lost(child, "stopped")

    # -- requests and events ------------------------------------------------------------------------------

    def send_event(self, kind: str, value: Any) -> None:
        """A cache event the bot's process applied: every engine process applies it before any later request.
        Never blocks. A process not running has nothing cached (a new one starts empty)."""
        for child in list(self._children):
            if child is not None and not child.dead:
                child.outbox.put((kind, value))

    async def pick(self, request: PickRequest) -> PickResult:
        """The member's picks from their engine process; EngineGone when it can't give them."""
        child = self._children[request.discord_id % self.count]
        if child is None or child.dead or not child.ready.is_set():
            raise EngineGone("not ready")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PickResult] = loop.create_future()
        request_id = next(self._ids)
        with child.lock:
            if child.dead:
                raise EngineGone("stopped")
            child.pending[request_id] = (loop, future)
        child.outbox.put(("pick", request_id, request))
        try:
            while True:
                try:
                    return await asyncio.wait_for(asyncio.shield(future), self.timeout)
                except TimeoutError:
                    # busy answering others is not stuck: only silence for the whole wait is
                    if time.monotonic() - child.last_heard >= self.timeout:
                        self._lost(child, f"gave no answer for {self.timeout:.0f} s")
                        raise EngineGone("stuck") from None
        finally:
            future.cancel()  # an answer or a failure coming later has nobody to tell (nor an error to log)
            with child.lock:
                child.pending.pop(request_id, None)

    # -- the threads --------------------------------------------------------------------------------------

    def _send(self, child: _Child) -> None:
        """Write the channel in order; a message the process can't take means it is gone."""
        while True:
            message = child.outbox.get()
            if message is None:
                return
            try:
                child.requests.send(message)
            except (OSError, ValueError):
                self._lost(child, "stopped taking requests")
                return

    def _read(self, child: _Child) -> None:
        """Hand the process's answers to the waiting commands' event loop, until its channel ends."""
        while True:
            try:
                message = child.results.recv()
            except (EOFError, OSError):
                break
            child.last_heard = time.monotonic()
            if message[0] == "alive":
                continue
            if message[0] == "ready":
                child.ready.set()
            elif message[0] == "failed" and message[2]:
                log.warning("The engine process can't work here (%s): recommendations are worked out in the bot's "
                            "process", message[1])
                self._gave_up = True
            elif message[0] == "failed":  # the database is down for a moment: a new process tries again shortly
                log.warning("The engine process could not start: %s", message[1])
            else:
                with child.lock:
                    entry = child.pending.pop(message[1], None)
                if entry is not None:
                    self.answered += message[0] == "done"
                    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                        entry[0].call_soon_threadsafe(_settle, entry[1], message)
        self._lost(child, "stopped")
        child.join(5)  # reap it
        with contextlib.suppress(OSError):
            child.results.close()

    def _lost(self, child: _Child, why: str) -> None:
        """The process is gone or stuck: its waiting requests are answered by the bot itself, and a new one starts."""
        with child.lock:
            if child.dead:
                return
            child.dead = True
            pending = list(child.pending.values())
            child.pending.clear()
        child.outbox.put(None)
        with contextlib.suppress(Exception):
            child.kill()
        for loop, future in pending:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fail, future, why)
        if self._closing or self._gave_up:
            return
        log.warning("The engine process %s %s (exit code %s): its requests are answered in the bot's process, "
                    "and a new one starts", child.slot, why, child.exitcode())
        self.restarts += 1
        wait = max(0.0, self._started_at[child.slot] + self.restart_seconds - time.monotonic())
        timer = threading.Timer(wait, self._restart, args=(child,))
        timer.daemon = True
        timer.start()

    def _restart(self, child: _Child) -> None:
        if self._children[child.slot] is child:
            try:
                self._start(child.slot)
            except Exception:  # the bot goes on answering in its own process
                log.exception("A new engine process could not be started")


def _settle(future: asyncio.Future[PickResult], message: tuple[Any, ...]) -> None:
    if future.done():
        return
    if message[0] == "done":
        future.set_result(message[2])
    else:
        future.set_exception(EngineGone(f"the work failed there:\n{message[2]}"))


def _fail(future: asyncio.Future[PickResult], why: str) -> None:
    if not future.done():
        future.set_exception(EngineGone(why))
