"""Embeds of server life: crowns, crown changes, who matches you best, and a year in music."""

from __future__ import annotations

import time

import discord

from cogs.ui.format import DESCRIPTION_MAX, FIELD_VALUE_MAX, SPOTIFY_GREEN, TITLE_MAX, clip, fit_lines, plural, short
from utils.community.recap import Recap
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
        "Nobody else here has artists or songs in common with you yet (members who hid their listening aren't "
        "counted). Try again after a few more members link Last.fm, ListenBrainz or Spotify (`/link lastfm`, "
        "`/link listenbrainz`, `/connect`) or import their history.")
    embed = _embed(f"Who matches {short(name)} best in {short(guild_name)}", text)
    embed.set_footer(text="The same score as /taste. Members who hid their listening aren't counted.")
    return embed



def recap_embed(recap: Recap, whose: str) -> discord.Embed:
    """A year in music: `whose` is "Alice's" or "Test Server's"."""
    lines = [f"**{recap.plays:,}** plays \u00b7 **{recap.minutes:,}** minutes of music"]
    if recap.listeners > 1:
        lines[0] += f" \u00b7 {plural(recap.listeners, 'listener')}"
    change = recap.change_percent
    if change is not None:
        more = "more" if change >= 0 else "less"
        lines.append(f"{abs(change)}% {more} listening than in {recap.year - 1} ({recap.previous_minutes:,} minutes)")
    elif not recap.previous_plays:
        lines.append(f"Nothing from {recap.year - 1} to compare with.")
    if recap.month_name:
        busiest = recap.monthly_plays[recap.busiest_month - 1] if recap.busiest_month else 0
        lines.append(f"Busiest month: **{recap.month_name}** ({plural(busiest, 'play')})")
    embed = _embed(f"{short(whose)} {recap.year} in music", "\n".join(lines))
    numbered = [(name, [f"`{i}.` {short(text, 80)} \u00b7 {plural(plays, 'play')}"
                        for i, (text, plays) in enumerate(rows, 1)])
                for name, rows in (
                    ("Top artists", [(a.name, a.plays or 0) for a in recap.top_artists]),
                    ("Top tracks", [(f"{t.name} \u2014 {t.artist_name or ''}", t.plays or 0) for t in recap.top_tracks]),
                    ("Top albums", [(f"{a.name} \u2014 {a.artist_name}", a.plays) for a in recap.top_albums]))]
    for name, rows in numbered:
        if rows:
            _field(embed, name, rows)
    if recap.new_artists:
        _field(embed, f"First heard in {recap.year} ({recap.new_artist_count:,} new artists)",
               [f"{short(a.name, 80)} \u00b7 {plural(a.plays or 0, 'play')}" for a in recap.new_artists])
    if recap.on_repeat:
        _field(embed, "On repeat", [f"{short(r.item.name, 60)} \u2014 {r.plays} times on "
                                    f"{time.strftime('%-d %b', time.gmtime(r.day_ms / 1000))}"
                                    for r in recap.on_repeat])
    embed.set_footer(text="Counted from synced and imported plays (UTC), skips left out. A song whose length "
                          "isn't known counts as 3\u00bd minutes.")
    return embed
