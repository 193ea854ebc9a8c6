"""Who counts in a server's features: whether they are on (per server and for the whole bot), and which members
share their listening there. Every server feature and a member's view of another member asks here first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from database import Database
from utils.cache import TTLCache
from utils.errors import BotError

COMMUNITY_OFF = ("Server features are turned off here. A server admin can turn them on with `/settings community on`. "
                 "Your own recommendations keep working meanwhile.")
COMMUNITY_OFF_EVERYWHERE = "Server features are turned off for this bot by its owner. Your own recommendations still work."
# Hiding is stored once per member and applies in every server, so these never say "this server".
HIDDEN_SELF = ("You've hidden your listening, so I can't use it in server features. "
               "Run `/privacy visibility show` to share it again.")
OTHER_PRIVATE = "{name} keeps their listening private."
OTHER_IN_DMS = "You can look at another member's listening only in a server you're both in."


class CommunityAccess:
    """Server-feature switches and visible members, cached briefly and dropped at once on any change."""

    def __init__(self, db: Database, settings: Any) -> None:
        self.db = db
        self.settings = settings
        # Who counts in a server's features. Any change (privacy, sync, import, joining or leaving) drops it at once
        # through `invalidate`; the time limit is a safety net.
        self.visible: TTLCache[list[int]] = TTLCache(ttl=30.0, max_entries=1000)
        self.flags: TTLCache[bool] = TTLCache(ttl=300.0, max_entries=1000)  # changed only by set_community
        # Servers being recorded for members who just gained listening: who counts waits for them, so a command
        # right after an import already counts the member.
        self._recording: set[asyncio.Future[int]] = set()

    @property
    def on_for_bot(self) -> bool:
        return bool(getattr(self.settings, "feature_community", True))

    def invalidate(self, discord_id: int | None = None) -> None:
        """A member's data changed (or anyone's, None): who counts where may have changed too."""
        self.visible.clear()
        if discord_id is None:
            self.flags.clear()  # e.g. the bot left a server and its settings went with it

    async def community_on(self, guild_id: int) -> bool:
        if not self.on_for_bot:
            return False

        async def load() -> bool:
            settings = await self.db.run(self.db.get_guild_settings, guild_id)
            return bool(settings.get("community_enabled", 1))

        return await self.flags.get_or_load(guild_id, load)

    async def set_community(self, guild_id: int, enabled: bool) -> None:
        """A server admin turns server features on or off; it applies to the very next command."""
        await self.db.run(self.db.update_guild_settings, guild_id, community_enabled=int(enabled))
        self.flags.discard(guild_id)

    async def record_servers(self, discord_id: int, guild_ids: Iterable[int]) -> int:
        """The member is in these servers (from Discord's member cache): count them there from now on."""
        added = await self.db.run(self.db.add_member_guilds, discord_id, list(guild_ids))
        if added:
            self.invalidate(discord_id)
        return added

    def record_servers_soon(self, discord_id: int, guild_ids: Iterable[int]) -> asyncio.Future[int]:
        """`record_servers` in the background (call on the event loop); `visible_members` waits for it."""
        task = asyncio.ensure_future(self.record_servers(discord_id, list(guild_ids)))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        return task

    async def settle_recordings(self) -> None:
        """Wait for servers being recorded right now, so what comes next (an answer, a member leaving) sees them."""
        if self._recording:
            await asyncio.gather(*list(self._recording), return_exceptions=True)

    async def visible_members(self, guild_id: int) -> list[int]:
        await self.settle_recordings()  # a member's servers are being recorded: they count in this very answer
        members = await self.visible.get_or_load(guild_id, lambda: self.db.run(self.db.visible_members, guild_id))
        return list(members)

    async def require_community(self, guild_id: int) -> list[int]:
        """The server's visible members, or a friendly error when server features are off."""
        if not self.on_for_bot:
            raise BotError(COMMUNITY_OFF_EVERYWHERE)
        if not await self.community_on(guild_id):
            raise BotError(COMMUNITY_OFF)
        return await self.visible_members(guild_id)

    async def check_can_view(self, guild_id: int | None, member_id: int, asker: int) -> None:
        """Another member's profile and top lists are a server feature: only in a server with server features on,
        and only of a member there who shares their listening. One's own are always open."""
        if member_id == asker:
            return
        if guild_id is None:
            raise BotError(OTHER_IN_DMS)
        await self.require_visible(guild_id, [member_id], asker)

    async def require_visible(self, guild_id: int, ids: Sequence[int], asker: int | None = None) -> list[int]:
        """Every member in `ids` shares listening here, or a friendly error naming who doesn't and why."""
        visible = set(await self.require_community(guild_id))
        for member in ids:
            if member not in visible:
                user = await self.db.run(self.db.get_user, member)
                if user and user.get("hidden"):
                    name = user.get("display_name") or "That member"
                    raise BotError(HIDDEN_SELF if member == asker else OTHER_PRIVATE.format(name=name))
                how = "`/link lastfm`, `/link listenbrainz`, `/connect` or `/import file`"
                raise BotError(f"You have no listening data on this server yet: bring it in with {how} first."
                               if member == asker else
                               f"That member has no listening data on this server yet; they can bring it in with {how}.")
        return sorted(visible)
