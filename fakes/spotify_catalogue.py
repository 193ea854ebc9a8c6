"""The fake Spotify's data: a generated, deterministic music catalogue, its listeners and their credentials.

Everything comes from one seeded `random.Random`, so the same seed always gives the same artists,
albums, tracks, users, top lists and play histories (play times are offsets from an anchor time).
The `render_*` functions turn the records into JSON shaped like the Spotify Web API (Feb 2026 fields).
"""

from __future__ import annotations

import base64
import hashlib
import html
import random
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode

TIME_RANGES = ("short_term", "medium_term", "long_term")
_BASE62 = string.digits + string.ascii_letters

# Genre clusters: users favour one or two clusters, so their tastes overlap in predictable ways.
CLUSTERS: dict[str, tuple[str, ...]] = {
    "indie": ("indie rock", "alternative rock", "garage rock", "shoegaze"),
    "electronic": ("house", "techno", "synthwave", "ambient"),
    "hiphop": ("hip hop", "rap", "trap", "boom bap"),
    "jazz": ("jazz", "bebop", "soul", "neo soul"),
    "pop": ("pop", "dance pop", "k-pop", "electropop"),
    "folk": ("folk", "indie folk", "americana", "singer-songwriter"),
}

USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("alice", "Alice", ("indie", "folk")),
    ("bob", "Bob", ("indie", "electronic")),
    ("carol", "Carol", ("electronic", "pop")),
    ("dave", "Dave", ("hiphop", "electronic")),
    ("erin", "Erin", ("jazz", "folk")),
    ("frank", "Frank", ("hiphop", "pop")),
    ("grace", "Grace", ("pop", "indie")),
    ("heidi", "Heidi", ("jazz", "electronic")),
)

_ADJECTIVES = (
    "Neon", "Quiet", "Velvet", "Golden", "Electric", "Hollow", "Silver", "Wild", "Paper", "Crystal",
    "Midnight", "Broken", "Lunar", "Crimson", "Gentle", "Northern", "Restless", "Static", "Amber", "Faded",
)
_NOUNS = (
    "Harbor", "Wolves", "Rivers", "Satellites", "Gardens", "Echoes", "Lanterns", "Pilots", "Tides", "Foxes",
    "Orchards", "Signals", "Comets", "Valleys", "Mirrors", "Engines", "Sparrows", "Islands", "Cities", "Ghosts",
)
_TRACK_WORDS = (
    "Letters", "Summer", "Highway", "Dreams", "Rain", "Fire", "Heart", "Light", "Morning", "Shadows",
    "Gold", "Ocean", "Waves", "Stars", "Home", "Roads", "Dancing", "Running", "Falling", "Glow",
    "Winter", "Echo", "Signal", "Blue", "Lost", "Young", "Slow", "Secret", "Velvet", "Daylight",
)
_MARKETS = ("GB", "US", "DE", "FR", "SE", "JP", "BR", "CA")


BOT_SCOPES = frozenset(
    {"user-top-read", "user-read-recently-played", "playlist-modify-private", "playlist-modify-public",
     "user-read-private"}
)
KNOWN_SCOPES = BOT_SCOPES | {
    "user-read-email", "playlist-read-private", "playlist-read-collaborative", "user-library-read",
    "user-library-modify", "user-follow-read", "user-read-playback-state", "user-read-currently-playing",
}
NOT_ALLOWLISTED_MESSAGE = "User not registered in the Developer Dashboard"
class RequestRecord(NamedTuple):
    method: str
    path: str
    query: dict[str, str]


@dataclass(frozen=True)
class PlaylistInfo:
    """A snapshot of a playlist created on the fake, for tests to inspect."""

    id: str
    owner: str
    name: str
    public: bool
    collaborative: bool
    description: str | None
    uris: tuple[str, ...] = ()
    snapshot: int = 1


@dataclass(frozen=True)
class Artist:
    id: str
    name: str
    genres: tuple[str, ...]
    cluster: str
    image: str


@dataclass(frozen=True)
class Album:
    id: str
    name: str
    artist_ids: tuple[str, ...]
    album_type: str
    release_date: str
    release_date_precision: str
    track_ids: tuple[str, ...]
    image: str
    label: str


@dataclass(frozen=True)
class Track:
    id: str
    name: str
    album_id: str
    artist_ids: tuple[str, ...]
    duration_ms: int
    explicit: bool
    track_number: int
    isrc: str


@dataclass(frozen=True)
class User:
    id: str
    display_name: str
    account_id: str
    clusters: tuple[str, ...]


