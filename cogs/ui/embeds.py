"""Embed builders shared by the cogs: one look for every list, profile and recommendation."""

from __future__ import annotations

import datetime as dt

import discord

from cogs.ui.format import (
    AUTHOR_MAX,
    DESCRIPTION_MAX,
    FIELD_VALUE_MAX,
    FOOTER_MAX,
    NEUTRAL,
    SOFT_RED,
    SPOTIFY_GREEN,
    TITLE_MAX,
    chunks,
    clip,
    escape,
    fit_lines,
    freshness,
    item_line,
    plural,
    range_label,
    short,
)
from cogs.ui.server_embeds import CROWN, crown_change_line, crown_changes_lines, crown_footer
from utils.models import (
    BlendResult,
    CrownCheck,
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


def _embed(title: str | None = None, description: str | None = None, *, colour: int = SPOTIFY_GREEN,
           url: str | None = None) -> discord.Embed:
    """An embed whose title and description fit Discord's limits (cut with an ellipsis), so it is never refused."""
    return discord.Embed(title=clip(title, TITLE_MAX) if title else None,
                         description=clip(description, DESCRIPTION_MAX) if description else None, colour=colour, url=url)


def _field(embed: discord.Embed, name: str, lines: list[str], *, inline: bool = False) -> None:
    """A field of whole list lines, as many as fit in Discord's 1024 characters."""
    embed.add_field(name=name, value=fit_lines(lines, FIELD_VALUE_MAX) or "\u2014", inline=inline)


def _footer(embed: discord.Embed, text: str) -> None:
    embed.set_footer(text=clip(text, FOOTER_MAX))


def _thumb(embed: discord.Embed, items: list[Item]) -> None:
    for item in items:
        if item.image_url:
            embed.set_thumbnail(url=item.image_url)
            return


def message_embed(text: str, *, title: str | None = None, ok: bool = True) -> discord.Embed:
    return _embed(title, text, colour=SPOTIFY_GREEN if ok else SOFT_RED)


def error_embed(text: str) -> discord.Embed:
    return _embed(None, text, colour=SOFT_RED)


def item_pages(title: str, items: list[Item], *, footer: str, show_plays: bool = True,
               intro: str | None = None, page_size: int = PAGE_SIZE) -> list[discord.Embed]:
    """A long list as pages of embeds, numbered across pages, with a thumbnail from the page's first cover."""
    pages = chunks(items, page_size)
    embeds = []
    for number, page in enumerate(pages, start=1):
        start = (number - 1) * page_size
        lines = [item_line(item, start + i + 1, show_plays=show_plays) for i, item in enumerate(page)]
        head = f"{intro}\n\n" if intro else ""
        body = fit_lines(lines, DESCRIPTION_MAX - len(head)) or "Nothing here yet."
        embed = _embed(title, head + body)
        _thumb(embed, page)
        page_note = f"Page {number} of {len(pages)} \u00b7 " if len(pages) > 1 else ""
        _footer(embed, page_note + footer)
        embeds.append(embed)
    return embeds


def recent_pages(plays: list[tuple[Item, int]], *, footer: str, page_size: int = PAGE_SIZE) -> list[discord.Embed]:
    """Recently played songs, newest first, each with when it was played, as pages of embeds."""
    groups = chunks(plays, page_size)
    pages = []
    for number, group in enumerate(groups, 1):
        lines = []
        for i, (item, played_at_ms) in enumerate(group, (number - 1) * page_size + 1):
            title = f"[{short(item.name)}]({item.url})" if item.url else f"**{short(item.name)}**"
            artist = f" \u2014 {short(item.artist_name)}" if item.artist_name else ""
            lines.append(f"`{i:>2}.` {title}{artist} \u00b7 <t:{played_at_ms // 1000}:R>")
        embed = _embed("Recently played", fit_lines(lines, DESCRIPTION_MAX))
        cover = next((item.image_url for item, _ in group if item.image_url), None)
        if cover:
            embed.set_thumbnail(url=cover)
        _footer(embed, (f"Page {number} of {len(groups)} \u00b7 " if len(groups) > 1 else "") + footer)
        pages.append(embed)
    return pages


def profile_embed(profile: Profile, *, avatar_url: str | None = None) -> discord.Embed:
    embed = _embed(f"{short(profile.display_name)}'s music", f"**{range_label(profile.time_range)}**")
    if avatar_url:
        embed.set_author(name=clip(profile.display_name, AUTHOR_MAX), icon_url=avatar_url)
    artists = [item_line(a, i, show_plays=False) for i, a in enumerate(profile.top_artists[:5], 1)]
    tracks = [item_line(t, i, show_plays=False) for i, t in enumerate(profile.top_tracks[:5], 1)]
    _field(embed, "Top artists", artists or ["None yet"])
    _field(embed, "Top tracks", tracks or ["None yet"])
    if profile.genres:
        embed.add_field(name="Favourite styles", value=clip(", ".join(profile.genres[:6]), FIELD_VALUE_MAX), inline=False)
    facts = [f"{profile.total_plays:,} plays stored"]
    if profile.imported_plays:
        facts.append(f"{profile.imported_plays:,} from an imported history")
    if profile.since:
        facts.append(f"listening since {dt.datetime.fromtimestamp(profile.since, dt.UTC):%B %Y}")
    embed.add_field(name="Listening", value=", ".join(facts), inline=False)
    _thumb(embed, profile.top_artists + profile.top_tracks)
    if profile.sources:
        embed.add_field(name="Also from", value=clip("\n".join(profile.sources), FIELD_VALUE_MAX), inline=False)
    if not profile.linked:
        where = "the sources above" if profile.sources else "an imported history only"
        embed.add_field(name="Spotify", value=f"Not linked: these figures come from {where}.", inline=False)
    _footer(embed, freshness(profile.synced_at))
    return embed


def recommendation_line(rec: Recommendation, position: int) -> str:
    return f"{item_line(rec.item, position, show_plays=False)}\n\u2003\u21b3 *{short(rec.reason, 300)}*"


def recommendations_embed(result: RecommendationList, *, title: str, footer: str) -> discord.Embed:
    lines = [recommendation_line(rec, i) for i, rec in enumerate(result.items, 1)]
    head = f"{short(result.note, 1000)}\n\n" if result.note else ""
    description = head + (fit_lines(lines, DESCRIPTION_MAX - len(head)) or "No recommendations right now.")
    embed = _embed(title, description)
    _thumb(embed, [rec.item for rec in result.items])
    _footer(embed, footer)
    return embed


def taste_embed(match: TasteMatch, a_name: str, b_name: str) -> discord.Embed:
    bar = "\u2588" * (match.score // 10) + "\u2591" * (10 - match.score // 10)
    embed = _embed(f"{short(a_name)} \u00d7 {short(b_name)}",
                   f"**{match.score}% match**\n`{bar}`\n{escape(match.summary)}")
    if match.shared_artists:
        _field(embed, "Artists you share", [item_line(a, i, show_plays=False) for i, a in enumerate(match.shared_artists[:8], 1)])
    if match.shared_tracks:
        _field(embed, "Songs you share", [item_line(t, i, show_plays=False) for i, t in enumerate(match.shared_tracks[:8], 1)])
    _thumb(embed, match.shared_artists + match.shared_tracks)
    return embed


def whoknows_embed(artist: str, entries: list[WhoKnowsEntry], guild_name: str, crown: CrownCheck | None = None,
                   names: dict[int, str] | None = None) -> discord.Embed:
    """Who plays an artist here; with crowns on, the holder's crown and, when it just moved, who took it from whom."""
    lines = []
    holder = crown.holder_id if crown else None
    for i, entry in enumerate(entries, 1):
        medal = {1: "\U0001f947", 2: "\U0001f948", 3: "\U0001f949"}.get(i, f"`{i:>2}.`")
        detail = plural(entry.plays, "play") if entry.plays else ""
        if entry.best_rank:
            detail += (", " if detail else "") + f"#{entry.best_rank} in their top artists"
        mark = f" {CROWN}" if entry.discord_id == holder else ""
        lines.append(f"{medal} **{short(entry.display_name)}**{mark} \u00b7 {detail}")
    description = fit_lines(lines, DESCRIPTION_MAX) or f"Nobody here listens to {short(artist)} yet, as far as I know."
    if crown is not None and crown.change is not None and lines:
        description = f"{CROWN} {crown_change_line(crown.change, names or {})}!\n\n{description}"
    # The artist is what a member typed (or an imported name); both names are cut so the title fits in 256.
    embed = _embed(f"Who knows {short(artist, 120)} in {short(guild_name)}?", description)
    if crown is not None and lines:
        _footer(embed, crown_footer(crown))
    return embed


BLEND_SHOWN = 20  # a blend's first songs on screen; the footer gives the full count, and saving keeps them all


def blend_embed(result: BlendResult, names: dict[int, str]) -> discord.Embed:
    members = ", ".join(short(names.get(uid, "someone")) for uid in result.members)
    intro = f"A mix for {members}\n\n"
    lines: list[str] = []
    for i, (item, contributors) in enumerate(result.items[:BLEND_SHOWN], 1):
        who = ", ".join(short(names.get(uid, "someone")) for uid in contributors)
        line = item_line(item, i, show_plays=False) + (f" \u00b7 *{who}*" if who else "")
        if len(intro) + sum(len(x) + 1 for x in lines) + len(line) > 4000:  # Discord's limit is 4096
            break
        lines.append(line)
    embed = _embed("Blend", intro + ("\n".join(lines) or "Nothing in common yet."))
    _thumb(embed, [item for item, _ in result.items])
    count = plural(len(result.items), "song")
    if len(lines) < len(result.items):
        count += f", showing the first {len(lines)}"
    _footer(embed, f"{count} \u00b7 {result.method}")
    return embed


def playlist_embed(result: PlaylistResult) -> discord.Embed:
    text = f"Saved **[{short(result.name)}]({result.url})** to your Spotify with {plural(result.track_count, 'song')}."
    if result.skipped_local:
        text += (f"\n{plural(result.skipped_local, 'song')} I couldn't find on Spotify (known only from Last.fm, "
                 "ListenBrainz or an imported history), so I left "
                 f"{'it' if result.skipped_local == 1 else 'them'} out.")
    return _embed("Playlist saved", text, url=result.url)


def import_embed(summary: ImportSummary) -> discord.Embed:
    embed = _embed("History imported", escape(summary.message))
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


def digest_embed(digest: Digest, guild_name: str, names: dict[int, str] | None = None) -> discord.Embed:
    embed = _embed(f"This week in {short(guild_name)}", "What the server listened to over the last seven days.")
    for name, items in (("Top artists", digest.top_artists), ("Top tracks", digest.top_tracks),
                        ("On the rise", digest.risers)):
        if items:
            _field(embed, name, [item_line(item, i) for i, item in enumerate(items[:5], 1)])
    if digest.crown_changes:
        _field(embed, f"{CROWN} Crowns that changed hands", crown_changes_lines(digest.crown_changes, names or {}))
    if digest.recommendations:
        _field(embed, "Worth a listen",
               [item_line(r.item, i, show_plays=False) for i, r in enumerate(digest.recommendations[:5], 1)])
    _thumb(embed, digest.top_artists + digest.top_tracks)
    embed.set_footer(text="Members who hid themselves with /privacy visibility are not counted.")
    return embed


def info_embed(title: str, fields: dict[str, str], *, description: str | None = None) -> discord.Embed:
    embed = _embed(title, description, colour=NEUTRAL)
    for name, value in fields.items():
        embed.add_field(name=clip(name, 256), value=clip(value, FIELD_VALUE_MAX) or "\u2014")
    return embed
