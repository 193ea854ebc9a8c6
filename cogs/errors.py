"""One place that turns every error into plain words: prefix commands, slash commands, buttons and menus.

Unexpected errors are logged with a short id that the member sees, so the owner can find the trace.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs.ui.embeds import error_embed
from database import DatabaseBusy, DatabaseUnavailable
from utils.errors import BotError, LinkBroken, NotAllowlisted, NotEnoughData, NotLinked, describe_wait
from utils.logger import get_logger

if TYPE_CHECKING:
    from bot import MusicBot

log = get_logger("errors")

_PERMISSION_NAMES = {"manage_guild": "Manage Server", "administrator": "Administrator",
                     "manage_channels": "Manage Channels", "send_messages": "Send Messages",
                     "embed_links": "Embed Links", "attach_files": "Attach Files"}

# What a missing option is, in the words a member would use (each with its own "a"/"an"), by option name.
_ARGUMENT_WORDS = {
    "artist": "an artist name",
    "member": "a member (mention them, like @name)",
    "member1": "a member to blend with (mention them, like @name)",
    "state": "a choice: on or off",
    "cog": "the name of a part of the bot, like music",
}


class Refusal(commands.CheckFailure):
    """A check that says no in plain words (the text is shown to the member as it is)."""

    # Recognised by this mark, not by class: after `/reload errors` the other cogs still raise the class they
    # imported before, which is no longer this one.
    plain_refusal = True


def _unwrap(error: BaseException) -> BaseException:
    """Dig the real cause out of the wrappers discord.py puts around it."""
    for _ in range(5):
        if isinstance(error, commands.HybridCommandError | commands.CommandInvokeError | app_commands.CommandInvokeError):
            error = error.original
        elif isinstance(error, app_commands.TransformerError | commands.ConversionError) and error.__cause__:
            error = error.__cause__
        else:
            break
    return error


def _permissions(names: list[str]) -> str:
    return ", ".join(_PERMISSION_NAMES.get(n, n.replace("_", " ").title()) for n in names)


def _missing(name: str) -> str:
    """Which option is missing, as a sentence; unknown names get a wording that needs no "a" or "an"."""
    words = _ARGUMENT_WORDS.get(name)
    if words is None:
        return f"That command is missing something it needs: {name.replace('_', ' ')}."
    return f"That command needs {words}."


def describe(error: BaseException, *, usage: str | None = None) -> tuple[str | None, bool]:
    """(what to tell the member, whether it was unexpected). None means say nothing."""
    error = _unwrap(error)
    if isinstance(error, BotError):
        return error.user_message, False
    if getattr(error, "plain_refusal", False):
        return str(error), False
    if isinstance(error, commands.CommandNotFound):
        return None, False
    if isinstance(error, commands.MissingRequiredArgument | commands.MissingRequiredAttachment):
        hint = f" Try: `{usage}`" if usage else ""
        return f"{_missing(error.param.name)}{hint}", False
    if isinstance(error, commands.MemberNotFound | commands.UserNotFound):
        return "I couldn't find that member in this server. Mention them, like @name.", False
    if isinstance(error, commands.ChannelNotFound):
        return "I couldn't find that channel. Mention it, like #general.", False
    if isinstance(error, commands.BadLiteralArgument):
        options = ", ".join(f"`{o}`" for o in error.literals)
        return f"That isn't one of the options. Pick one of: {options}.", False
    if isinstance(error, commands.RangeError):
        if isinstance(error.value, str):
            return f"That's too long or too short: use {error.minimum} to {error.maximum} characters.", False
        return f"Pick a number from {error.minimum} to {error.maximum}.", False
    if isinstance(error, commands.BadArgument):
        message = str(error)
        plain = message if message and "Converting to" not in message and '"' not in message[:1] else ""
        return plain or "I couldn't understand one of the options. Please check it and try again.", False
    if isinstance(error, commands.UserInputError):
        hint = f" Try: `{usage}`" if usage else ""
        return f"I couldn't understand that.{hint}", False
    if isinstance(error, commands.CommandOnCooldown | app_commands.CommandOnCooldown):
        return f"Easy there! You can use this again in {describe_wait(error.retry_after)}.", False
    if isinstance(error, commands.MaxConcurrencyReached):
        return "I'm already working on that for you. Give it a moment.", False
    if isinstance(error, commands.NotOwner):
        return "Only the bot's owner can do that.", False
    if isinstance(error, commands.MissingPermissions | app_commands.MissingPermissions):
        return f"You need the {_permissions(error.missing_permissions)} permission in this server to do that.", False
    if isinstance(error, commands.BotMissingPermissions | app_commands.BotMissingPermissions):
        return (f"I'm missing the {_permissions(error.missing_permissions)} permission here. "
                "Ask a server admin to give it to me."), False
    if isinstance(error, commands.NoPrivateMessage | app_commands.NoPrivateMessage):
        return "That only works inside a server, not in direct messages.", False
    if isinstance(error, commands.DisabledCommand):
        return "That command is switched off right now.", False
    if isinstance(error, commands.CheckFailure | app_commands.CheckFailure):
        return "You can't use that command here.", False
    if isinstance(error, DatabaseUnavailable) and not isinstance(error, DatabaseBusy):
        log.warning("The database server couldn't be reached or stayed busy; the member was asked to try again")
        return "I can't reach my storage right now. Please try again in a moment.", False
    if _database_busy(error):
        log.warning("The database stayed busy past its wait; the member was asked to try again")
        return "I'm very busy right now. Please try again in a moment.", False
    return None, True


def _refused_before_any_work(error: BaseException) -> bool:
    """Turned away before doing anything: a bad option, a check, a plain refusal, not linked yet.

    Failures after the work started (Spotify down half-way, a reply Discord refused) keep the cooldown, or
    retrying at once would repeat the work and the Spotify calls the cooldown exists to space out.
    """
    original = _unwrap(error)
    if isinstance(original, commands.CommandOnCooldown):
        return False
    if isinstance(original, commands.UserInputError | commands.CheckFailure) or getattr(original, "plain_refusal", False):
        return True
    return isinstance(original, NotLinked | LinkBroken | NotAllowlisted | NotEnoughData)


def _database_busy(error: BaseException) -> bool:
    """The database gave up waiting for another writer (SQLite's busy timeout, PostgreSQL's lock timeout)."""
    text = str(error).lower()
    sqlite_busy = isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)
    return sqlite_busy or isinstance(error, DatabaseBusy)


def new_error_id() -> str:
    return secrets.token_hex(3)


def unexpected_text(error_id: str) -> str:
    return f"Something went wrong on my side (error id {error_id}). Please try again in a moment."


async def send_interaction_error(interaction: discord.Interaction, error: BaseException, *, where: str) -> None:
    """Answer a failed interaction, whether or not it was already acknowledged."""
    text, unexpected = describe(error)
    if unexpected:
        error_id = new_error_id()
        log.error("Unexpected error %s in %s", error_id, where, exc_info=_unwrap(error))
        text = unexpected_text(error_id)
    if text is None:
        return
    try:
        if interaction.response.is_done():
            await interaction.followup.send(embed=error_embed(text), ephemeral=True)
        else:
            await interaction.response.send_message(embed=error_embed(text), ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not tell the member about an error in %s", where)


class Errors(commands.Cog):
    """Owns on_command_error and the tree's on_error."""

    def __init__(self, bot: MusicBot) -> None:
        self.bot = bot
        self._old_tree_error = bot.tree.on_error

    async def cog_load(self) -> None:
        self.bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._old_tree_error  # type: ignore[method-assign]

    @commands.Cog.listener()
    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        if ctx.command is not None and ctx.command.has_error_handler():
            return
        usage = f"{ctx.clean_prefix}{ctx.command.qualified_name} {ctx.command.signature}".strip() if ctx.command else None
        text, unexpected = describe(error, usage=usage)
        if ctx.command is not None and _refused_before_any_work(error):
            ctx.command.reset_cooldown(ctx)  # a refused try should not make the member wait to retry
        if unexpected:
            error_id = new_error_id()
            name = ctx.command.qualified_name if ctx.command else "?"
            log.error("Unexpected error %s in command %s", error_id, name, exc_info=_unwrap(error))
            text = unexpected_text(error_id)
        if text is None:
            return
        try:
            await ctx.send(embed=error_embed(text), ephemeral=True)
        except discord.HTTPException:
            log.warning("Could not tell the member about an error in a command")

    async def on_app_command_error(self, interaction: discord.Interaction,
                                   error: app_commands.AppCommandError) -> None:
        name = interaction.command.qualified_name if interaction.command else "?"
        await send_interaction_error(interaction, error, where=f"app command {name}")


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Errors(bot))
