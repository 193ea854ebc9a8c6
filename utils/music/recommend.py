"""Personal recommendations: stored listening -> engine inputs -> ranked, explained, displayable picks.

The normal path reads only the database. Spotify is asked (through the member's client, capped) only
when a member's favourite artists' stored catalogue is too thin to fill a list: a server of one.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from database import UNFINISHED_PLAYLISTS, Database
from utils.community.model import CommunityModel, artist_of, make_context, with_mode
from utils.engine.algorithms import CatalogueExpansion
from utils.engine.data import Interactions
from utils.engine.data import Recommendation as EngineRec
from utils.engine.hybrid import Hybrid, Ranking
from utils.errors import NotEnoughData
from utils.listening.reads import Listening, artist_genres, items_for_keys, member_listening
from utils.models import Recommendation, track_label

FAVOURITE_ARTISTS = 15
CATALOGUE_PER_ARTIST = 40
FEW_MEMBERS = 3  # fewer visible members than this (the asker included) and the catalogue carries the list


@dataclass
class PersonalData:
    """Everything one member's recommendations need from the database (read in one worker call)."""

    discord_id: int
    user: dict[str, Any] | None
    listening: Listening
    liked: set[str] = field(default_factory=set)
    disliked: set[str] = field(default_factory=set)
    disliked_artists: set[str] = field(default_factory=set)
    favourites: list[str] = field(default_factory=list)
    catalogue: dict[str, list[str]] = field(default_factory=dict)
    genres: dict[str, list[str]] = field(default_factory=dict)  # track key -> its artist's genres
    labels: dict[str, str] = field(default_factory=dict)
    favourite_ids: dict[str, str] = field(default_factory=dict)  # artist key -> Spotify id
    top_genres: list[str] = field(default_factory=list)
    # Ranked picks already worked out from exactly these inputs: (mode, count) -> (the model they came from, picks).
    # Ranking is deterministic, so the same data and the same fitted model give the same list; a new model (a
    # refit) or new data (a new PersonalData, read after a sync, import, feedback or privacy change) ranks afresh.
    ranked: dict[tuple[str, int], tuple[Any, list[EngineRec]]] = field(default_factory=dict, repr=False)

    @property
    def linked(self) -> bool:
        return bool(self.user) and self.user["link_state"] == "linked"

    def fresh_candidates(self) -> int:
        """Catalogue tracks the member hasn't played and hasn't turned down."""
        known = self.listening.track_weights.keys() | self.disliked
        return len({t for ts in self.catalogue.values() for t in ts if t not in known
                    and artist_of(t) not in self.disliked_artists})


def load_personal(db: Database, discord_id: int, now: float,
                  extra_genre_tracks: Mapping[str, list[str]] | None = None) -> PersonalData:
    """Read a member's listening, feedback, favourite artists and their stored catalogue. Blocking."""
    with db.reading():  # a dozen reads: on PostgreSQL, on one pooled connection
        return _load_personal(db, discord_id, now, extra_genre_tracks)


