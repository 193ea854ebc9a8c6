"""What every cog shares: access to the services, quick acknowledgement, sending with views."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord.ext import commands

from cogs.ui.format import range_choices
from cogs.ui.views import OwnedView, Paginator
from utils.sources.history_sync import latest_sync

if TYPE_CHECKING:
    from bot import MusicBot, Services

T = TypeVar("T")


class BaseCog(commands.Cog):
    def __init__(self, bot: MusicBot) -> None:
        self.bot = bot

    @property
    def services(self) -> Services:
        return self.bot.services

    @staticmethod
    async def begin(ctx: commands.Context, *, private: bool = True) -> None:
        """Acknowledge a slash command at once so Discord never shows "did not respond"."""
        if ctx.interaction is not None and not ctx.interaction.response.is_done():
            await ctx.defer(ephemeral=private)

    @classmethod
    async def begin_with(cls, ctx: commands.Context, work: Awaitable[T], *, private: bool = True) -> T:
        """`work`'s result, started before the acknowledgement instead of after it: the acknowledgement's round trip to
        Discord and the work (another process, the database) overlap."""
        task = asyncio.ensure_future(work)
        try:
            await cls.begin(ctx, private=private)
        except BaseException:
            task.cancel()
            raise
        return await task

    @staticmethod
    async def send(ctx: commands.Context, *, embed: discord.Embed | None = None, view: discord.ui.View | None = None,
                   private: bool = True, content: str | None = None, file: discord.File | None = None) -> discord.Message:
        """Reply (privately for slash commands when `private`) and let a view know its message."""
        kwargs: dict[str, Any] = {"embed": embed, "content": content, "ephemeral": private}
        if view is not None:
            kwargs["view"] = view
        if file is not None:
            kwargs["file"] = file
        message = await ctx.send(**kwargs)
        if isinstance(view, OwnedView):
            view.message = message
        return message

    async def send_pages(self, ctx: commands.Context, pages: list[discord.Embed], *, private: bool = True,
                         file: discord.File | None = None) -> None:
        paginator = Paginator(ctx.author.id, pages)
        await self.send(ctx, embed=pages[0], view=paginator if paginator.needed else None, private=private, file=file)
        if not paginator.needed:
            paginator.stop()

    async def last_synced(self, discord_id: int) -> float | None:
        """When this member's listening was last brought up to date: by Spotify, Last.fm or ListenBrainz."""
        user = await self.bot.db.run(self.bot.db.get_user, discord_id)
        return latest_sync(user, await self.bot.db.run(self.bot.db.source_links, discord_id))

    async def range_autocomplete(self, interaction: discord.Interaction, current: str) -> list[discord.app_commands.Choice[str]]:
        """Time ranges, plus the years and months this member has imported or synced plays for."""
        months = await self.bot.db.run(self.bot.db.listening_months, interaction.user.id)
        years = sorted({year for year, _ in months})
        return [discord.app_commands.Choice(name=label[:100], value=value)
                for label, value in range_choices(current, years, months)]


def server_name(guild: discord.Guild, discord_id: int, stored: str) -> str:
    """A member as this server knows them (nickname, then global name), else the name we stored."""
    member = guild.get_member(discord_id)
    return member.display_name if member is not None else stored


async def server_names(db: Any, guild: discord.Guild, ids: Iterable[int | None]) -> dict[int, str]:
    """Members as this server knows them, falling back to the names we stored."""
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    stored = await db.run(db.display_names, wanted) if wanted else {}
    return {i: server_name(guild, i, stored.get(i, "someone")) for i in wanted}


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Await a service method whether it is async or blocking (blocking ones run in a worker thread)."""
    import asyncio
    import inspect

    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    return await result if inspect.isawaitable(result) else result
