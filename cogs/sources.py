"""Linking Last.fm and ListenBrainz: /link lastfm (a private button), /link listenbrainz (a private form), /unlink,
and the member's reply kept up to date while their history comes in."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from cogs._base import BaseCog, call
from cogs.errors import send_interaction_error
from cogs.ui.embeds import error_embed, message_embed
from cogs.ui.format import SPOTIFY_GREEN
from cogs.ui.views import link_view
from storage.errors import is_temporary_failure
from utils.errors import BotError
from utils.sources.history_sync import BACKFILL, REPLY_WINDOW_SECONDS, describe_link
from utils.sources.source_links import NO_LASTFM, STATE_TTL_SECONDS

if TYPE_CHECKING:
    from bot import MusicBot

PROGRESS_EVERY_SECONDS = 3.0
LATER = "\n\nThis is a big history: I'll send you a direct message when it's all in."
LASTFM_RED = discord.Colour(0xD51007)
WHAT_WE_KEEP = (
    "**What I keep:** your {name} user name and every play in your history (artist, song, album, when), so you "
    "count in this server's charts, who-knows, taste matches and blends from today.{secret}\n"
    "**Undo it any time:** `/unlink {source}` stops it; `/privacy forget` deletes everything.")
UNLINKED = ("Done: your {name} account is unlinked{secret}. The plays it brought stay until you run "
            "`/privacy forget`.")


class ListenBrainzForm(discord.ui.Modal, title="Link ListenBrainz"):
    """A private form for the member's ListenBrainz user token (never a visible command option)."""

    token: discord.ui.TextInput[ListenBrainzForm] = discord.ui.TextInput(
        label="Your ListenBrainz user token", custom_id="token", min_length=1, max_length=100,
        placeholder="On listenbrainz.org: your name, then Settings, then User token")

    def __init__(self, cog: Sources) -> None:
        super().__init__(timeout=600)
        self.cog = cog

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sources = self.cog.services.sources
        try:
            name = await sources.link_listenbrainz(interaction.user.id, interaction.user.display_name,
                                                   self.token.value)
        except BotError as error:
            await interaction.followup.send(embed=error_embed(error.user_message + " Nothing was saved."),
                                            ephemeral=True)
            return
        guild_id = interaction.guild.id if interaction.guild else None
        await self.cog.bot.after_source_link(interaction.user.id, guild_id, "listenbrainz")
        message = await interaction.followup.send(embed=self.cog.progress_embed(
            "ListenBrainz is linked!", f"Linked as **{discord.utils.escape_markdown(name)}**. "
            "I didn't keep your token.", "Bringing in your history now."), ephemeral=True, wait=True)
        self.cog.follow(message, interaction.user.id, "listenbrainz", "ListenBrainz is linked!",
                        f"Linked as **{discord.utils.escape_markdown(name)}**. I didn't keep your token.")

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        # A modal's default only logs: the member's reply would say "thinking" forever.
        await send_interaction_error(interaction, error, where="ListenBrainz form")