def _load_personal(db: Database, discord_id: int, now: float,
                   extra_genre_tracks: Mapping[str, list[str]] | None) -> PersonalData:
    user = db.get_user(discord_id)
    listening = member_listening(db, discord_id, now)
    data = PersonalData(discord_id, user, listening)
    for key, value in db.get_feedback(discord_id).items():
        if value > 0:
            data.liked.add(key)
        elif " - " in key:
            data.disliked.add(key)
        else:
            data.disliked_artists.add(key)
    # favourites: artists weighted directly, plus those behind the member's tracks
    artist_weight = dict(listening.artist_weights)
    for key, weight in listening.track_weights.items():
        artist = artist_of(key)
        artist_weight[artist] = artist_weight.get(artist, 0.0) + 0.5 * weight
    ranked = sorted(artist_weight.items(), key=lambda kv: (-kv[1], kv[0]))
    data.favourites = [k for k, _ in ranked if k not in data.disliked_artists][:FAVOURITE_ARTISTS]
    data.catalogue = {k: v for k, v in db.catalogue_for_artists(data.favourites, CATALOGUE_PER_ARTIST).items() if v}
    artists = db.artists_by_key(list(dict.fromkeys([*data.favourites, *listening.artist_weights])))
    # the favourites we hold the least catalogue of are the ones worth a Spotify look-up
    thinnest = sorted(data.favourites, key=lambda k: len(data.catalogue.get(k, [])))
    data.favourite_ids = {k: artists[k]["artist_id"] for k in thinnest
                          if k in artists and not artists[k]["artist_id"].startswith("local:")}
    genre_map = artist_genres({k: artists[k] for k in data.favourites if k in artists})
    weights: dict[str, float] = {}
    for key in data.favourites:
        for genre in genre_map.get(key, []):
            weights[genre] = weights.get(genre, 0.0) + artist_weight.get(key, 0.0)
    data.top_genres = [g for g, _ in sorted(weights.items(), key=lambda kv: -kv[1])[:3]]
    # one list per artist, shared by its songs: genre tracks replace a song's list rather than append to it
    no_genres: list[str] = []
    genres = data.genres
    for tracks in data.catalogue.values():
        for track in tracks:
            genres[track] = genre_map.get(track.split(" - ", 1)[0], no_genres)  # the track's artist (artist_of)
    add_genre_tracks(data, extra_genre_tracks or {})
    # labels for the items reasons may name: artists now; the member's own tracks (liked ones seed the engine too)
    # when a reason names them, a few of dozens
    data.labels = SongLabels({k: r["name"] for k, r in artists.items()}, [*listening.track_weights, *data.liked],
                             functools.partial(_song_labels, db))
    return data


def _song_labels(db: Database, keys: list[str]) -> dict[str, str]:
    return {k: track_label(r["name"], r["artist_name"]) for k, r in db.tracks_by_key(keys, "name, artist_name").items()}