@dataclass
class Catalogue:
    """All generated records, plus each user's top lists and play offsets."""

    artists: dict[str, Artist] = field(default_factory=dict)
    albums: dict[str, Album] = field(default_factory=dict)
    tracks: dict[str, Track] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    top_tracks: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    top_artists: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # (minutes before the anchor time, track id), oldest first
    play_offsets: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    anthems: list[str] = field(default_factory=list)

    def artist_albums(self, artist_id: str) -> list[Album]:
        return [a for a in self.albums.values() if artist_id in a.artist_ids]

    def artist_tracks(self, artist_id: str) -> list[Track]:
        return [t for t in self.tracks.values() if artist_id in t.artist_ids]

    def artists_in_cluster(self, cluster: str) -> list[Artist]:
        return [a for a in self.artists.values() if a.cluster == cluster]


def _new_id(rng: random.Random) -> str:
    return "".join(rng.choice(_BASE62) for _ in range(22))


def _image(rng: random.Random) -> str:
    """An image id like Spotify's; the fake serves a real JPEG for it at `/image/<id>` on its own host."""
    return "ab6761610000e5eb" + "".join(rng.choice("0123456789abcdef") for _ in range(24))


def _unique_name(rng: random.Random, taken: set[str], make) -> str:
    while True:
        name = make()
        if name not in taken:
            taken.add(name)
            return name


def build_catalogue(seed: int = 0, artists_per_cluster: int = 10) -> Catalogue:
    """Generate the whole catalogue for `seed` (about 60 artists and 600 tracks by default)."""
    rng = random.Random(seed)
    cat = Catalogue()
    _build_artists(rng, cat, artists_per_cluster)
    _build_albums(rng, cat)
    _build_users(rng, cat)
    return cat


def _build_artists(rng: random.Random, cat: Catalogue, per_cluster: int) -> None:
    taken: set[str] = set()
    for cluster, genres in CLUSTERS.items():
        for _ in range(per_cluster):
            def make() -> str:
                name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
                return f"The {name}" if rng.random() < 0.3 else name

            name = _unique_name(rng, taken, make)
            # About one artist in six has no genres at all, as on the real service.
            chosen = () if rng.random() < 0.17 else tuple(sorted(rng.sample(genres, rng.randint(1, 3))))
            artist = Artist(_new_id(rng), name, chosen, cluster, _image(rng))
            cat.artists[artist.id] = artist


def _build_albums(rng: random.Random, cat: Catalogue) -> None:
    taken: set[str] = set()
    for artist in list(cat.artists.values()):
        peers = [a.id for a in cat.artists_in_cluster(artist.cluster) if a.id != artist.id]
        for album_type, count in (("album", rng.randint(8, 10)), ("single", rng.randint(1, 2))):
            album_id = _new_id(rng)
            year = rng.randint(1995, 2026)
            track_ids: list[str] = []
            for number in range(1, count + 1):
                def make() -> str:
                    return " ".join(rng.sample(_TRACK_WORDS, 2))

                featured = (artist.id, rng.choice(peers)) if peers and rng.random() < 0.08 else (artist.id,)
                track = Track(
                    id=_new_id(rng),
                    name=_unique_name(rng, taken, make),
                    album_id=album_id,
                    artist_ids=featured,
                    duration_ms=rng.randint(120_000, 330_000),
                    explicit=rng.random() < 0.15,
                    track_number=number,
                    isrc=f"GBFAK{year % 100:02d}{rng.randint(0, 99999):05d}",
                )
                cat.tracks[track.id] = track
                track_ids.append(track.id)
            title = cat.tracks[track_ids[0]].name if album_type == "single" else _unique_name(
                rng, taken, lambda: f"{rng.choice(_ADJECTIVES)} {rng.choice(_TRACK_WORDS)}"
            )
            cat.albums[album_id] = Album(
                id=album_id,
                name=title,
                artist_ids=(artist.id,),
                album_type=album_type,
                release_date=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                release_date_precision="day",
                track_ids=tuple(track_ids),
                image=_image(rng),
                label=f"{rng.choice(_NOUNS)} Records",
            )


