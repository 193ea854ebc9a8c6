"""The threads that run the engine: CPU-bound ranking on two engine threads, and fitting a server's model on two
threads of its own, so the event loop keeps acknowledging interactions within Discord's 3 seconds."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class EngineWorkers:
    """Thread pools shared by the personal and server features."""

    def __init__(self) -> None:
        # A recommendation's work (reading the member's data, ranking, saving) holds the GIL, so it runs on two
        # threads of its own: more threads only queue for the GIL, and each switch costs.
        self._engine = ThreadPoolExecutor(max_workers=2, thread_name_prefix="engine")
        # Fitting a server's model can take seconds on a big server: fits have threads of their own, so the engine
        # threads go on serving other servers and DMs meanwhile. Two, so a small server's fit does not queue behind
        # a big one's (a sync drops every model at once); one server is never fitted twice at a time (ModelCache).
        self._fitter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fit")

    async def compute(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound engine code on the engine threads."""
        return await asyncio.get_running_loop().run_in_executor(self._engine, functools.partial(fn, *args))

    async def fit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a model fit on the fitting threads."""
        return await asyncio.get_running_loop().run_in_executor(self._fitter, functools.partial(fn, *args))

    def start_fit(self, job: Callable[[], object]) -> None:
        """Queue a background fit on the fitting threads without waiting for it (a stale model's refit)."""
        self._fitter.submit(job)

    def close(self) -> None:
        """Stop the threads: queued work is dropped, running work finishes (it may be using the database, which must
        stay open until then). Blocking."""
        for pool in (self._engine, self._fitter):
            pool.shutdown(wait=True, cancel_futures=True)