class Sources(BaseCog):
    """Link Last.fm or ListenBrainz so your whole listening history counts."""

    follow_for_seconds = REPLY_WINDOW_SECONDS  # an interaction's reply can be edited for 15 minutes

    @commands.hybrid_group(name="link", description="Link Last.fm or ListenBrainz so your whole history counts",
                           invoke_without_command=True)
    async def link(self, ctx: commands.Context) -> None:
        """Link Last.fm or ListenBrainz: `link lastfm` or `link listenbrainz`."""
        await self.send(ctx, embed=message_embed("Use `/link lastfm` or `/link listenbrainz`."), private=True)

    @link.command(name="lastfm", description="Link your Last.fm account (I'll give you a private button)")
    @commands.cooldown(1, 20, commands.BucketType.user)
    async def link_lastfm(self, ctx: commands.Context) -> None:
        """Link your Last.fm account: a private button to Last.fm's own page."""
        await self.begin(ctx, private=True)
        sources = self.services.sources
        if sources is None or not sources.lastfm_ready:
            await self.send(ctx, embed=error_embed(NO_LASTFM), private=True)
            return
        guild_id = ctx.guild.id if ctx.guild else None
        url = await call(sources.lastfm_link, ctx.author.id, guild_id, ctx.author.display_name)
        before = await self.bot.db.run(self.bot.db.source_link, ctx.author.id, "lastfm")
        intro = "You're already linked; linking again replaces it.\n\n" if before else ""
        embed = discord.Embed(title="Link your Last.fm", colour=LASTFM_RED, description=intro + WHAT_WE_KEEP.format(
            name="Last.fm", source="lastfm", secret=" Last.fm gives me a key to read your listening; I keep it "
            "encrypted and never show it to anyone."))
        embed.set_footer(text="The button works once and for 10 minutes. Only you can see this message.")
        view = link_view("Link Last.fm", url)
        since = (before or {}).get("linked_at") or 0.0
        if ctx.interaction is None and ctx.guild is not None:
            try:  # a prefix command answers in the channel: keep the personal link out of it
                message = await ctx.author.send(embed=embed, view=view)
                await ctx.reply(embed=message_embed("I've sent you a private message with your link."),
                                mention_author=False)
            except discord.Forbidden:
                await ctx.reply(embed=error_embed("I can't send you direct messages. Use `/link lastfm` instead."),
                                mention_author=False)
                return
        else:
            message = await self.send(ctx, embed=embed, view=view, private=True)
        self.bot.spawn(self._await_lastfm(message, ctx.author.id, since))  # the same message then shows the progress

    @link.command(name="listenbrainz", description="Link your ListenBrainz account (a private form for your token)")
    async def link_listenbrainz(self, ctx: commands.Context) -> None:
        """Link ListenBrainz: opens a private form for your user token."""
        if ctx.interaction is None:
            await ctx.reply(embed=message_embed("Use the slash command `/link listenbrainz`: it opens a private "
                                                "form for your token, so nobody else sees it."), mention_author=False)
            return
        await ctx.interaction.response.send_modal(ListenBrainzForm(self))

    @commands.hybrid_group(name="unlink", description="Unlink Last.fm or ListenBrainz", invoke_without_command=True)
    async def unlink(self, ctx: commands.Context) -> None:
        """Unlink Last.fm or ListenBrainz: `unlink lastfm` or `unlink listenbrainz`."""
        await self.send(ctx, embed=message_embed("Use `/unlink lastfm` or `/unlink listenbrainz`."), private=True)

    @unlink.command(name="lastfm", description="Unlink your Last.fm account")
    async def unlink_lastfm(self, ctx: commands.Context) -> None:
        await self._unlink(ctx, "lastfm", "Last.fm", " and I've deleted the key Last.fm gave me")

    @unlink.command(name="listenbrainz", description="Unlink your ListenBrainz account")
    async def unlink_listenbrainz(self, ctx: commands.Context) -> None:
        await self._unlink(ctx, "listenbrainz", "ListenBrainz", "")

    async def _unlink(self, ctx: commands.Context, source: str, name: str, secret: str) -> None:
        await self.begin(ctx, private=True)
        sources = self.services.sources
        removed = sources is not None and await sources.unlink(ctx.author.id, source)
        text = UNLINKED.format(name=name, secret=secret) if removed else f"You have no {name} account linked."
        await self.send(ctx, embed=message_embed(text, title="Unlinked" if removed else None), private=True)

    # -- the reply that follows the history --------------------------------------------------------------

    def progress_embed(self, title: str, head: str, text: str) -> discord.Embed:
        return discord.Embed(title=title, colour=SPOTIFY_GREEN, description=f"{head}\n\n{text}")

    def follow(self, message: discord.Message, discord_id: int, source: str, title: str, head: str) -> None:
        self.bot.spawn(self._follow(message, discord_id, source, title, head))

    async def _await_lastfm(self, message: discord.Message, discord_id: int, since: float) -> None:
        """Wait (as long as the button works) for the member to finish on Last.fm, then follow the history."""
        deadline = time.monotonic() + STATE_TTL_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)
            link = await self._link_now(discord_id, "lastfm")
            if link and link["linked_at"] > since:
                head = f"Linked as **{discord.utils.escape_markdown(link['account_name'])}**."
                await self._follow(message, discord_id, "lastfm", "Last.fm is linked!", head, view=discord.ui.View())
                return

    async def _follow(self, message: discord.Message, discord_id: int, source: str, title: str, head: str, *,
                      view: discord.ui.View | None = None) -> None:
        """Edit the member's reply with their history's progress until it is all in; when the reply can no longer
        be edited and the history is still coming, say so in it (the history service sends the message at the end)."""
        deadline = time.monotonic() + self.follow_for_seconds
        shown = None
        while True:
            link = await self._link_now(discord_id, source)
            if link is None:
                return
            text = describe_link(link).text
            if time.monotonic() >= deadline:
                if link["status"] == BACKFILL:
                    with contextlib.suppress(discord.HTTPException):
                        await message.edit(embed=self.progress_embed(title, head, text + LATER))
                return
            if text != shown:
                try:
                    kwargs = {"view": view} if view is not None else {}
                    await message.edit(embed=self.progress_embed(title, head, text), **kwargs)
                except discord.HTTPException:
                    return
                shown, view = text, None
            if link["status"] != BACKFILL:
                return
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)

    async def _link_now(self, discord_id: int, source: str) -> dict[str, Any] | None:
        """The link as stored. A database away for a moment is asked again a little later: a reply follows a
        history for up to 14 minutes, and one failed look must not stop it."""
        while True:
            try:
                return await self.bot.db.run(self.bot.db.source_link, discord_id, source)
            except Exception as error:
                if not is_temporary_failure(error):
                    raise
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Sources(bot))
