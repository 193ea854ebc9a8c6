"""A member's own data: export it, erase it, or hide it from the server."""

from __future__ import annotations

import json
import time
from typing import Any

from database import Database
from utils.events import ChangeListeners
from utils.logger import get_logger

log = get_logger(__name__)

EXPORT_EXPLANATION = (
    "Everything this bot stores about you. 'users' holds your account details here (your name, whether you're "
    "linked or hidden); 'plays' are the songs you listened to ('played_at' is when you finished, counted in "
    "milliseconds since 1 January 1970; 'source' says whether it came from Spotify or a history file you "
    "imported); 'top_tracks' and 'top_artists' are Spotify's lists of your favourites for each period; "
    "'feedback' holds your likes (1) and 'not for me' (-1); 'guild_members' lists the servers where the bot "
    "knows you; 'saved_recommendations' holds the last songs the bot recommended to you and, under "
    "'unfinished_playlists', any playlist it made in your Spotify but couldn't fill yet (saving again fills that "
    "one instead of making another). Your Spotify login is kept encrypted and is not included. Run /privacy "
    "forget to delete all of it."
)


class PrivacyService:
    """Export, erasure and visibility. `on_forget` listeners drop cached models that used the member's data."""

    def __init__(self, db: Database, auth: Any = None) -> None:
        self.db = db
        self.auth = auth
        self.on_change = ChangeListeners("privacy")

    async def export(self, discord_id: int) -> bytes:
        """A pretty JSON file of everything held on the member (tokens left out)."""
        data = await self.db.run(self.db.export_user, discord_id)
        document = {"about": EXPORT_EXPLANATION, "discord_id": discord_id,
                    "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}
        return json.dumps(document, indent=2, ensure_ascii=False, default=_plain).encode("utf-8")

    async def forget(self, discord_id: int) -> None:
        """Erase every row held on the member, their Spotify link included, and drop cached models."""
        await self.db.run_write(self.db.erase_user, discord_id)
        self.on_change.notify(discord_id)
        log.info("a member's data was erased at their request")

    async def set_visibility(self, discord_id: int, hidden: bool) -> None:
        """Hide (or show again) a member's listening from server features and other members' recommendations."""
        await self.db.run(self.db.set_hidden, discord_id, hidden)
        self.on_change.notify(discord_id)



def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "(binary data left out)"
    return str(value)
