"""Server features over stored listening: server top, who knows, taste match, blend, digest.

Blocking functions (the music service runs them in worker threads). Every one works on the guild's
VISIBLE members only (`db.visible_members`): a hidden member is never shown, counted or named here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from database import TIME_RANGES, Database
from storage.keys import artist_key
from utils.community import affinity
from utils.engine.group import blend as engine_blend
from utils.errors import BotError
from utils.listening.periods import check_time_range, window_ms
from utils.listening.reads import (
    interaction_weights,
    items_for_keys,
    kind_of,
    rank_weight,
    ranked_counts,
)
from utils.models import BlendResult, Item, TasteMatch, WhoKnowsEntry

WEEK_MS = 7 * 86_400_000
# What engine.group.blend does, in plain words: members take turns, and on a member's turn the song from
# their own favourites that the whole group likes best goes in, so songs several members share come first.
BLEND_METHOD = ("Everyone takes turns: each turn adds the song from that member's favourites the whole group "
                "likes best, so songs you share come first.")


def server_top(db: Database, members: Sequence[int], kind: str, time_range: str, limit: int, now: float) -> list[Item]:
    """What the members play most, in the order of the numbers each line shows.

    Ranked by listeners (a server favourite, not one member's loop), then plays in the window; places in
    members' Spotify top lists for that range only break ties, since a member cannot see them on the line.
    A member with the item in their top list counts as a listener even without plays stored in the window.
    """
    kind = kind_of(kind)
    time_range = check_time_range(time_range)
    if not members:
        return []
    since, until = window_ms(time_range, now)
    rows = db.play_counts(list(members), kind, since_ms=since, until_ms=until)
    counts = ranked_counts(rows, kind)
    plays: dict[str, int] = {key: int(entry["plays"]) for key, entry in counts.items()}
    places: dict[str, float] = defaultdict(float)
    listeners: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        listeners[row["key"] if kind == "tracks" else artist_key(row["key"])].add(row["discord_id"])
    if time_range in TIME_RANGES:
        for row in db.top_rows(list(members), kind):
            if row["time_range"] == time_range:
                places[row["key"]] += rank_weight(row["rank"])
                listeners[row["key"]].add(row["discord_id"])
    keys = set(plays) | set(places)
    ranked = sorted(keys, key=lambda k: (-len(listeners[k]), -plays.get(k, 0), -places[k], k))[:limit]
    extras = {k: {"plays": plays.get(k, 0), "listeners": len(listeners[k]), "rank": r}
              for r, k in enumerate(ranked, start=1)}
    return items_for_keys(db, ranked, kind, extras)


def server_top_order(time_range: str) -> str:
    """How `server_top` ranks, in the words a chart's footer shows."""
    words = "Ranked by how many members listen, then by plays"
    if time_range in TIME_RANGES:  # only Spotify's own periods have top lists to break ties with
        words += ", then by places in their Spotify top lists"
    return words + "."


def whoknows(db: Database, guild_id: int, artist: str, limit: int = 15) -> tuple[str, list[WhoKnowsEntry]]:
    key = artist_key(artist)
    rows = db.whoknows(guild_id, artist, limit)  # already only visible members of the guild
    known = db.artists_by_key([key]).get(key)
    name = known["name"] if known else artist.strip()
    names = db.display_names([r["discord_id"] for r in rows])
    return name, [WhoKnowsEntry(r["discord_id"], names.get(r["discord_id"], f"member {r['discord_id']}"),
                                int(r["plays"]), r["best_rank"]) for r in rows]


def taste(db: Database, a_id: int, b_id: int, now: float) -> TasteMatch:
    """A symmetric 0-100 match on artists (most of the score) and tracks, with what they share."""
    if a_id == b_id:
        raise BotError("Pick someone other than yourself to compare tastes with.")
    both = affinity.tastes(db, [a_id, b_id], now)
    return taste_of(db, a_id, b_id, both[a_id], both[b_id])


def taste_of(db: Database, a_id: int, b_id: int, a: affinity.MemberTaste, b: affinity.MemberTaste) -> TasteMatch:
    """`taste` from prepared profiles (those /affinity ranks by, so the two agree)."""
    if a.empty or b.empty:
        raise BotError("One of you has no listening data here yet: link Last.fm, ListenBrainz or Spotify "
                       "(`/link lastfm`, `/link listenbrainz`, `/connect`) or bring in your history with "
                       "`/import file` first.")
    found = affinity.taste_between(a, b)  # the score /affinity ranks by
    score = found.score
    names = db.display_names([a_id, b_id])
    artist_items = items_for_keys(db, found.artists[:10], "artists")
    track_items = items_for_keys(db, found.tracks[:10], "tracks")
    return TasteMatch(score, artist_items, track_items, _taste_summary(score, names[a_id], names[b_id], artist_items))


def _taste_summary(score: int, a: str, b: str, shared: list[Item]) -> str:
    if score >= 80:
        words = "have remarkably similar taste"
    elif score >= 55:
        words = "have a lot in common"
    elif score >= 30:
        words = "share some common ground"
    elif score > 0:
        words = "have quite different taste, with a little overlap"
    else:
        words = "don't share any artists yet"
    tail = f" Both of you love {', '.join(i.name for i in shared[:3])}." if shared else ""
    # the score itself is shown above the summary ("82% match"): not repeated here
    return f"{a} and {b} {words}.{tail}"


def blend(db: Database, members: Sequence[int], size: int, now: float) -> BlendResult:
    """A fair shared list: each member's favourite tracks, taken in turns (see engine.group.blend)."""
    weights = interaction_weights(db, list(members), "tracks", now)
    prefs = {m: [k for k, _ in sorted(weights.get(m, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:100]]
             for m in members if weights.get(m)}
    if len(prefs) < 2:
        raise BotError("A blend needs at least two members with listening data here.")
    picks = engine_blend(prefs, size)
    items = items_for_keys(db, [str(item) for item, _ in picks], "tracks")
    return BlendResult([(item, [int(m) for m in who]) for item, (_, who) in zip(items, picks, strict=True)],
                       list(prefs), BLEND_METHOD)


def blend_playlist_name(member_names: Sequence[str], day: str) -> str:
    """"Blend: Alice, Bob, Carol · 26 Nov 2026": whose blend it is, dated like the other saved playlists."""
    return f"Blend: {', '.join(member_names)} \u00b7 {day}"


def week_counts(db: Database, members: Sequence[int], kind: str, now: float) -> tuple[dict, dict]:
    """Plays per item for the last 7 days and the 7 days before."""
    now_ms = int(now * 1000)
    this = ranked_counts(db.play_counts(list(members), kind, since_ms=now_ms - WEEK_MS, until_ms=now_ms + 1), kind)
    last = ranked_counts(db.play_counts(list(members), kind, since_ms=now_ms - 2 * WEEK_MS,
                                        until_ms=now_ms - WEEK_MS), kind)
    return this, last


def weekly_top_and_risers(db: Database, members: Sequence[int], now: float,
                          limit: int = 10) -> tuple[list[Item], list[Item], list[Item]]:
    artists_now, artists_before = week_counts(db, members, "artists", now)
    tracks_now, _ = week_counts(db, members, "tracks", now)

    def top(counts: dict, kind: str) -> list[Item]:
        keys = sorted(counts, key=lambda k: (-counts[k]["listeners"], -counts[k]["plays"], k))[:limit]
        return items_for_keys(db, keys, kind, {k: {"plays": counts[k]["plays"], "listeners": counts[k]["listeners"],
                                                   "rank": r} for r, k in enumerate(keys, 1)})

    rises = {k: v["plays"] - artists_before.get(k, {}).get("plays", 0) for k, v in artists_now.items()}
    riser_keys = sorted((k for k, d in rises.items() if d >= 2), key=lambda k: (-rises[k], k))[:5]
    risers = items_for_keys(db, riser_keys, "artists", {k: {"plays": artists_now[k]["plays"],
                                                            "listeners": artists_now[k]["listeners"]} for k in riser_keys})
    return top(artists_now, "artists"), top(tracks_now, "tracks"), risers