class SongLabels(dict[str, str]):
    """What reasons call items: artists' names from the start, and the member's own songs, read (all those a list
    names at once, see `prefetch`) the first time a reason names them; an artist's name wins over a song's. Pickled,
    it reads what is left and becomes a plain dict (no database handle travels with it)."""

    def __init__(self, known: Mapping[str, str], songs: Iterable[str],
                 read: Callable[[list[str]], Mapping[str, str]]) -> None:
        super().__init__(known)
        self._unread = set(songs) - self.keys()
        self._read = read
        self._lock = threading.Lock()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if key in self._unread:
            self.prefetch([key])
        return super().get(key, default)

    def __missing__(self, key: str) -> str:
        if key in self._unread:
            self.prefetch([key])
            if dict.__contains__(self, key):
                return dict.__getitem__(self, key)
        raise KeyError(key)

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read the labels of these items in one go (those not read yet)."""
        with self._lock:
            wanted = [k for k in dict.fromkeys(keys) if k in self._unread]
            if not wanted:
                return
            for key, label in self._read(wanted).items():
                self.setdefault(key, label)
            self._unread.difference_update(wanted)

    def __reduce__(self) -> tuple[Any, ...]:
        self.prefetch(list(self._unread))
        return dict, (dict(self),)


def add_genre_tracks(data: PersonalData, genre_tracks: Mapping[str, list[str]]) -> None:
    """Tag tracks found by a genre search with that genre, so catalogue expansion can suggest them."""
    for genre, tracks in genre_tracks.items():
        for track in tracks:
            data.genres[track] = [*data.genres.get(track, ()), genre]  # a new list: catalogue songs share theirs


def ranked(data: PersonalData, community: CommunityModel | None, count: int, mode: str) -> list[EngineRec]:
    """`rank`, or the picks it gave for the same data, model, count and mode. CPU-bound: call from a worker thread."""
    key = (mode, count)
    kept = data.ranked.get(key)
    if kept is not None and _same_model(kept[0], community):
        return list(kept[1])
    picks = rank(data, community, count, mode)
    data.ranked[key] = (_reference(community), list(picks))
    return picks


def _reference(community: CommunityModel | None) -> Any:
    """A weak reference to the model (a kept list must not keep an old model in memory), or one to None."""
    return weakref.ref(community) if community is not None else _NO_MODEL


def _NO_MODEL() -> None:
    return None


def _same_model(reference: Any, community: CommunityModel | None) -> bool:
    if community is None:
        return reference is _NO_MODEL
    return reference is not _NO_MODEL and reference() is community


def rank(data: PersonalData, community: CommunityModel | None, count: int, mode: str) -> list[EngineRec]:
    """Run the engine for one member. CPU-bound (plus one small read of the song names its reasons use, the first time
    they are named): call from a worker thread."""
    history = data.listening.track_weights
    # what the member played is excluded by the engine itself (passing it here would erase their history)
    exclude = {t for ts in data.catalogue.values() for t in ts
               if artist_of(t) in data.disliked_artists} if data.disliked_artists else set()
    names = OthersNames(community.names if community else {}, data.discord_id)
    ctx = make_context(labels=data.labels, names=names, catalogue=data.catalogue, genres=data.genres,
                       liked=data.liked, disliked=data.disliked, mode=mode)
    if community is not None and community.model is not None and len(community.members) >= 2:
        model = with_mode(community.model, mode)
        community_row = community.has(data.discord_id)
    else:
        community_row = False
        model = Hybrid([CatalogueExpansion()], {"catalogue": 1.0}).fit(_solo_interactions(data))
    first = model.ranking(data.discord_id, count * 2, history=None if community_row else history,
                          exclude=exclude, context=ctx)
    # (ranking, position) of each pick: reasons are worded at the end, for the picks shown only
    picks = [(first, pos) for pos in range(len(first.items))]
    if len(picks) < count:
        # few artists to draw from (a server of one): a fuller list beats a strict per-artist cap
        ctx.max_per_artist = count
        again = model.ranking(data.discord_id, count * 2, history=None if community_row else history,
                              exclude=exclude, context=ctx)
        seen = set(first.items)
        picks += [(again, pos) for pos, item in enumerate(again.items) if item not in seen]
    if data.disliked_artists:
        picks = [(r, p) for r, p in picks if artist_of(str(r.items[p])) not in data.disliked_artists]
    if mode == "discover":
        known_artists = set(data.listening.artist_weights) | {artist_of(k) for k in history}
        picks.sort(key=lambda rp: -(rp[0].scores[rp[1]] * (0.5 if artist_of(str(rp[0].items[rp[1]])) in known_artists
                                                           else 1.0)))
    return _explained(picks[:count])


def _explained(picks: list[tuple[Ranking, int]]) -> list[EngineRec]:
    """The picks with their reasons (each ranking words its own, once)."""
    out: dict[tuple[int, int], EngineRec] = {}
    for ranking in {id(r): r for r, _ in picks}.values():
        positions = [p for r, p in picks if r is ranking]
        for pos, rec in zip(positions, ranking.explained(positions), strict=True):
            out[id(ranking), pos] = rec
    return [out[id(r), p] for r, p in picks]


class OthersNames(Mapping[int, str]):
    """The server's display names without the asker's own (a reason never names the member it is for): a view, not
    a copy of a big server's names at every request."""

    def __init__(self, names: Mapping[int, str], asker: int) -> None:
        self._names = names
        self._asker = asker

    def __getitem__(self, member: int) -> str:
        if member == self._asker:
            raise KeyError(member)
        return self._names[member]

    def get(self, member: int, default: str | None = None) -> str | None:  # type: ignore[override]
        return default if member == self._asker else self._names.get(member, default)

    def __iter__(self) -> Iterator[int]:
        return (m for m in self._names if m != self._asker)

    def __len__(self) -> int:
        return len(self._names) - (self._asker in self._names)


def _solo_interactions(data: PersonalData) -> Interactions:
    return Interactions.from_triples([(data.discord_id, k, w) for k, w in data.listening.track_weights.items()])


