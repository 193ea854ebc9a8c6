"""What a test reads back: one record per interaction the fake dispatched, filled as the bot answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from fakes.discord_messages import EPHEMERAL, LOADING, MessageStore, SentFile

RESPONSE_NAMES = {
    1: "pong",
    4: "message",
    5: "deferred message",
    6: "deferred update",
    7: "update message",
    8: "autocomplete result",
    9: "modal",
}


class ChangeSignal:
    """Wakes waiters on the fake's loop whenever recorded state changes.

    Each waiter's predicate is checked once per turn of the loop that saw changes, in one pass: with hundreds of
    waiters (a load test's burst) waking each as a task at every change cost the fake more CPU than the bot under
    test, on the same cores.
    """

    def __init__(self) -> None:
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._check_scheduled = False

    def notify(self) -> None:
        if self._waiters and not self._check_scheduled:
            # checked after the current step, as a woken task would, so a change is seen whole
            self._check_scheduled = True
            asyncio.get_running_loop().call_soon(self._check)

    def _check(self) -> None:
        self._check_scheduled = False
        waiting = []
        for predicate, future in self._waiters:
            if not future.done() and not _settle(predicate, future):
                waiting.append((predicate, future))
        self._waiters = waiting

    async def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Return predicate()'s first truthy value, or raise TimeoutError naming what was awaited."""
        value = predicate()
        if value:
            return value
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiters.append((predicate, future))

        def expire() -> None:  # one last look, then give up
            if not future.done() and not _settle(predicate, future):
                future.set_exception(TimeoutError(f"fake Discord: timed out after {timeout}s waiting for {what}"))

        timer = loop.call_later(max(0.0, timeout), expire)
        try:
            return await future
        finally:
            timer.cancel()


def _settle(predicate: Callable[[], Any], future: asyncio.Future[Any]) -> bool:
    """Resolve the future with the predicate's value (or its error) when there is one; say whether it was."""
    try:
        value = predicate()
    except Exception as error:  # the waiter gets the error, as when it checked for itself
        future.set_exception(error)
        return True
    if value:
        future.set_result(value)
        return True
    return False


class RecordHost(Protocol):
    """What a record reads through: the fake Discord's messages, change signal and event loop
    (fakes.discord_server.FakeDiscord)."""

    store: MessageStore
    signal: ChangeSignal

    def files(self, message: dict[str, Any] | int) -> list[SentFile]: ...

    def run_on_fake_loop(self, coro: Coroutine[Any, Any, Any]) -> Awaitable[Any]: ...


class InteractionRecord:
    """One dispatched interaction and everything the bot sent back for it, exactly as Discord got it."""

    def __init__(self, fake: RecordHost, payload: dict[str, Any], label: str) -> None:
        self._fake = fake
        self.payload = payload
        self.label = label
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.dispatched_at = time.monotonic()
        self.response: dict[str, Any] | None = None
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        self.edit_count = 0
        self.late = False
        self.replied_at: float | None = None  # monotonic time the first follow-up or edit reached Discord
        self.shards: list[tuple[int, int]] = []  # the shard(s) whose connection it was sent to
        self.callbacks = 0  # how many times the bot tried to answer it (Discord takes the first)

    def __repr__(self) -> str:
        return f"<InteractionRecord {self.label} response={self.response and self.response['type']}>"

    @property
    def user_payload(self) -> dict[str, Any]:
        """The invoking user, as in the dispatched payload."""
        member = self.payload.get("member")
        return member["user"] if member else self.payload["user"]

    def mark_replied(self) -> None:
        if self.replied_at is None:
            self.replied_at = time.monotonic()

    # ---- state, read at any time ----------------------------------------------------------------

    @property
    def original(self) -> dict[str, Any] | None:
        """The current state of the original response message (after any edits), or None."""
        return self._fake.store.get(self.original_id) if self.original_id else None

    @property
    def followups(self) -> list[dict[str, Any]]:
        """Follow-up messages, oldest first, in their current state."""
        messages = (self._fake.store.get(mid) for mid in self.followup_ids)
        return [m for m in messages if m is not None]

    @property
    def ephemeral(self) -> bool:
        """True when only the invoking member sees the original response."""
        original = self.original
        return bool(original and original["flags"] & EPHEMERAL)

    def files(self, message: dict[str, Any] | None = None) -> list[SentFile]:
        """Files attached to a message (default: the original response)."""
        target = message or self.original
        return self._fake.files(target) if target else []

    # ---- waiting, from any event loop -------------------------------------------------------------

    def _on_fake(self, coro: Coroutine[Any, Any, Any]) -> Awaitable[Any]:
        return self._fake.run_on_fake_loop(coro)

    async def wait_response(self, timeout: float = 5.0) -> dict[str, Any]:
        """The interaction callback: {'type', 'data', 'elapsed' (seconds after dispatch), 'late'}."""
        return await self._on_fake(self._fake.signal.wait_until(lambda: self.response, timeout, f"a response to {self.label}"))

    async def wait_followups(self, n: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least n follow-ups exist; return them all."""
        await self._on_fake(
            self._fake.signal.wait_until(lambda: len(self.followup_ids) >= n, timeout, f"{n} follow-up(s) to {self.label}")
        )
        return self.followups

    async def wait_original(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait until the original message exists, is no longer 'thinking', and matches predicate."""

        def ready() -> dict[str, Any] | None:
            message = self.original
            if message is None or message["flags"] & LOADING:
                return None
            return message if predicate is None or predicate(message) else None

        return await self._on_fake(self._fake.signal.wait_until(ready, timeout, f"the reply to {self.label}"))

    async def wait_edit(self, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until the original message has been edited count times; return it."""
        await self._on_fake(
            self._fake.signal.wait_until(lambda: self.edit_count >= count, timeout, f"{count} edit(s) of {self.label}")
        )
        return self.original  # type: ignore[return-value]
