"""Reading Spotify listening-history exports: formats, limits and validation. No database here.

Two export formats exist, both JSON arrays, usually inside a zip:
- "Extended streaming history" (`Streaming_History_Audio_*.json`, older `endsong_*.json`): `ts` (ISO 8601 UTC,
  when the stream ended), `ms_played`, `master_metadata_*` names and `spotify_track_uri`.
- "Account data" (`StreamingHistory_music_*.json`, older `StreamingHistory*.json`): `endTime`
  ("YYYY-MM-DD HH:MM", UTC), `artistName`, `trackName`, `msPlayed`; no URIs.

The zip is read in place (no extraction), each JSON file is decoded entry by entry, and each entry becomes a
compact tuple at once: only when a play ended, how long it played and which track. Every other field (IP
address, country, platform, username, ...) is dropped as it is read and never leaves this module.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from storage.keys import artist_key, local_id, track_key
from utils.errors import BadImportFile
from utils.sources.json_stream import iter_json_array
from utils.sources.upload_guard import ByteBudget, CountingReader, SeekableUpload, basename, megabytes, too_big_inside

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # the file as sent (zip or JSON)
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024  # everything read out of a zip, declared and counted
MAX_ZIP_ENTRIES = 500  # a real export holds a few dozen files
MAX_ENTRY_CHARS = 1024 * 1024  # one history entry is about a kilobyte; a megabyte means something is wrong
SKIP_THRESHOLD_MS = 30_000  # a play shorter than this counts as a skip, not a listen
READ_CHUNK_CHARS = 1024 * 1024

FORMAT_EXTENDED = "extended"
FORMAT_ACCOUNT = "account"

_EXTENDED_NAME = re.compile(r"^(streaming_history_audio_.*|endsong(_\d+)?)\.json$", re.IGNORECASE)
_ACCOUNT_NAME = re.compile(r"^streaminghistory(_music)?_?\d*\.json$", re.IGNORECASE)
_OTHER_HISTORY_NAME = re.compile(r"^(streaming_history_video_.*|streaminghistory_podcast_.*)\.json$", re.IGNORECASE)
_EPISODE_FIELDS = ("episode_name", "episode_show_name", "spotify_episode_uri", "audiobook_title", "audiobook_uri",
                   "audiobook_chapter_uri", "audiobook_chapter_title")
_EARLIEST_MS = 1_136_073_600_000  # 2006-01-01: Spotify did not exist before
_SLACK_MS = 2 * 86_400_000


@dataclass(frozen=True)
class ImportLimits:
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
    max_zip_entries: int = MAX_ZIP_ENTRIES
    max_entry_chars: int = MAX_ENTRY_CHARS


@dataclass(frozen=True)
class TrackInfo:
    """One track as the export names it; `track_id` is the Spotify id, or a `local:` id built from the names."""

    track_id: str
    name: str
    artist_name: str
    album_name: str | None
    name_key: str
    artist_id: str


@dataclass
class ParsedHistory:
    """Music plays read from an export, as `(played_at_ms, ms_played, track_index, exact)` tuples.

    `exact` is 1 when the time is to the second (extended history) and 0 when only to the minute (account data).
    """

    plays: list[tuple[int, int, int, int]] = field(default_factory=list)
    tracks: list[TrackInfo] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    entries_broken: int = 0
    non_music: int = 0
    formats: set[str] = field(default_factory=set)
    registry: _Tracks | None = field(default=None, repr=False, compare=False)


class _Tracks:
    """Gives each distinct track an index, normalising a name pair only the first time it is seen."""

    def __init__(self, out: list[TrackInfo]) -> None:
        self.out = out
        self.by_key: dict[tuple[str, str, str], int] = {}
        self.artist_ids: dict[str, str] = {}

    def index(self, spotify_id: str | None, name: str, artist: str, album: str | None) -> int:
        key = ("u", spotify_id, "") if spotify_id else ("n", artist, name)
        found = self.by_key.get(key)
        if found is not None:
            return found
        name_key = track_key(artist, name)
        artist_id = self.artist_ids.get(artist)
        if artist_id is None:
            artist_id = self.artist_ids[artist] = local_id(artist_key(artist))
        track_id = spotify_id or local_id(name_key)
        self.out.append(TrackInfo(track_id, name, artist, album, name_key, artist_id))
        index = self.by_key[key] = len(self.out) - 1
        return index


# -- entry points ----------------------------------------------------------------------------------------

def parse_export(fileobj: IO[bytes], filename: str, limits: ImportLimits | None = None) -> ParsedHistory:
    """Read a zip or a single JSON export; raise BadImportFile with plain words when it can't be used."""
    limits = limits or ImportLimits()
    with SeekableUpload(fileobj, limits.max_upload_bytes) as stream:
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        if size > limits.max_upload_bytes:
            raise BadImportFile(f"That file is too big: the limit is {megabytes(limits.max_upload_bytes)}. "
                                "Spotify's own zip is well under that, so please upload it as it came.")
        if size == 0:
            raise BadImportFile("That file is empty. Please pick the zip file Spotify sent you.")
        history = ParsedHistory()
        if zipfile.is_zipfile(stream):
            stream.seek(0)
            _read_zip(stream, history, limits)
        else:
            stream.seek(0)
            if not _looks_like_json(stream):
                raise BadImportFile("That file isn't a zip or a JSON file. Please upload the zip file Spotify sent "
                                    "you, or one of the .json files inside it.")
            stream.seek(0)
            if _OTHER_HISTORY_NAME.match(basename(filename)):
                raise BadImportFile("That file holds your podcast or video history, not your music. Please upload "
                                    "the zip Spotify sent you, or a Streaming_History_Audio_... or "
                                    "StreamingHistory_music_... file.")
            _read_json_file(stream, basename(filename) or "history.json", history, limits, single=True,
                            budget=ByteBudget(limits.max_uncompressed_bytes))
    if not history.files_read:
        raise BadImportFile("We couldn't find any listening history in that zip. Look for files named "
                            "Streaming_History_Audio_... or StreamingHistory_music_... inside it.")
    if not history.plays:
        raise BadImportFile(_nothing_usable_message(history))
    return history


