"""Views shared by the cogs: buttons only the invoker may press, pagination, confirmation, link buttons."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import discord

from cogs.errors import send_interaction_error
from cogs.ui.embeds import playlist_embed
from utils.logger import get_logger
from utils.models import PlaylistResult

log = get_logger("views")
VIEW_TIMEOUT = 180.0  # seconds a view stays usable (tests shorten it)
NOT_YOURS = "These buttons belong to the person who ran the command. Run it yourself to get your own."
ALREADY_SAVING = "I'm already saving this to your Spotify: the link will show up here in a moment."


class OwnedView(discord.ui.View):
    """A view only its owner can use; it greys itself out when it times out."""

    def __init__(self, owner_id: int, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout if timeout is not None else VIEW_TIMEOUT)
        self.owner_id = owner_id
        self.message: discord.Message | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    def disable_all(self) -> None:
        for child in self.children:
            if isinstance(child, discord.ui.Button | discord.ui.Select) and not getattr(child, "url", None):
                child.disabled = True

    async def on_timeout(self) -> None:
        self.disable_all()
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:
        await send_interaction_error(interaction, error, where=f"{type(self).__name__} {type(item).__name__}")


class Paginator(OwnedView):
    """First / Previous / Next / Last over a list of embeds."""

    def __init__(self, owner_id: int, pages: list[discord.Embed], *, timeout: float | None = None) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.pages = pages
        self.index = 0
        self._refresh_buttons()

    @property
    def needed(self) -> bool:
        return len(self.pages) > 1

    def _refresh_buttons(self) -> None:
        last = len(self.pages) - 1
        self.first.disabled = self.previous.disabled = self.index == 0
        self.next.disabled = self.last.disabled = self.index >= last

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._refresh_buttons()
        await interaction.response.edit_message(embed=self.pages[self.index], view=self)

    @discord.ui.button(label="First", emoji="\u23ee\ufe0f", style=discord.ButtonStyle.secondary)
    async def first(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, 0)

    @discord.ui.button(label="Previous", emoji="\u25c0\ufe0f", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next", emoji="\u25b6\ufe0f", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index + 1)

    @discord.ui.button(label="Last", emoji="\u23ed\ufe0f", style=discord.ButtonStyle.secondary)
    async def last(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, len(self.pages) - 1)


class ConfirmView(OwnedView):
    """Yes / Cancel; runs `on_confirm` once and reports its text in place of the question."""

    def __init__(self, owner_id: int, on_confirm: Callable[[], Awaitable[str]], *, confirm_label: str,
                 cancelled_text: str = "Cancelled: nothing was changed.", timeout: float = 120) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.on_confirm = on_confirm
        self.cancelled_text = cancelled_text
        self.confirm.label = confirm_label
        self.done = False

    @discord.ui.button(label="Yes", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.done = True
        self.disable_all()
        await interaction.response.defer()
        text = await self.on_confirm()
        self.stop()
        await interaction.edit_original_response(embed=discord.Embed(description=text, colour=0x1DB954), view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.done = True
        self.stop()
        await interaction.response.edit_message(embed=discord.Embed(description=self.cancelled_text), view=None)


class SaveOnce:
    """One "save to Spotify" button: saves at most once at a time, and once for good.

    The press is acknowledged by greying the button out ("Saving…") before any work, so a second press cannot
    start a second save; a press that still gets through (both sent at once) is told a save is under way. After
    success the button stays "Saved"; after a failure it comes back so the member can try again.
    """

    def __init__(self) -> None:
        self.running = False
        self.result: PlaylistResult | None = None

    async def press(self, interaction: discord.Interaction, button: discord.ui.Button,
                    save: Callable[[], Awaitable[PlaylistResult]]) -> None:
        if self.result is not None:
            await interaction.response.send_message(embed=playlist_embed(self.result), ephemeral=True,
                                                    view=link_view("Open in Spotify", self.result.url))
            return
        if self.running:
            await interaction.response.send_message(ALREADY_SAVING, ephemeral=True)
            return
        self.running = True
        label = button.label
        button.disabled, button.label = True, "Saving\u2026"
        try:
            await interaction.response.edit_message(view=button.view)
            result = await save()
        except BaseException:
            button.disabled, button.label = False, label
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(view=button.view)
            raise  # the view's on_error tells the member what happened
        finally:
            self.running = False
        self.result = result
        button.label = "Saved"
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(view=button.view)
        await interaction.followup.send(embed=playlist_embed(result), view=link_view("Open in Spotify", result.url),
                                        ephemeral=True)


def link_view(label: str, url: str, *, emoji: str | None = None) -> discord.ui.View:
    """A single link button (link buttons need no callback and never time out)."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label=label, url=url, emoji=emoji, style=discord.ButtonStyle.link))
    return view
