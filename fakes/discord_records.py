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
    """Wakes waiters on the fake's loop whenever recorded state changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Return predicate()'s first truthy value, or raise TimeoutError naming what was awaited."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"fake Discord: timed out after {timeout}s waiting for {what}")
            event = self._event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                continue


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
