"""Plain frozen dataclasses passed between the services and the Discord layer (no logic, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

SPOTIFY_OPEN_URL = "https://open.spotify.com"


def spotify_url(kind: str, spotify_id: str | None) -> str | None:
    """The open.spotify.com link of a track or artist, or None when it has no real Spotify id."""
    if not spotify_id or spotify_id.startswith("local:"):
        return None
    return f"{SPOTIFY_OPEN_URL}/{kind}/{spotify_id}"


@dataclass(frozen=True)
class Item:
    """A track or an artist as shown to members. `key` is the database `name_key` joining all sources."""

    key: str
    kind: str  # "track" | "artist"
    name: str
    artist_name: str | None = None  # None for artists
    spotify_id: str | None = None
    url: str | None = None
    image_url: str | None = None
    plays: int | None = None
    rank: int | None = None
    listeners: int | None = None  # server views: how many members listen to it

    @property
    def uri(self) -> str | None:
        """`spotify:track:<id>` for tracks with a real Spotify id, else None."""
        if self.kind != "track" or not self.spotify_id or self.spotify_id.startswith("local:"):
            return None
        return f"spotify:track:{self.spotify_id}"

    @property
    def label(self) -> str:
        """"Title by Artist" for tracks, the name for artists."""
        return track_label(self.name, self.artist_name)


def track_label(name: str, artist_name: str | None) -> str:
    """How a song is named in running text (reasons, menus): "Shadows Glow by Lunar Valleys"."""
    return f"{name} by {artist_name}" if artist_name else name


@dataclass(frozen=True)
class Recommendation:
    item: Item
    score: float
    reason: str
    source: str  # which part of the engine found it, e.g. "neighbours", "catalogue", "popular"


@dataclass(frozen=True)
class RecommendationList:
    items: list[Recommendation]
    generated_at: float
    note: str | None = None
    synced_at: float | None = None  # when the member's listening was last synced (None: never)


@dataclass(frozen=True)
class Profile:
    discord_id: int
    display_name: str
    linked: bool
    link_state: str
    top_artists: list[Item]
    top_tracks: list[Item]
    time_range: str
    synced_at: float | None
    since: float | None  # first play ever (seconds), imported history included
    total_plays: int
    imported_plays: int
    genres: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # "Last.fm: whole history in, last synced 5 minutes ago"


@dataclass(frozen=True)
class TasteMatch:
    score: int  # 0-100
    shared_artists: list[Item]
    shared_tracks: list[Item]
    summary: str


@dataclass(frozen=True)
class WhoKnowsEntry:
    discord_id: int
    display_name: str
    plays: int
    best_rank: int | None


@dataclass(frozen=True)
class BlendResult:
    items: list[tuple[Item, list[int]]]  # each item with the ids of the members it comes from
    members: list[int]
    method: str


@dataclass(frozen=True)
class PlaylistResult:
    playlist_id: str
    url: str
    name: str
    track_count: int
    skipped_local: int = 0  # songs known only by name that Spotify's search could not find, left out


@dataclass(frozen=True)
class SyncResult:
    discord_id: int
    status: str  # "synced" | "skipped_recent" | "failed"
    plays_added: int
    message: str


@dataclass(frozen=True)
class ImportSummary:
    plays_added: int
    plays_already_there: int
    skips: int  # plays under 30 seconds
    entries_skipped_broken: int
    podcasts_ignored: int
    first_played_at: float | None
    last_played_at: float | None
    files_read: int
    message: str


@dataclass(frozen=True)
class Crown:
    """An artist's crown in a server: the member who plays them most, past the server's threshold."""

    artist_key: str
    artist_name: str
    discord_id: int
    plays: int
    since: float


@dataclass(frozen=True)
class CrownChange:
    """A crown that changed hands (`previous_id` None: nobody held it before, or they are no longer shown)."""

    artist_key: str
    artist_name: str
    discord_id: int
    previous_id: int | None
    plays: int
    changed_at: float


@dataclass(frozen=True)
class CrownCheck:
    """What /whoknows shows about an artist's crown: who holds it now, and whether it just changed hands."""

    holder_id: int | None
    plays: int
    threshold: int
    change: CrownChange | None = None


@dataclass(frozen=True)
class Digest:
    guild_id: int
    top_artists: list[Item]
    top_tracks: list[Item]
    risers: list[Item]
    recommendations: list[Recommendation]
    crown_changes: list[CrownChange] = field(default_factory=list)
