"""Taste scores between members: the one score /taste shows for two members and /affinity ranks a server by.

The score is `utils.engine.group.taste_match` (cosine on log weights, shrunk when few items are shared), split in two
steps so a server can be ranked quickly: `profile` prepares one member's weights once, `match` compares two
prepared profiles. /taste and /affinity both go through `taste_between`, so they never disagree. Weights are read
at the start of the day (UTC), so a member's weights are the same whichever command reads them that day.

Blocking functions (run them with `db.run`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from database import Database
from utils.listening.reads import interaction_weights

ARTIST_SHARE = 0.7  # how much of the score comes from artists; the rest from tracks
SHRINK = 5.0
DAY = 86400


def day_start(now: float) -> float:
    """The start of today (UTC): weights read at it stay the same all day unless listening changes."""
    return now - now % DAY


@dataclass(frozen=True)
class TasteProfile:
    """One member's weights for one kind, prepared for matching: log weights, their sum of squares and maximum."""

    logs: dict[str, float]
    squares: float
    top: float


def profile(weights: Mapping[str, float]) -> TasteProfile:
    logs = {key: math.log1p(w) for key, w in weights.items() if w > 0}
    return TasteProfile(logs, sum(v * v for v in logs.values()), max(logs.values(), default=0.0))


def match(a: TasteProfile, b: TasteProfile, *, ranked: int = 10) -> tuple[int, list[str]]:
    """(score 0..100, up to `ranked` shared keys both play most): exactly `engine.group.taste_match`."""
    small, big = (a.logs, b.logs) if len(a.logs) <= len(b.logs) else (b.logs, a.logs)
    shared = [key for key in small if key in big]
    if not shared:
        return 0, []
    dot = sum(a.logs[key] * b.logs[key] for key in shared)
    cosine = dot / math.sqrt(a.squares * b.squares)
    jaccard = len(shared) / (len(a.logs) + len(b.logs) - len(shared))
    confidence = len(shared) / (len(shared) + SHRINK * (1.0 - jaccard))
    score = round(100 * math.sqrt(min(1.0, cosine * confidence)))
    if not ranked:
        return score, []
    order = sorted(shared, key=lambda k: (-min(a.logs[k] / a.top, b.logs[k] / b.top), str(k)))
    return score, order[:ranked]


@dataclass(frozen=True)
class MemberTaste:
    artists: TasteProfile
    tracks: TasteProfile

    @property
    def empty(self) -> bool:
        return not self.artists.logs and not self.tracks.logs


@dataclass(frozen=True)
class Match:
    score: int
    artists: list[str]  # artist keys that tie the two members, strongest first
    tracks: list[str]


def tastes(db: Database, members: Sequence[int], now: float) -> dict[int, MemberTaste]:
    """Prepared artist and track profiles of these members (read at the start of `now`'s day)."""
    start = day_start(now)
    artists = interaction_weights(db, list(members), "artists", start)
    tracks = interaction_weights(db, list(members), "tracks", start)
    return {m: MemberTaste(profile(artists.get(m, {})), profile(tracks.get(m, {}))) for m in members}


def taste_between(a: MemberTaste, b: MemberTaste, *, ranked: int = 10) -> Match:
    """The score /taste shows and /affinity ranks by."""
    artist_score, artists = match(a.artists, b.artists, ranked=ranked)
    track_score, tracks = match(a.tracks, b.tracks, ranked=ranked)
    return Match(round(ARTIST_SHARE * artist_score + (1 - ARTIST_SHARE) * track_score), artists, tracks)


def closest(all_tastes: Mapping[int, MemberTaste], me: int, limit: int = 10) -> list[tuple[int, Match]]:
    """The `limit` members whose taste is closest to `me`'s, best first (ties by id), with what ties them."""
    mine = all_tastes[me]
    scored = [(taste_between(mine, theirs, ranked=0).score, member) for member, theirs in all_tastes.items()
              if member != me and not theirs.empty]
    best = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:limit]
    return [(member, taste_between(mine, all_tastes[member], ranked=5)) for _, member in best]
