"""Who to tell when a member's stored data changes (a sync, an import, a privacy request)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from utils.logger import get_logger

log = get_logger(__name__)

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