def _nothing_usable_message(history: ParsedHistory) -> str:
    if history.entries_broken and not history.non_music:
        which = ("The only entry in that file couldn't be read" if history.entries_broken == 1
                 else f"None of the {history.entries_broken:,} entries in that file could be read")
        return (f"{which}, so nothing was imported. Was the file changed after you downloaded it? "
                "Please try the original file from Spotify.")
    if history.non_music and not history.entries_broken:
        return "That file only has podcasts or other non-music entries in it, so there was nothing to import."
    return "We couldn't find any songs in that file, so nothing was imported."


# -- containers: zip and plain file --------------------------------------------------------------------------

def _read_zip(stream: IO[bytes], history: ParsedHistory, limits: ImportLimits) -> None:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadImportFile("That zip file is damaged. Please download it again from Spotify.") from exc
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_zip_entries:
            raise BadImportFile(f"That zip holds {len(members):,} files, far more than a Spotify export. "
                                "Please upload the zip exactly as Spotify sent it.")
        if sum(m.file_size for m in members) > limits.max_uncompressed_bytes:
            raise BadImportFile(too_big_inside(limits.max_uncompressed_bytes))
        budget = ByteBudget(limits.max_uncompressed_bytes)
        wanted = sorted((m for m in members if not m.is_dir() and _history_format_from_name(m.filename)),
                        key=lambda m: (_history_format_from_name(m.filename) != FORMAT_EXTENDED, m.filename))
        accounts: set[str] = set()
        for member in wanted:
            if member.flag_bits & 0x1:
                raise BadImportFile("That zip is password protected. Please upload the zip exactly as Spotify sent it.")
            try:
                with archive.open(member) as raw:
                    counted = io.BufferedReader(CountingReader(raw, budget, member.file_size), 256 * 1024)
                    _read_json_file(counted, member.filename, history, limits, single=False, budget=None,
                                    accounts=accounts)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError,
                    RuntimeError) as exc:
                raise BadImportFile("That zip file is damaged. Please download it again from Spotify.") from exc


def _history_format_from_name(path: str) -> str | None:
    name = basename(path)
    if _EXTENDED_NAME.match(name):
        return FORMAT_EXTENDED
    if _ACCOUNT_NAME.match(name):
        return FORMAT_ACCOUNT
    return None


