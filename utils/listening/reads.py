"""Stored listening turned into what the engine eats (weighted triples) and what members see (Items).

Blocking functions: call them from a worker thread (`db.run` or `asyncio.to_thread`). Items are keyed by
the database `name_key`, so a song counts once whether it came from a sync or an imported history.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from database import Database
from storage.keys import artist_key
from utils.listening.periods import DAY_MS
from utils.models import Item, spotify_url

# Recent top lists say more about taste today than year-long ones.
RANGE_WEIGHT = {"short_term": 1.0, "medium_term": 0.7, "long_term": 0.5}
# Rank 1 of a top list counts about as much as this many recent plays.
TOP_SCALE = 6.0
# Plays are counted in age bands, each band weighted by a recency decay (half-life about 90 days).
PLAY_BANDS_DAYS = ((0, 30), (30, 90), (90, 180), (180, 365), (365, 730), (730, None))
PLAY_HALF_LIFE_DAYS = 90.0
KINDS = {"track": "tracks", "tracks": "tracks", "artist": "artists", "artists": "artists"}


def kind_of(kind: str) -> str:
    """Accept 'track'/'tracks'/'artist'/'artists'; return the plural the database uses."""
    try:
        return KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}") from None


def rank_weight(rank: int) -> float:
    return 1.0 / math.log2(rank + 1)


def band_weight(start_days: float, end_days: float | None) -> float:
    """Recency decay at the middle of an age band (open-ended bands use their start plus a year)."""
    middle = (start_days + (end_days if end_days is not None else start_days + 365)) / 2
    return 0.5 ** (middle / PLAY_HALF_LIFE_DAYS)


# -- engine inputs ------------------------------------------------------------------------------------


MEMBERS_PER_READ = 1_000
# Slices a database server reads at once for the community model's read (each on a connection of its own).
READS_AHEAD = 2


def interaction_weights(db: Database, member_ids: Sequence[int], kind: str, now: float) -> dict[int, dict[str, float]]:
    """Per member, a weight per item key from top-list ranks (by range) and recency-decayed play counts."""
    kind = kind_of(kind)
    weights: dict[int, dict[str, float]] = {m: defaultdict(float) for m in member_ids}
    if not member_ids:
        return {}
    now_ms = int(now * 1000)
    cutoffs = [now_ms - end * DAY_MS for _, end in PLAY_BANDS_DAYS if end is not None]
    factors = [band_weight(start, end) for start, end in PLAY_BANDS_DAYS]
    ids = list(member_ids)
    # A big server's rows are read a slice of members at a time: only one slice's rows are held at once.
    for start in range(0, len(ids), MEMBERS_PER_READ):
        chunk = ids[start:start + MEMBERS_PER_READ]
        for row in db.top_rows(chunk, kind):
            weights[row["discord_id"]][row["key"]] += (
                TOP_SCALE * RANGE_WEIGHT.get(row["time_range"], 0.5) * rank_weight(row["rank"]))
        for row in db.play_counts_by_age(chunk, kind, cutoffs):
            key = row["key"] if kind == "tracks" else artist_key(row["key"])
            weights[row["discord_id"]][key] += factors[row["band"]] * row["plays"]
    return {m: dict(w) for m, w in weights.items() if w}


@dataclass
class WeightArrays:
    """Every member's track weights as three aligned arrays (row = index in `members`, col = index in `items`),
    the engine's sparse matrix without a dict per member. A (row, col) pair may repeat: its weights add up."""

    members: list[int]
    items: list[str]
    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray


