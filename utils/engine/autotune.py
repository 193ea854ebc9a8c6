"""Self-tuning for a running bot: each community's last tuning is remembered and redone in the background.

A request never waits for tuning: `SelfTuner.fit` fits the hybrid at once with the community's last tuned
choice (the defaults before the first), and when that choice is missing or older than `max_age` it starts
one background thread that tunes on the same data and keeps the result for the next fit. Only one tuning
runs at a time per tuner, so a burst of fits for many communities does not pile up threads, and it starts
`delay` seconds after the fit, so it does not take CPU from the burst of requests that caused the fit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

from utils.engine.data import Interactions
from utils.engine.hybrid import DEFAULT_WEIGHTS, TUNE_SECONDS, Hybrid, default_components
from utils.engine.tuning import TuningReport, tune, untuned

WAITING = untuned("not tuned to this server yet: that happens after its next recommendations")


class SelfTuner:
    """Fits hybrids per community key with that community's last tuning, and keeps the tuning fresh."""

    def __init__(self, *, max_age: float = 6 * 3600.0, budget_seconds: float = TUNE_SECONDS,
                 background: bool = True, delay: float = 60.0) -> None:
        self.max_age = max_age
        self.delay = delay
        self.budget_seconds = budget_seconds
        self.background = background
        self._reports: dict[Hashable, tuple[float, TuningReport]] = {}
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def fit(self, key: Hashable, data: Interactions) -> Hybrid:
        """A fitted hybrid for this community, with its last tuned settings when there are any."""
        report = self.report(key)
        model = Hybrid(tuned=report).fit(data)
        if self._stale(key):
            self._start(key, data)
        return model

    def report(self, key: Hashable) -> TuningReport:
        """What the last tuning for this community chose (or why the defaults are in use)."""
        with self._lock:
            entry = self._reports.get(key)
        return entry[1] if entry else WAITING

    def forget(self, key: Hashable | None = None) -> None:
        """Drop the remembered tuning of one community (or all), so the next fit tunes again."""
        with self._lock:
            if key is None:
                self._reports.clear()
            else:
                self._reports.pop(key, None)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background tuning under way (if any) ends; for tests and benchmarks."""
        thread = self._running
        if thread is not None:
            thread.join(timeout)

    def _stale(self, key: Hashable) -> bool:
        with self._lock:
            entry = self._reports.get(key)
        return entry is None or time.time() - entry[0] > self.max_age

    def _start(self, key: Hashable, data: Interactions) -> None:
        with self._lock:
            if self._running is not None and self._running.is_alive():
                return
            thread = threading.Thread(target=self._tune, args=(key, data), name=f"tune-{key}", daemon=True)
            self._running = thread
        if self.background:
            thread.start()
        else:
            thread.run()

    def _tune(self, key: Hashable, data: Interactions) -> None:
        if self.background and self.delay > 0:
            time.sleep(self.delay)
        report = tune(data, default_components(), DEFAULT_WEIGHTS, budget_seconds=self.budget_seconds)
        with self._lock:
            self._reports[key] = (time.time(), report)
