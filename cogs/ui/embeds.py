"""Embed builders shared by the cogs: one look for every list, profile and recommendation."""

from __future__ import annotations

import datetime as dt

import discord

from cogs.ui.format import (
    NEUTRAL,
    SOFT_RED,
    SPOTIFY_GREEN,
    chunks,
    escape,
    freshness,
    item_line,
    plural,
    range_label,
)
from utils.models import (
    BlendResult,
    Digest,
    ImportSummary,
    Item,
    PlaylistResult,
    Profile,
    Recommendation,
    RecommendationList,
    TasteMatch,
    WhoKnowsEntry,
)

PAGE_SIZE = 10


def _thumb(embed: discord.Embed, items: list[Item]) -> None:
    for item in items:
        if item.image_url:
            embed.set_thumbnail(url=item.image_url)
            return


def message_embed(text: str, *, title: str | None = None, ok: bool = True) -> discord.Embed:
    return discord.Embed(title=title, description=text, colour=SPOTIFY_GREEN if ok else SOFT_RED)


def error_embed(text: str) -> discord.Embed:
    return discord.Embed(description=text, colour=SOFT_RED)


def item_pages(title: str, items: list[Item], *, footer: str, show_plays: bool = True,
               intro: str | None = None, page_size: int = PAGE_SIZE) -> list[discord.Embed]:
    """A long list as pages of embeds, numbered across pages, with a thumbnail from the page's first cover."""
    pages = chunks(items, page_size)
    embeds = []
    for number, page in enumerate(pages, start=1):
        start = (number - 1) * page_size
        lines = [item_line(item, start + i + 1, show_plays=show_plays) for i, item in enumerate(page)]
        body = "\n".join(lines) or "Nothing here yet."
        embed = discord.Embed(title=title, description=f"{intro}\n\n{body}" if intro else body, colour=SPOTIFY_GREEN)
        _thumb(embed, page)
        page_note = f"Page {number} of {len(pages)} \u00b7 " if len(pages) > 1 else ""
        embed.set_footer(text=page_note + footer)
        embeds.append(embed)
    return embeds


def profile_embed(profile: Profile, *, avatar_url: str | None = None) -> discord.Embed:
    embed = discord.Embed(title=f"{escape(profile.display_name)}'s music", colour=SPOTIFY_GREEN,
                          description=f"**{range_label(profile.time_range)}**")
    if avatar_url:
        embed.set_author(name=profile.display_name, icon_url=avatar_url)
    artists = "\n".join(item_line(a, i, show_plays=False) for i, a in enumerate(profile.top_artists[:5], 1))
    tracks = "\n".join(item_line(t, i, show_plays=False) for i, t in enumerate(profile.top_tracks[:5], 1))
    embed.add_field(name="Top artists", value=artists or "None yet", inline=False)
    embed.add_field(name="Top tracks", value=tracks or "None yet", inline=False)
    if profile.genres:
        embed.add_field(name="Favourite styles", value=", ".join(profile.genres[:6]), inline=False)
    facts = [f"{profile.total_plays:,} plays stored"]
    if profile.imported_plays:
        facts.append(f"{profile.imported_plays:,} from an imported history")
    if profile.since:
        facts.append(f"listening since {dt.datetime.fromtimestamp(profile.since, dt.UTC):%B %Y}")
    embed.add_field(name="Listening", value=", ".join(facts), inline=False)
    _thumb(embed, profile.top_artists + profile.top_tracks)
    if not profile.linked:
        embed.add_field(name="Spotify", value="Not linked: these figures come from an imported history only.", inline=False)
    embed.set_footer(text=freshness(profile.synced_at))
    return embed


def recommendation_line(rec: Recommendation, position: int) -> str:
    return f"{item_line(rec.item, position, show_plays=False)}\n\u2003\u21b3 *{escape(rec.reason)}*"


def recommendations_embed(result: RecommendationList, *, title: str, footer: str) -> discord.Embed:
    lines = [recommendation_line(rec, i) for i, rec in enumerate(result.items, 1)]
    description = "\n".join(lines) or "No recommendations right now."
    if result.note:
        description = f"{escape(result.note)}\n\n{description}"
    embed = discord.Embed(title=title, description=description[:4000], colour=SPOTIFY_GREEN)
    _thumb(embed, [rec.item for rec in result.items])
    embed.set_footer(text=footer)
    return embed