def track_weight_arrays(db: Database, member_ids: Sequence[int], now: float) -> WeightArrays:
    """The same weights as `interaction_weights(db, members, "tracks", now)`, kept as arrays: members with no
    weight are left out, in ascending id order. Blocking.

    The database packs each member's listens into one row (song ids and age bands) and their top lists into
    another, so the driver builds a row per member (each listen's song id a string, made in C), not a tuple per
    listen; the sums per member and song are done here in numpy, a slice of members at a time. A slice holds a
    string per listen of its members (a member who plays a song often holds it once per listen, until summed)."""
    ids = sorted(set(member_ids))
    id_array = np.array(ids, dtype=np.int64)
    item_of: dict[str, int] = {}  # track key -> column
    column_of = _SongColumns()  # song id -> its key's column (-1: no stored song, left out as the join did)
    now_ms = int(now * 1000)
    cutoffs = [now_ms - end * DAY_MS for _, end in PLAY_BANDS_DAYS if end is not None]
    factors = np.array([band_weight(start, end) for start, end in PLAY_BANDS_DAYS])
    top_weight: dict[tuple[str, int], float] = {}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def read(chunk: Sequence[int]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with db.reading():
            return db.track_plays_by_member(chunk, cutoffs), db.top_track_ranks(chunk)

    def columns_of_songs(track_ids: list[str]) -> np.ndarray:
        # One dict lookup per listen, in C; songs not seen before are named by the database after, all at once.
        cols = np.fromiter(map(column_of.__getitem__, track_ids), np.int32, len(track_ids))
        if column_of.unseen:
            new = list(column_of.unseen)
            column_of.unseen.clear()
            column_of.update(dict.fromkeys(new, -1))
            column_of.update((t, item_of.setdefault(key, len(item_of))) for t, key in db.track_name_keys(new))
            at = np.flatnonzero(cols == _UNSEEN)
            cols[at] = [column_of[track_ids[i]] for i in at.tolist()]
        return cols

    def add_plays(plays: list[tuple[Any, ...]]) -> None:
        songs = [song for _, member_songs, _ in plays for song in member_songs]
        bands = np.frombuffer("".join(b for _, _, b in plays).encode("ascii"), np.uint8) - ord("0")
        rows = np.repeat(_rows_of([m for m, _, _ in plays], id_array), [len(s) for _, s, _ in plays])
        parts.append(_sum_by_band(rows, columns_of_songs(songs), bands, factors))

    def add_tops(tops: list[tuple[Any, ...]]) -> None:
        keys = [key for _, member_keys, _, _ in tops for key in member_keys]
        pairs = [pair for _, _, ranges, ranks in tops for pair in zip(ranges, ranks, strict=True)]
        rows = np.repeat(_rows_of([m for m, _, _, _ in tops], id_array), [len(k) for _, k, _, _ in tops])
        cols = np.fromiter([item_of.setdefault(k, len(item_of)) for k in keys], np.int32, len(keys))
        weights = np.fromiter([top_weight.get(p) or top_weight.setdefault(p, _top_weight(*p)) for p in pairs],
                              np.float64, len(pairs))
        parts.append((rows, cols, weights))

    chunks = [ids[start:start + MEMBERS_PER_READ] for start in range(0, len(ids), MEMBERS_PER_READ)]
    # On a server, the next slices are read there (on database threads, waiting on it) while this one is turned
    # into arrays here: at most READS_AHEAD + 1 slices' rows are held at once. SQLite works inside this process and
    # lets go of Python at every row, so more threads there would only queue for it: it reads its slices in turn.
    ahead = READS_AHEAD if db.dialect.name != "sqlite" else 0
    pending = deque(db.submit(read, chunk) for chunk in chunks[:ahead])
    for index in range(len(chunks)):
        if not pending:
            plays, tops = read(chunks[index])
        else:
            plays, tops = pending.popleft().result()
            if index + ahead < len(chunks):
                pending.append(db.submit(read, chunks[index + ahead]))
        if plays:
            add_plays(plays)
        if tops:
            add_tops(tops)
        del plays, tops
    return _compact(ids, list(item_of), parts)


_UNSEEN = -2


class _SongColumns(dict[str, int]):
    """Song id -> column; a song not in it yet reads as _UNSEEN and is noted in `unseen`, to be named in bulk."""

    def __init__(self) -> None:
        super().__init__()
        self.unseen: set[str] = set()

    def __missing__(self, track_id: str) -> int:
        self.unseen.add(track_id)
        return _UNSEEN


def _rows_of(members: list[int], id_array: np.ndarray) -> np.ndarray:
    return np.searchsorted(id_array, np.array(members, dtype=np.int64)).astype(np.int32)


def _sum_by_band(rows: np.ndarray, cols: np.ndarray, bands: np.ndarray,
                 factors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Listens (row, col, band) summed per (row, col) as the per-member formula does: each band's weight times the
    listens in it. Listens of songs not stored (col -1) are left out, as a join would."""
    known = cols >= 0
    if not known.all():
        rows, cols, bands = rows[known], cols[known], bands[known]
    if not len(rows):
        return rows, cols, np.empty(0, np.float64)
    width = np.int64(cols.max()) + 1
    pairs, which = np.unique(rows.astype(np.int64) * width + cols, return_inverse=True)
    bands_count = len(factors)
    counts = np.bincount(which * bands_count + bands, minlength=len(pairs) * bands_count)
    weights = counts.reshape(len(pairs), bands_count).astype(np.float64) @ factors
    return (pairs // width).astype(np.int32), (pairs % width).astype(np.int32), weights


def _top_weight(time_range: str, rank: int) -> float:
    return TOP_SCALE * RANGE_WEIGHT.get(time_range, 0.5) * rank_weight(rank)


def _compact(ids: list[int], items: list[str], parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> WeightArrays:
    """One set of arrays, positive weights only, rows renumbered over the members who have any."""
    if not parts:
        empty = np.empty(0, np.int32)
        return WeightArrays([], [], empty, empty, np.empty(0, np.float64))
    rows, cols, weights = (np.concatenate(column) for column in zip(*parts, strict=True))
    keep = weights > 0
    if not keep.all():  # never from stored listening today (every weight is positive), kept for safety
        rows, cols, weights = rows[keep], cols[keep], weights[keep]
        heard = np.unique(cols)
        items = [items[j] for j in heard.tolist()]
        cols = np.searchsorted(heard, cols).astype(np.int32)
    present = np.unique(rows)
    return WeightArrays([ids[i] for i in present.tolist()], items, np.searchsorted(present, rows).astype(np.int32),
                        cols, weights)


def triples(weights: dict[int, dict[str, float]]) -> list[tuple[int, str, float]]:
    return [(member, key, w) for member, items in weights.items() for key, w in items.items() if w > 0]


@dataclass
class Listening:
    """One member's stored listening, enough to exclude what they know and to pick favourite artists."""

    track_weights: dict[str, float] = field(default_factory=dict)
    artist_weights: dict[str, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.track_weights and not self.artist_weights

    def favourite_artists(self, n: int) -> list[str]:
        return [k for k, _ in sorted(self.artist_weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def member_listening(db: Database, discord_id: int, now: float) -> Listening:
    """The member's track and artist weights, as `interaction_weights` gives them for each kind (the same sums in the
    same order), from one read of their listens instead of two."""
    tracks: dict[str, float] = defaultdict(float)
    artists: dict[str, float] = defaultdict(float)
    for row in db.top_rows([discord_id], "tracks"):
        tracks[row["key"]] += TOP_SCALE * RANGE_WEIGHT.get(row["time_range"], 0.5) * rank_weight(row["rank"])
    for row in db.top_rows([discord_id], "artists"):
        artists[row["key"]] += TOP_SCALE * RANGE_WEIGHT.get(row["time_range"], 0.5) * rank_weight(row["rank"])
    now_ms = int(now * 1000)
    cutoffs = [now_ms - end * DAY_MS for _, end in PLAY_BANDS_DAYS if end is not None]
    factors = [band_weight(start, end) for start, end in PLAY_BANDS_DAYS]
    # Whole listens per (key, band) first: a track's listens may be split over two artist keys and the reverse.
    track_plays: dict[str, dict[int, int]] = {}
    artist_plays: dict[str, dict[int, int]] = {}
    for track, artist, band, plays in db.member_plays_by_age(discord_id, cutoffs):
        bands = track_plays.setdefault(track, {})
        bands[band] = bands.get(band, 0) + plays
        bands = artist_plays.setdefault(artist, {})
        bands[band] = bands.get(band, 0) + plays
    # then weighed key by key, bands in order (keys in the order a grouped read of one kind gives them)
    for key, bands in track_plays.items():
        for band in sorted(bands):
            tracks[key] += factors[band] * bands[band]
    for raw in sorted(artist_plays):
        bands = artist_plays[raw]
        for band in sorted(bands):
            artists[artist_key(raw)] += factors[band] * bands[band]
    return Listening(dict(tracks), dict(artists))


# -- display ---------------------------------------------------------------------------------------------


def track_item(row: dict[str, Any], **extra: Any) -> Item:
    spotify_id = row.get("track_id")
    if spotify_id and spotify_id.startswith("local:"):
        spotify_id = None
    return Item(key=row["name_key"], kind="track", name=row["name"], artist_name=row.get("artist_name"),
                spotify_id=spotify_id, url=spotify_url("track", spotify_id), image_url=row.get("image_url"), **extra)


def artist_item(row: dict[str, Any], **extra: Any) -> Item:
    spotify_id = row.get("artist_id")
    if spotify_id and spotify_id.startswith("local:"):
        spotify_id = None
    return Item(key=row["name_key"], kind="artist", name=row["name"], artist_name=None, spotify_id=spotify_id,
                url=spotify_url("artist", spotify_id), image_url=row.get("image_url"), **extra)


def fallback_item(key: str, kind: str, **extra: Any) -> Item:
    """An item we know only by key (should be rare: every key comes from a stored row)."""
    if kind == "tracks":
        artist, _, title = key.partition(" - ")
        return Item(key=key, kind="track", name=title.title() or key, artist_name=artist.title() or None, **extra)
    return Item(key=key, kind="artist", name=key.title(), **extra)


def items_for_keys(db: Database, keys: Sequence[str], kind: str,
                   extras: dict[str, dict[str, Any]] | None = None) -> list[Item]:
    """Display Items for item keys, in the given order; `extras[key]` adds plays/rank/listeners."""
    kind = kind_of(kind)
    extras = extras or {}
    rows = db.tracks_by_key(keys) if kind == "tracks" else db.artists_by_key(keys)
    build = track_item if kind == "tracks" else artist_item
    return [build(rows[k], **extras.get(k, {})) if k in rows else fallback_item(k, kind, **extras.get(k, {}))
            for k in keys]


def artist_genres(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Genres of each artist row (artist key -> row, as `Database.artists_by_key` gives)."""
    out: dict[str, list[str]] = {}
    for key, row in rows.items():
        genres = row.get("genres")
        out[key] = json.loads(genres) if isinstance(genres, str) else list(genres or [])
    return out


def track_artists(db: Database, track_keys: Iterable[str]) -> dict[str, str]:
    """Artist key of each track key."""
    return {k: artist_key(row["artist_name"]) for k, row in db.tracks_by_key(track_keys).items()}


def ranked_counts(rows: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, int]]:
    """Sum `play_counts` rows per item key: plays and distinct listeners."""
    plays: dict[str, int] = defaultdict(int)
    members: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        key = row["key"] if kind_of(kind) == "tracks" else artist_key(row["key"])
        plays[key] += row["plays"]
        members[key].add(row["discord_id"])
    return {key: {"plays": plays[key], "listeners": len(members[key])} for key in plays}