def _build_users(rng: random.Random, cat: Catalogue) -> None:
    all_tracks = sorted(cat.tracks)
    # A few anthems everybody likes, so every pair of users shares something.
    cat.anthems = rng.sample(all_tracks, 4)
    for user_id, display, clusters in USERS:
        cat.users[user_id] = User(user_id, display, _new_id(rng)[:10], clusters)
    for user in cat.users.values():
        weights = {c: w for c, w in zip(user.clusters, (1.0, 0.6), strict=False)}
        artist_affinity = {a.id: weights.get(a.cluster, 0.04) * rng.uniform(0.5, 1.5) for a in cat.artists.values()}
        for spread, time_range in zip((0.9, 0.5, 0.3), TIME_RANGES, strict=True):
            scores: dict[str, float] = {}
            for track in cat.tracks.values():
                base = max(artist_affinity[a] for a in track.artist_ids)
                scores[track.id] = base * (1 + rng.uniform(-spread, spread))
            for anthem in cat.anthems:
                scores[anthem] += 2.0
            ranked = sorted(scores, key=lambda t: (-scores[t], t))[:80]
            cat.top_tracks[(user.id, time_range)] = ranked
            artist_scores: dict[str, float] = {}
            for position, track_id in enumerate(ranked):
                for artist_id in cat.tracks[track_id].artist_ids:
                    artist_scores[artist_id] = artist_scores.get(artist_id, 0.0) + 1.0 / (1 + position)
            cat.top_artists[(user.id, time_range)] = sorted(artist_scores, key=lambda a: (-artist_scores[a], a))[:40]
        favourites = cat.top_tracks[(user.id, "short_term")]
        offsets = sorted({rng.randint(5, 7 * 24 * 60) for _ in range(60)}, reverse=True)[:50]
        cat.play_offsets[user.id] = [(minutes, rng.choice(favourites[:40])) for minutes in offsets]


# ---- JSON rendering (shapes from the Spotify OpenAPI description, Feb 2026 removals applied) ----


def image_url(image_id: str, api: str) -> str:
    """Where the fake serves an image: `<host>/image/<id>`, as Spotify's image host does."""
    root = api[: -len("v1/")] if api.endswith("v1/") else api
    return f"{root}image/{image_id}"


def _images(image_id: str, api: str) -> list[dict]:
    return [{"url": image_url(image_id, api), "height": size, "width": size} for size in (640, 300, 64)]


def render_simple_artist(artist: Artist, api: str) -> dict:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist.id}"},
        "href": f"{api}artists/{artist.id}",
        "id": artist.id,
        "name": artist.name,
        "type": "artist",
        "uri": f"spotify:artist:{artist.id}",
    }


def render_artist(artist: Artist, api: str) -> dict:
    return {**render_simple_artist(artist, api), "genres": list(artist.genres), "images": _images(artist.image, api)}


def render_simple_album(cat: Catalogue, album: Album, api: str) -> dict:
    return {
        "album_type": album.album_type,
        "total_tracks": len(album.track_ids),
        "available_markets": list(_MARKETS),
        "external_urls": {"spotify": f"https://open.spotify.com/album/{album.id}"},
        "href": f"{api}albums/{album.id}",
        "id": album.id,
        "images": _images(album.image, api),
        "name": album.name,
        "release_date": album.release_date,
        "release_date_precision": album.release_date_precision,
        "type": "album",
        "uri": f"spotify:album:{album.id}",
        "artists": [render_simple_artist(cat.artists[a], api) for a in album.artist_ids],
    }


def render_simple_track(cat: Catalogue, track: Track, api: str) -> dict:
    return {
        "artists": [render_simple_artist(cat.artists[a], api) for a in track.artist_ids],
        "disc_number": 1,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "external_urls": {"spotify": f"https://open.spotify.com/track/{track.id}"},
        "href": f"{api}tracks/{track.id}",
        "id": track.id,
        "is_playable": True,
        "name": track.name,
        "track_number": track.track_number,
        "type": "track",
        "uri": f"spotify:track:{track.id}",
        "is_local": False,
    }


def render_track(cat: Catalogue, track: Track, api: str) -> dict:
    return {
        **render_simple_track(cat, track, api),
        "album": render_simple_album(cat, cat.albums[track.album_id], api),
        "external_ids": {"isrc": track.isrc},
    }


def render_album(cat: Catalogue, album: Album, api: str, tracks_page: dict) -> dict:
    return {
        **render_simple_album(cat, album, api),
        "tracks": tracks_page,
        "copyrights": [{"text": f"(C) {album.release_date[:4]} {album.label}", "type": "C"}],
        "external_ids": {"upc": str(int(hashlib.sha1(album.id.encode()).hexdigest(), 16) % 10**12).zfill(12)},
        "genres": [],
        "label": album.label,
        "popularity": 0,
    }