def taste_embed(match: TasteMatch, a_name: str, b_name: str) -> discord.Embed:
    bar = "\u2588" * (match.score // 10) + "\u2591" * (10 - match.score // 10)
    embed = discord.Embed(title=f"{escape(a_name)} \u00d7 {escape(b_name)}",
                          description=f"**{match.score}% match**\n`{bar}`\n{escape(match.summary)}", colour=SPOTIFY_GREEN)
    if match.shared_artists:
        embed.add_field(name="Artists you share", inline=False,
                        value="\n".join(item_line(a, i, show_plays=False) for i, a in enumerate(match.shared_artists[:8], 1)))
    if match.shared_tracks:
        embed.add_field(name="Songs you share", inline=False,
                        value="\n".join(item_line(t, i, show_plays=False) for i, t in enumerate(match.shared_tracks[:8], 1)))
    _thumb(embed, match.shared_artists + match.shared_tracks)
    return embed


def whoknows_embed(artist: str, entries: list[WhoKnowsEntry], guild_name: str) -> discord.Embed:
    lines = []
    for i, entry in enumerate(entries, 1):
        medal = {1: "\U0001f947", 2: "\U0001f948", 3: "\U0001f949"}.get(i, f"`{i:>2}.`")
        detail = plural(entry.plays, "play") if entry.plays else ""
        if entry.best_rank:
            detail += (", " if detail else "") + f"#{entry.best_rank} in their top artists"
        lines.append(f"{medal} **{escape(entry.display_name)}** \u00b7 {detail}")
    description = "\n".join(lines) or f"Nobody here listens to {escape(artist)} yet, as far as I know."
    return discord.Embed(title=f"Who knows {escape(artist)} in {escape(guild_name)}?", description=description,
                         colour=SPOTIFY_GREEN)


BLEND_SHOWN = 20  # a blend's first songs on screen; the footer gives the full count, and saving keeps them all


def blend_embed(result: BlendResult, names: dict[int, str]) -> discord.Embed:
    members = ", ".join(escape(names.get(uid, "someone")) for uid in result.members)
    intro = f"A mix for {members}\n\n"
    lines: list[str] = []
    for i, (item, contributors) in enumerate(result.items[:BLEND_SHOWN], 1):
        who = ", ".join(escape(names.get(uid, "someone")) for uid in contributors)
        line = item_line(item, i, show_plays=False) + (f" \u00b7 *{who}*" if who else "")
        if len(intro) + sum(len(x) + 1 for x in lines) + len(line) > 4000:  # Discord's limit is 4096
            break
        lines.append(line)
    embed = discord.Embed(title="Blend", colour=SPOTIFY_GREEN,
                          description=intro + ("\n".join(lines) or "Nothing in common yet."))
    _thumb(embed, [item for item, _ in result.items])
    count = plural(len(result.items), "song")
    if len(lines) < len(result.items):
        count += f", showing the first {len(lines)}"
    embed.set_footer(text=f"{count} \u00b7 {result.method}")
    return embed


def playlist_embed(result: PlaylistResult) -> discord.Embed:
    text = f"Saved **[{escape(result.name)}]({result.url})** to your Spotify with {plural(result.track_count, 'song')}."
    if result.skipped_local:
        text += (f"\n{plural(result.skipped_local, 'song')} from your imported history had no Spotify match, "
                 "so I left them out.")
    return discord.Embed(title="Playlist saved", description=text, colour=SPOTIFY_GREEN, url=result.url)


def import_embed(summary: ImportSummary) -> discord.Embed:
    embed = discord.Embed(title="History imported", description=escape(summary.message), colour=SPOTIFY_GREEN)
    embed.add_field(name="New plays", value=f"{summary.plays_added:,}")
    embed.add_field(name="Already had", value=f"{summary.plays_already_there:,}")
    embed.add_field(name="Skipped (under 30 seconds)", value=f"{summary.skips:,}")
    if summary.first_played_at and summary.last_played_at:
        first = dt.datetime.fromtimestamp(summary.first_played_at, dt.UTC)
        last = dt.datetime.fromtimestamp(summary.last_played_at, dt.UTC)
        span = f"{first:%B %Y}" if (first.year, first.month) == (last.year, last.month) else f"{first:%B %Y} to {last:%B %Y}"
        embed.add_field(name="Covers", value=span, inline=False)
    embed.set_footer(text="Changed your mind? /import undo removes imported plays.")
    return embed


def digest_embed(digest: Digest, guild_name: str) -> discord.Embed:
    embed = discord.Embed(title=f"This week in {escape(guild_name)}", colour=SPOTIFY_GREEN,
                          description="What the server listened to over the last seven days.")
    for name, items in (("Top artists", digest.top_artists), ("Top tracks", digest.top_tracks),
                        ("On the rise", digest.risers)):
        if items:
            embed.add_field(name=name, inline=False,
                            value="\n".join(item_line(item, i) for i, item in enumerate(items[:5], 1)))
    if digest.recommendations:
        embed.add_field(name="Worth a listen", inline=False,
                        value="\n".join(item_line(r.item, i, show_plays=False)
                                        for i, r in enumerate(digest.recommendations[:5], 1)))
    _thumb(embed, digest.top_artists + digest.top_tracks)
    embed.set_footer(text="Members who hid themselves with /privacy visibility are not counted.")
    return embed


def info_embed(title: str, fields: dict[str, str], *, description: str | None = None) -> discord.Embed:
    embed = discord.Embed(title=title, description=description, colour=NEUTRAL)
    for name, value in fields.items():
        embed.add_field(name=name, value=value or "\u2014")
    return embed
