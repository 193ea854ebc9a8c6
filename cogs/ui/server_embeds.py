"""Embeds of server life: crowns, crown changes, who matches you best, and a year in music."""

from __future__ import annotations

import discord

from cogs.ui.format import DESCRIPTION_MAX, FIELD_VALUE_MAX, SPOTIFY_GREEN, TITLE_MAX, clip, fit_lines, plural, short
from utils.models import Crown, CrownChange, CrownCheck

CROWN = "\U0001f451"


def _embed(title: str, description: str | None = None, *, colour: int = SPOTIFY_GREEN) -> discord.Embed:
    return discord.Embed(title=clip(title, TITLE_MAX), description=clip(description, DESCRIPTION_MAX) if description
                         else None, colour=colour)


def _field(embed: discord.Embed, name: str, lines: list[str], *, inline: bool = False) -> None:
    embed.add_field(name=clip(name, 256), value=fit_lines(lines, FIELD_VALUE_MAX) or "\u2014", inline=inline)


def crown_change_line(change: CrownChange, names: dict[int, str]) -> str:
    """"Bob took the crown for Radiohead from Alice" (or "... for Radiohead" when nobody held it, or they are hidden)."""
    new = short(names.get(change.discord_id, "Someone"))
    line = f"**{new}** took the crown for **{short(change.artist_name)}**"
    if change.previous_id is not None:
        line += f" from **{short(names.get(change.previous_id, 'someone'))}**"
    return line


def crown_footer(check: CrownCheck) -> str:
    return f"{CROWN} The crown goes to whoever here plays an artist most, from {plural(check.threshold, 'play')}."


def member_crowns_embed(name: str, crowns: list[Crown], guild_name: str, threshold: int) -> discord.Embed:
    if not crowns:
        text = (f"{short(name)} holds no crowns in {short(guild_name)} yet. A crown goes to whoever plays an artist "
                f"most here, from {plural(threshold, 'play')}.")
        return _embed(f"{CROWN} {short(name)}'s crowns", text)
    lines = [f"`{i:>2}.` **{short(c.artist_name)}** \u00b7 {plural(c.plays, 'play')}" for i, c in enumerate(crowns, 1)]
    embed = _embed(f"{CROWN} {short(name)}'s crowns in {short(guild_name)}", fit_lines(lines, DESCRIPTION_MAX))
    embed.set_footer(text=f"{plural(len(crowns), 'crown')} \u00b7 won by playing an artist most here, from "
                          f"{plural(threshold, 'play')}")
    return embed


def crown_board_embed(guild_name: str, board: list[tuple[int, int]], names: dict[int, str],
                      threshold: int) -> discord.Embed:
    medals = {1: "\U0001f947", 2: "\U0001f948", 3: "\U0001f949"}
    lines = [f"{medals.get(i, f'`{i:>2}.`')} **{short(names.get(member, 'someone'))}** \u00b7 {plural(count, 'crown')}"
             for i, (member, count) in enumerate(board, 1)]
    text = fit_lines(lines, DESCRIPTION_MAX) or (
        f"Nobody holds a crown here yet. A crown goes to whoever plays an artist most here, from "
        f"{plural(threshold, 'play')}.")
    embed = _embed(f"{CROWN} Crowns in {short(guild_name)}", text)
    embed.set_footer(text="Members who hid their listening hold no crowns.")
    return embed


def crown_changes_lines(changes: list[CrownChange], names: dict[int, str], limit: int = 5) -> list[str]:
    return [crown_change_line(change, names) for change in changes[:limit]]


def affinity_embed(name: str, guild_name: str, matches: list[tuple[int, int, list[str]]],
                   names: dict[int, str]) -> discord.Embed:
    """The members closest to a member's taste: score and the artists that tie them."""
    lines = []
    for i, (member, score, artists) in enumerate(matches, 1):
        tie = f" \u00b7 {', '.join(short(a, 40) for a in artists[:3])}" if artists else ""
        lines.append(f"`{i:>2}.` **{short(names.get(member, 'someone'))}** \u00b7 {score}% match{tie}")
    text = fit_lines(lines, DESCRIPTION_MAX) or (
        "Nobody else here shares their listening yet, so there's nobody to match you with.")
    embed = _embed(f"Who matches {short(name)} best in {short(guild_name)}", text)
    embed.set_footer(text="The same score as /taste. Members who hid their listening aren't counted.")
    return embed