def paging(
    items: Sequence[Any], limit: int, offset: int, render: Callable[[Any], dict], base_url: str, query: dict[str, Any]
) -> dict[str, Any]:
    """A paging object with absolute next/previous URLs built on `base_url` (the endpoint's URL)."""

    def url(off: int) -> str:
        kept = {k: v for k, v in query.items() if v is not None and k not in ("offset", "limit")}
        return base_url + "?" + urlencode({**kept, "offset": off, "limit": limit})

    total = len(items)
    return {
        "href": url(offset),
        "items": [render(x) for x in items[offset:offset + limit]],
        "limit": limit,
        "next": url(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": url(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }


def is_base62_id(value: str) -> bool:
    return len(value) == 22 and all(c in _BASE62 for c in value)


def iso_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_user(user: User, api: str) -> dict:
    return {
        "account_id": user.account_id,
        "display_name": user.display_name,
        "external_urls": {"spotify": f"https://open.spotify.com/user/{user.id}"},
        "href": f"{api}users/{user.id}",
        "id": user.id,
        "images": [],
        "type": "user",
        "uri": f"spotify:user:{user.id}",
    }


def render_playlist_user(user_id: str, api: str) -> dict:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/user/{user_id}"},
        "href": f"{api}users/{user_id}",
        "id": user_id,
        "type": "user",
        "uri": f"spotify:user:{user_id}",
    }


def render_play(cat: Catalogue, played_at_ms: int, track_id: str, api: str) -> dict:
    """One PlayHistoryObject; the context is the track's album."""
    album_id = cat.tracks[track_id].album_id
    return {
        "track": render_track(cat, cat.tracks[track_id], api),
        "played_at": iso_time(played_at_ms),
        "context": {
            "type": "album",
            "href": f"{api}albums/{album_id}",
            "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
            "uri": f"spotify:album:{album_id}",
        },
    }


def snapshot_id(playlist_id: str, version: int) -> str:
    return base64.b64encode(f"{version},{playlist_id}".encode()).decode()


def render_playlist_item(cat: Catalogue, added_by: str, uri: str, added_ms: int, api: str) -> dict:
    return {
        "added_at": iso_time(added_ms),
        "added_by": render_playlist_user(added_by, api),
        "is_local": False,
        "item": render_track(cat, cat.tracks[uri.split(":")[2]], api),
    }


def render_playlist(cat: Catalogue, info: Any, items_page: dict, api: str) -> dict:
    """A PlaylistObject (Feb 2026 shape: `items`, not `tracks`); `info` is a server PlaylistInfo."""
    owner = cat.users.get(info.owner)
    return {
        "collaborative": info.collaborative,
        "description": info.description,
        "external_urls": {"spotify": f"https://open.spotify.com/playlist/{info.id}"},
        "href": f"{api}playlists/{info.id}",
        "id": info.id,
        "images": [],
        "name": info.name,
        "owner": {**render_playlist_user(info.owner, api), "display_name": owner.display_name if owner else None},
        "public": info.public,
        "snapshot_id": snapshot_id(info.id, info.snapshot),
        "items": items_page,
        "type": "playlist",
        "uri": f"spotify:playlist:{info.id}",
    }


def search(cat: Catalogue, kind: str, query: str, api: str) -> tuple[list[Any], Callable[[Any], dict]]:
    """Match free words against names, plus `artist:`, `track:`, `album:` and `genre:` filters."""
    filters: dict[str, str] = {}
    words: list[str] = []
    for part in query.lower().split():
        key, sep, value = part.partition(":")
        if sep and key in ("artist", "track", "album", "genre") and value:
            filters[key] = (filters.get(key, "") + " " + value.strip('"')).strip()
        else:
            words.append(part.strip('"'))

    def ok(text: str, wanted: str | None) -> bool:
        return wanted is None or all(w in text.lower() for w in wanted.split())

    free = " ".join(words) or None
    if kind == "artist":
        found = [a for a in cat.artists.values()
                 if ok(a.name, free) and ok(a.name, filters.get("artist")) and ok(" ".join(a.genres), filters.get("genre"))
                 and "track" not in filters and "album" not in filters]
        return sorted(found, key=lambda a: a.name), lambda a: render_artist(a, api)
    if kind == "album":
        def album_text(a: Album) -> str:
            return a.name + " " + " ".join(cat.artists[x].name for x in a.artist_ids)

        found_albums = [a for a in cat.albums.values()
                        if ok(album_text(a), free) and ok(a.name, filters.get("album"))
                        and ok(" ".join(cat.artists[x].name for x in a.artist_ids), filters.get("artist"))
                        and "track" not in filters and "genre" not in filters]
        return sorted(found_albums, key=lambda a: a.name), lambda a: render_simple_album(cat, a, api)

    def track_text(t: Track) -> str:
        return t.name + " " + " ".join(cat.artists[x].name for x in t.artist_ids) + " " + cat.albums[t.album_id].name

    found_tracks = [t for t in cat.tracks.values()
                    if ok(track_text(t), free) and ok(t.name, filters.get("track"))
                    and ok(" ".join(cat.artists[x].name for x in t.artist_ids), filters.get("artist"))
                    and ok(cat.albums[t.album_id].name, filters.get("album"))
                    and ok(" ".join(g for x in t.artist_ids for g in cat.artists[x].genres), filters.get("genre"))]
    return sorted(found_tracks, key=lambda t: (t.name, t.id)), lambda t: render_track(cat, t, api)


def authorize_page(users: Iterable[User], params: dict[str, str]) -> str:
    """The small login page a browser test clicks through (stable ids: approve-<user>, cancel)."""

    def link(extra: dict[str, str]) -> str:
        return html.escape("/authorize?" + urlencode({**params, **extra}))

    rows = "\n".join(
        f'<li><a id="approve-{html.escape(u.id)}" href="{link({"login_as": u.id})}">'
        f"Continue as {html.escape(u.display_name)}</a></li>"
        for u in users
    )
    return (
        "<!doctype html><html><head><title>Log in to Spotify (fake)</title></head><body>"
        "<h1>Log in to Spotify (fake)</h1><p>Choose who you are to approve the app:</p>"
        f'<ul>{rows}</ul><p><a id="cancel" href="{link({"deny": "1"})}">Cancel</a></p></body></html>'
    )


def recent_window(
    plays: list[tuple[int, str]], limit: int, after: int | None, before: int | None
) -> tuple[list[tuple[int, str]], bool]:
    """The plays one recently-played page shows (oldest first) and whether more lie beyond them."""
    if after is not None:
        candidates = [p for p in plays if p[0] > after]
        # Oldest first after the cursor, so paging forward with `after` skips nothing.
        return candidates[:limit], len(candidates) > limit
    candidates = [p for p in plays if before is None or p[0] < before]
    return candidates[-limit:], len(candidates) > limit


# ---- the accounts service's credentials ----


@dataclass
class Grant:
    """An access token or an authorization code: who, which scopes, until when."""

    user: str
    scopes: frozenset[str]
    expires_at: float
    redirect_uri: str = ""


class Accounts:
    """Authorization codes, access tokens and refresh tokens of the fake accounts service (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, Grant] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, tuple[str, frozenset[str]]] = {}

    def grant(self, user: str, scopes: frozenset[str], ttl: int, with_refresh: bool) -> dict[str, Any]:
        """New tokens, in the token endpoint's JSON shape."""
        out: dict[str, Any] = {"access_token": secrets.token_urlsafe(32), "token_type": "Bearer",
                               "scope": " ".join(sorted(scopes)), "expires_in": ttl}
        with self._lock:
            self._access[out["access_token"]] = Grant(user, scopes, time.time() + ttl)
            if with_refresh:
                out["refresh_token"] = secrets.token_urlsafe(48)
                self._refresh[out["refresh_token"]] = (user, scopes)
        return out

    def new_code(self, user: str, redirect_uri: str, scopes: frozenset[str], ttl: float) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = Grant(user, scopes, time.time() + ttl, redirect_uri)
        return code

    def spend_code(self, code: str, redirect_uri: str) -> tuple[Grant | None, str]:
        """The code's grant, or None and the reason; a code is single use even when the exchange fails."""
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None:
            return None, "Invalid authorization code"
        if grant.expires_at < time.time():
            return None, "Authorization code expired"
        if grant.redirect_uri != redirect_uri:
            return None, "Invalid redirect URI"
        return grant, ""

    def use_refresh(self, token: str, rotate: bool, ttl: int) -> dict[str, Any] | None:
        """New tokens (plus "user") for a live refresh token, or None when it was revoked or retired."""
        with self._lock:
            entry = self._refresh.get(token)
            if entry is None:
                return None
            if rotate:
                # The old refresh token stops working: a client that drops the new one breaks the link.
                del self._refresh[token]
        out = self.grant(entry[0], entry[1], ttl, with_refresh=rotate)
        return {**out, "user": entry[0]}

    def access_grant(self, token: str) -> Grant | None:
        with self._lock:
            return self._access.get(token)

    def expire_all(self) -> None:
        with self._lock:
            for grant in self._access.values():
                grant.expires_at = 0.0

    def revoke(self, user: str) -> None:
        with self._lock:
            self._refresh = {k: v for k, v in self._refresh.items() if v[0] != user}
            self._access = {k: v for k, v in self._access.items() if v.user != user}