def _read_json_file(stream: IO[bytes], name: str, history: ParsedHistory, limits: ImportLimits, *, single: bool,
                    budget: ByteBudget | None, accounts: set[str] | None = None) -> None:
    """Decode one JSON history file entry by entry into `history`."""
    if budget is not None:
        stream = io.BufferedReader(CountingReader(stream, budget, None), 256 * 1024)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    if history.registry is None:
        history.registry = _Tracks(history.tracks)
    tracks = history.registry
    reader: _EntryReader | None = None
    accounts = accounts if accounts is not None else set()
    try:
        for entry in iter_json_array(text, limits.max_entry_chars, name, READ_CHUNK_CHARS):
            if reader is None:
                fmt = _format_from_fields(entry) or _history_format_from_name(name)
                if fmt is None:
                    raise BadImportFile(f"{basename(name)} doesn't look like a Spotify listening history file.")
                reader = _EntryReader(fmt, history, tracks, accounts)
                history.formats.add(fmt)
            reader.add(entry)
    except UnicodeDecodeError as exc:
        raise BadImportFile(f"{basename(name)} isn't readable text. Please upload the original file from Spotify.") \
            from exc
    finally:
        text.detach()
    history.files_read.append(basename(name))


def _format_from_fields(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    if "ts" in entry and "ms_played" in entry:
        return FORMAT_EXTENDED
    if "endTime" in entry and "msPlayed" in entry:
        return FORMAT_ACCOUNT
    return None


# -- entries --------------------------------------------------------------------------------------------------

class _EntryReader:
    """Turns entries of one format into play tuples, counting broken and non-music ones."""

    def __init__(self, fmt: str, history: ParsedHistory, tracks: _Tracks, accounts: set[str]) -> None:
        self.history = history
        self.tracks = tracks
        self.accounts = accounts
        self.latest_ms = int(datetime.now(UTC).timestamp() * 1000) + _SLACK_MS
        self.add = self._add_extended if fmt == FORMAT_EXTENDED else self._add_account

    def _add_extended(self, entry: Any) -> None:
        if not isinstance(entry, dict):
            self.history.entries_broken += 1
            return
        username = entry.get("username")
        if username and isinstance(username, str) and username not in self.accounts:
            self.accounts.add(username)
            if len(self.accounts) > 1:
                raise BadImportFile("This upload mixes the listening history of two different Spotify accounts. "
                                    "Please upload only your own export.")
        name = entry.get("master_metadata_track_name")
        artist = entry.get("master_metadata_album_artist_name")
        album = entry.get("master_metadata_album_album_name")
        uri = entry.get("spotify_track_uri")
        ms = entry.get("ms_played")
        played_at = self._time(entry.get("ts"))
        if played_at is None or type(ms) is not int or ms < 0 or not _str_or_none(name, artist, album, uri):
            self.history.entries_broken += 1
            return
        if not name:
            self.history.non_music += 1  # podcasts, audiobooks and entries with no track at all
            return
        if any(entry.get(key) for key in _EPISODE_FIELDS):
            self.history.non_music += 1
            return
        if not artist:
            self.history.entries_broken += 1
            return
        index = self.tracks.index(_track_id(uri), name, artist, album or None)
        self.history.plays.append((played_at, ms, index, 1))

    def _add_account(self, entry: Any) -> None:
        if not isinstance(entry, dict):
            self.history.entries_broken += 1
            return
        name = entry.get("trackName")
        artist = entry.get("artistName")
        ms = entry.get("msPlayed")
        played_at = self._time(entry.get("endTime"))
        if (played_at is None or type(ms) is not int or ms < 0 or not isinstance(name, str)
                or not isinstance(artist, str) or not name.strip() or not artist.strip()):
            self.history.entries_broken += 1
            return
        index = self.tracks.index(None, name, artist, None)
        self.history.plays.append((played_at, ms, index, 0))

    def _time(self, value: Any) -> int | None:
        """Milliseconds since 1970 for an ISO time in UTC, or None if it isn't one (or can't be true)."""
        if not isinstance(value, str) or not 16 <= len(value) <= 35:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ms = int(moment.timestamp() * 1000)
        return ms if _EARLIEST_MS <= ms <= self.latest_ms else None


def _str_or_none(*values: Any) -> bool:
    return all(value is None or isinstance(value, str) for value in values)


def _track_id(uri: str | None) -> str | None:
    """The Spotify track id inside `spotify:track:<id>`; None for local files, episodes and odd values."""
    if uri and uri.startswith("spotify:track:"):
        track_id = uri[14:]
        if len(track_id) == 22 and track_id.isascii() and track_id.isalnum():
            return track_id
    return None


# -- small helpers -----------------------------------------------------------------------------------------------

def _looks_like_json(stream: IO[bytes]) -> bool:
    head = stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"[", b"{")


