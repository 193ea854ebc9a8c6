"""How the web server tells the bot about things that happened in a browser, without importing Discord.

The bot implements `BotBridge` with `asyncio.run_coroutine_threadsafe` onto its loop; every method is
called from a web server thread and must return quickly and never raise.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, TypedDict, runtime_checkable


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
