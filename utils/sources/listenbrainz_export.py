"""Reading ListenBrainz's own export for `/import file`. No database here.

ListenBrainz's "Export" (in a member's settings) is a zip holding `user.json`, `feedback.jsonl` and the listens as
JSON lines, one listen a line, under `listens/<year>/<month>.jsonl`, each in the API's shape (`listened_at`,
`track_metadata` with `artist_name`, `track_name`, `release_name`, `additional_info`). Older exports were one JSON
array of the same listens; export_reader reads those through `add_listen`. Lines are read one at a time, so a
huge export never sits in memory whole.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import IO, Any

from utils.errors import BadImportFile
from utils.sources.listenbrainz import listen_to_play
from utils.sources.upload_guard import ByteBudget, CountingReader, basename

FORMAT_LISTENBRAINZ = "listenbrainz"
# A listen says when it started, not how long it played: it counts as a full play (its song's length when known).
LISTEN_MS = 30_000
_LISTENS_FILE = re.compile(r"(^|/)listens/.+\.jsonl$", re.IGNORECASE)


def is_listenbrainz_zip(archive: zipfile.ZipFile) -> bool:
    return any(_LISTENS_FILE.search(member.filename) for member in archive.infolist() if not member.is_dir())


def listens_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return sorted((m for m in archive.infolist() if not m.is_dir() and _LISTENS_FILE.search(m.filename)),
                  key=lambda m: m.filename)


def looks_like_listen(entry: Any) -> bool:
    return isinstance(entry, dict) and "listened_at" in entry and "track_metadata" in entry


def add_listen(entry: Any, history: Any, tracks: Any) -> None:
    """One listen into `history` (export_reader.ParsedHistory): a play, or a broken entry."""
    play = listen_to_play(entry) if isinstance(entry, dict) else None
    if play is None:
        history.entries_broken += 1
        return
    info = (entry.get("track_metadata") or {}).get("additional_info") or {}
    duration = info.get("duration_ms") if isinstance(info, dict) else None
    ms = duration if isinstance(duration, int) and duration >= LISTEN_MS else LISTEN_MS
    index = tracks.index(play.spotify_id if play.spotify_id and len(play.spotify_id) == 22 else None,
                         play.title, play.artist, play.album)
    history.plays.append((play.uts * 1000, ms, index, 1))


def read_jsonl(stream: IO[bytes], name: str, history: Any, tracks: Any, max_entry_chars: int) -> None:
    """Every line of a `.jsonl` file of listens into `history`."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        while True:
            line = text.readline(max_entry_chars + 1)
            if not line:
                break
            if len(line) > max_entry_chars and not line.endswith("\n"):
                raise BadImportFile(f"{name} is damaged (one of its lines is far too long).")
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                history.entries_broken += 1
                continue
            add_listen(entry, history, tracks)
    except UnicodeDecodeError as exc:
        raise BadImportFile(f"{name} isn't readable text. Please upload the original file from ListenBrainz.") \
            from exc
    finally:
        text.detach()


def read_zip(archive: zipfile.ZipFile, history: Any, tracks: Any, max_entry_chars: int, budget: ByteBudget) -> None:
    """Every `listens/*.jsonl` file of ListenBrainz's export zip into `history`, within the upload's byte budget."""
    for member in listens_members(archive):
        try:
            with archive.open(member) as raw:
                counted = io.BufferedReader(CountingReader(raw, budget, member.file_size), 256 * 1024)
                read_jsonl(counted, basename(member.filename), history, tracks, max_entry_chars)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError,
                RuntimeError) as exc:
            raise BadImportFile("That zip file is damaged. Please download it again from ListenBrainz.") from exc
        history.files_read.append(basename(member.filename))
