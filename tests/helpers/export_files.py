"""Build Spotify listening-history exports (both formats) in memory, from the documented field lists."""

from __future__ import annotations

import io
import json
import random
import string
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

BASE_TIME = datetime(2021, 3, 1, 12, 0, 0, tzinfo=UTC)


def track_uri(seed: int) -> str:
    """A valid-looking, stable Spotify track URI (22 base62 characters)."""
    rng = random.Random(seed)
    return "spotify:track:" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(22))


def extended_entry(ts: datetime, track: str, artist: str, *, album: str = "Some Album", ms_played: int = 200_000,
                   uri: str | None = None, username: str | None = None, ip_addr: str = "203.0.113.7",
                   platform: str = "Android OS 12 API 31 (Google, Pixel 6)", conn_country: str = "SE",
                   **extra: Any) -> dict[str, Any]:
    """One entry of "Extended streaming history" (Streaming_History_Audio_*.json), all fields present."""
    entry: dict[str, Any] = {
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform,
        "ms_played": ms_played,
        "conn_country": conn_country,
        "ip_addr": ip_addr,
        "master_metadata_track_name": track,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": uri,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": ms_played < 30_000,
        "offline": False,
        "offline_timestamp": int(ts.timestamp()),
        "incognito_mode": False,
    }
    if username is not None:
        entry["username"] = username
        entry["user_agent_decrypted"] = "unknown"
    entry.update(extra)
    return entry


def podcast_entry(ts: datetime, episode: str = "Episode 12", show: str = "A Podcast",
                  ms_played: int = 900_000) -> dict[str, Any]:
    entry = extended_entry(ts, "x", "x", ms_played=ms_played)
    entry.update({"master_metadata_track_name": None, "master_metadata_album_artist_name": None,
                  "master_metadata_album_album_name": None, "spotify_track_uri": None, "episode_name": episode,
                  "episode_show_name": show, "spotify_episode_uri": "spotify:episode:4rOoJ6Egrf8K2IrywzwOMk"})
    return entry


def account_entry(end: datetime, track: str, artist: str, ms_played: int = 200_000) -> dict[str, Any]:
    """One entry of "Account data" (StreamingHistory_music_*.json)."""
    return {"endTime": end.strftime("%Y-%m-%d %H:%M"), "artistName": artist, "trackName": track,
            "msPlayed": ms_played}


def to_json(entries: Sequence[Any]) -> bytes:
    return json.dumps(entries, ensure_ascii=False, indent=1).encode()


def make_zip(files: dict[str, bytes | str], *, folder: str = "Spotify Extended Streaming History/",
             compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip like Spotify's: every file inside one folder."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in files.items():
            archive.writestr(folder + name, data)
    return out.getvalue()


def synthetic_extended(count: int, *, seed: int = 7, tracks: int = 20_000, artists: int = 3_000,
                       per_file: int = 16_000, podcast_every: int = 50) -> dict[str, bytes]:
    """Several Streaming_History_Audio files holding `count` music plays (for benchmarks and big tests)."""
    rng = random.Random(seed)
    uris = [track_uri(seed * 1_000_003 + i) for i in range(tracks)]
    artist_of = [rng.randrange(artists) for _ in range(tracks)]
    files: dict[str, bytes] = {}
    moment = datetime(2014, 1, 1, tzinfo=UTC)
    batch: list[dict[str, Any]] = []
    made = 0
    while made < count:
        moment += timedelta(seconds=rng.randrange(40, 400))
        if podcast_every and rng.randrange(podcast_every) == 0:
            batch.append(podcast_entry(moment))
        else:
            t = int(tracks * rng.random() ** 3)  # a few favourites, a long tail
            batch.append(extended_entry(moment, f"Song {t}", f"Artist {artist_of[t]}", album=f"Album {t // 10}",
                                        ms_played=rng.choice((5_000, 180_000, 240_000, 200_000)), uri=uris[t]))
            made += 1
        if len(batch) >= per_file or made >= count:
            files[f"Streaming_History_Audio_{moment.year}_{len(files)}.json"] = to_json(batch)
            batch = []
    return files


def times(start: datetime = BASE_TIME, step_seconds: int = 240) -> Iterable[datetime]:
    moment = start
    while True:
        yield moment
        moment += timedelta(seconds=step_seconds)
