"""Views for personal commands: the profile's time-range select and the recommendation buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from cogs.ui.embeds import profile_embed
from cogs.ui.format import range_label
from cogs.ui.views import OwnedView, SaveOnce
from utils.models import Profile, RecommendationList


class RangeSelect(discord.ui.Select["ProfileView"]):
    def __init__(self, current: str, ranges: list[str]) -> None:
        options = [discord.SelectOption(label=range_label(r), value=r, default=r == current) for r in ranges[:25]]
        super().__init__(placeholder="Choose a time range", options=options, min_values=1, max_values=1)

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.switch(interaction, self.values[0])


class ProfileView(OwnedView):
    """A profile whose time range switches in place."""

    def __init__(self, owner_id: int, current: str, ranges: list[str], load: Callable[[str], Awaitable[Profile]],
                 avatar_url: str | None) -> None:
        super().__init__(owner_id)
        self.load = load
        self.avatar_url = avatar_url
        self.select = RangeSelect(current, ranges)
        self.add_item(self.select)

    async def switch(self, interaction: discord.Interaction, time_range: str) -> None:
        await interaction.response.defer()
        profile = await self.load(time_range)
        for option in self.select.options:
            option.default = option.value == time_range
        await interaction.edit_original_response(embed=profile_embed(profile, avatar_url=self.avatar_url), view=self)


class PickSelect(discord.ui.Select["RecommendView"]):
    def __init__(self, result: RecommendationList) -> None:
        options = []
        for i, rec in enumerate(result.items[:25]):
            options.append(discord.SelectOption(label=f"{i + 1}. {rec.item.label}"[:100], value=str(i),
                                                description=rec.reason[:100] or None, default=i == 0))
        super().__init__(placeholder="Pick a song to rate", options=options, row=0)

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        self.view.selected = int(self.values[0])
        for option in self.options:
            option.default = option.value == self.values[0]
        rec = self.view.result.items[self.view.selected]
        await interaction.response.send_message(
            f"Selected **{discord.utils.escape_markdown(rec.item.label)}**: now press Like or Not for me.", ephemeral=True)


class RecommendView(OwnedView):
    """Rate a recommendation (like / not for me) or save the whole list as a playlist."""

    def __init__(self, owner_id: int, result: RecommendationList, services: Any, *, playlists: bool = True) -> None:
        super().__init__(owner_id, timeout=600)
        self.result = result
        self.services = services  # bot.Services: music for feedback, playlists for saving
        self.selected = 0
        self._save = SaveOnce()
        if result.items:
            self.add_item(PickSelect(result))
        if not playlists:
            self.remove_item(self.save)

    async def _rate(self, interaction: discord.Interaction, value: int) -> None:
        rec = self.result.items[self.selected]
        # Answer Discord first: the write may wait on a busy database for seconds, longer than Discord waits.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.services.music.feedback(self.owner_id, rec.item.key, rec.item.kind, value)
        name = discord.utils.escape_markdown(rec.item.label)
        text = (f"Noted: you like **{name}**. I'll find more like it." if value > 0 else
                f"Noted: **{name}** is not for you. I'll steer away from it.")
        await interaction.followup.send(text, ephemeral=True)

    @discord.ui.button(label="Like", emoji="\U0001f44d", style=discord.ButtonStyle.success, row=1)
    async def like(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._rate(interaction, 1)

    @discord.ui.button(label="Not for me", emoji="\U0001f44e", style=discord.ButtonStyle.secondary, row=1)
    async def dislike(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._rate(interaction, -1)

    @discord.ui.button(label="Save as playlist", emoji="\U0001f4be", style=discord.ButtonStyle.primary, row=1)
    async def save(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        # exactly the songs on this message, not whatever /recommend made last
        await self._save.press(interaction, button,
                               lambda: self.services.playlists.save_recommendations(self.owner_id, self.result.items))