def to_payload(recs: list[Any], mode: str, guild_id: int | None) -> dict[str, Any]:
    """What is saved as a member's last recommendations (for 'save as playlist' and feedback buttons)."""
    return {"generated_at": time.time(), "mode": mode, "guild_id": guild_id,
            "items": [{"key": r.item.key, "name": r.item.name, "artist_name": r.item.artist_name,
                       "spotify_id": r.item.spotify_id, "reason": r.reason, "score": r.score, "source": r.source}
                      for r in recs]}


def show_and_save(db: Database, discord_id: int, picks: list[EngineRec], mode: str,
                  guild_id: int | None) -> list[Recommendation]:
    """Turn ranked picks into displayable recommendations and save them as the member's last ones. Blocking."""
    items = items_for_keys(db, [str(p.item) for p in picks], "tracks")
    recs = [Recommendation(item, round(float(p.score), 4), p.reason, p.source) for item, p in zip(items, picks, strict=True)]
    payload = to_payload(recs, mode, guild_id)
    with db.transaction():
        unfinished = (db.last_recommendations(discord_id) or {}).get(UNFINISHED)
        if unfinished:
            payload[UNFINISHED] = unfinished  # new picks must not forget a half-made playlist
        db.save_last_recommendations(discord_id, payload)
    return recs


# -- playlists made in a member's Spotify but not filled yet ---------------------------------------------------
# Kept in the member's saved-recommendations payload (erased and exported with the member), under "unfinished_playlists":
# {key: {"id", "url", "name", "at"}}. One playlist is filed under the `songs_key` of its songs and, for the kinds
# whose songs move (recommendations, top tracks), under the kind too, so saving that kind again fills it.

UNFINISHED = UNFINISHED_PLAYLISTS  # forgotten by Database.unlink_user and on linking another account
MAX_UNFINISHED = 10


def songs_key(uris: list[str]) -> str:
    """The same songs in the same order give the same key, whichever button or command saves them."""
    return "songs:" + hashlib.sha256("\n".join(uris).encode()).hexdigest()[:20]


def unfinished_playlist(db: Database, discord_id: int, keys: Sequence[str]) -> dict[str, Any] | None:
    """The playlist made but not filled yet under the first of `keys` that has one. Blocking."""
    entries = (db.last_recommendations(discord_id) or {}).get(UNFINISHED) or {}
    for key in keys:
        entry = entries.get(key)
        if isinstance(entry, dict) and entry.get("id") and entry.get("url"):
            return dict(entry)
    return None


def remember_unfinished_playlist(db: Database, discord_id: int, keys: Sequence[str],
                                 playlist: Mapping[str, Any]) -> None:
    """Note a playlist made but not filled ({"id", "url", "name"}) under every one of `keys`. Blocking.

    Not for a member erased meanwhile (/privacy forget during the save): there is nobody to remember it for."""
    entry = {"id": playlist["id"], "url": playlist["url"], "name": playlist["name"], "at": time.time()}
    with db.transaction():
        if db.get_user(discord_id) is None:
            return
        payload = db.last_recommendations(discord_id) or {}
        entries = {**(payload.get(UNFINISHED) or {}), **{key: entry for key in keys}}
        payload[UNFINISHED] = dict(sorted(entries.items(), key=lambda kv: kv[1].get("at", 0.0))[-MAX_UNFINISHED:])
        db.save_last_recommendations(discord_id, payload)


def forget_unfinished_playlist(db: Database, discord_id: int, playlist_id: str) -> None:
    """The playlist is filled (or gone): no key leads to it any more. Blocking."""
    with db.transaction():
        payload = db.last_recommendations(discord_id) or {}
        entries = payload.get(UNFINISHED) or {}
        kept = {key: entry for key, entry in entries.items() if entry.get("id") != playlist_id}
        if len(kept) != len(entries):
            payload[UNFINISHED] = kept
            db.save_last_recommendations(discord_id, payload)


def ensure_data(data: PersonalData) -> None:
    if data.listening.empty:
        raise NotEnoughData()
