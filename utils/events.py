"""Who to tell when something happens: the bot, about a browser's doings; services, about a member's changed data.

- `BotBridge`: how the web server tells the bot about things that happened in a browser, without importing
  Discord. The bot implements it with `asyncio.run_coroutine_threadsafe` onto its loop; every method is called
  from a web server thread and must return quickly and never raise.
- `ChangeListeners`: who to tell when a member's stored data changes (a sync, an import, a privacy request).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, TypedDict, runtime_checkable

from utils.logger import get_logger

log = get_logger(__name__)


class BridgeStatus(TypedDict):
    connected: bool
    guilds: int
    latency_ms: float | None


@runtime_checkable
class BotBridge(Protocol):
    """Thread-safe calls from the web thread into the bot."""

    def on_linked(self, discord_id: int, guild_id: int | None) -> None:
        """A member finished linking Spotify: DM them and start their first sync."""

    def on_imported(self, discord_id: int, summary: Any) -> None:
        """A member uploaded listening history (`summary` is a utils.models.ImportSummary)."""

    def status(self) -> BridgeStatus:
        """Whether the bot is connected to Discord, in how many servers, and the gateway latency."""
        ...


class NullBridge:
    """A bridge with no bot behind it (tests, or before the bot connects): records calls, reports offline."""

    def __init__(self, connected: bool = False, guilds: int = 0, latency_ms: float | None = None) -> None:
        self._lock = threading.Lock()
        self.connected = connected
        self.guilds = guilds
        self.latency_ms = latency_ms
        self.linked: list[tuple[int, int | None]] = []
        self.imported: list[tuple[int, Any]] = []

    def on_linked(self, discord_id: int, guild_id: int | None) -> None:
        with self._lock:
            self.linked.append((discord_id, guild_id))

    def on_imported(self, discord_id: int, summary: Any) -> None:
        with self._lock:
            self.imported.append((discord_id, summary))

    def status(self) -> BridgeStatus:
        return {"connected": self.connected, "guilds": self.guilds, "latency_ms": self.latency_ms}


Listener = Callable[[Any], Any]


class ChangeListeners(list[Listener]):
    """Callbacks given the member whose data changed (None: anyone's); one that fails is logged, the rest still run."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def notify(self, discord_id: int | None) -> None:
        for listener in list(self):
            try:
                listener(discord_id)
            except Exception:
                log.exception("a %s listener failed", self.source)
