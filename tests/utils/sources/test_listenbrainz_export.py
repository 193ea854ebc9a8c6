"""`/import file` takes ListenBrainz's own export: a zip of JSON lines (or an older JSON array), counted once."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from database import Database
from tests.utils.sources.test_export_import import settings
from utils.errors import BadImportFile
from utils.sources.export_import import HistoryImporter

MEMBER = 4242
START = 1_700_000_000


def listen(uts: int, artist: str, title: str, **info: object) -> dict:
    return {"listened_at": uts, "recording_msid": "x", "user_name": "lb",
            "track_metadata": {"artist_name": artist, "track_name": title, "release_name": "Album",
                               "additional_info": dict(info)}}


def lb_zip(lines_by_file: dict[str, list[str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("user.json", json.dumps({"user_id": 1, "username": "lb"}))
        archive.writestr("feedback.jsonl", "")
        for name, lines in lines_by_file.items():
            archive.writestr(name, "\n".join(lines) + "\n")
    return buffer.getvalue()


@pytest.fixture
def importer(db: Database, tmp_path: Path) -> HistoryImporter:
    return HistoryImporter(db, settings(tmp_path))


def test_a_listenbrainz_export_zip_is_imported_once(db: Database, importer: HistoryImporter) -> None:
    data = lb_zip({
        "listens/2023/11.jsonl": [json.dumps(listen(START + i * 300, "Кино", f"Песня {i % 3}", duration_ms=200_000))
                                  for i in range(10)] + ["{broken", json.dumps({"track_metadata": {}})],
        "listens/2023/12.jsonl": [json.dumps(listen(START + 10_000, "Sigur Rós", "Hoppípolla",
                                                    spotify_id="https://open.spotify.com/track/6eTGxxQxiTFE6LfZHC33Wm"))],
    })
    summary = importer.import_file_blocking(MEMBER, "Member", io.BytesIO(data), "listenbrainz_lb.zip")
    assert summary.plays_added == 11 and summary.entries_skipped_broken == 2
    assert "Imported 11 plays from 2 files" in summary.message
    assert db.scalar("SELECT COUNT(*) FROM plays WHERE track_id = '6eTGxxQxiTFE6LfZHC33Wm'") == 1
    again = importer.import_file_blocking(MEMBER, "Member", io.BytesIO(data), "listenbrainz_lb.zip")
    assert again.plays_added == 0


def test_listens_already_brought_by_a_link_or_by_spotify_are_not_counted_again(
        db: Database, importer: HistoryImporter) -> None:
    db.ensure_user(MEMBER)
    db.save_source_link(MEMBER, "listenbrainz", "lb", None)
    db.store_source_page(MEMBER, "listenbrainz", [(START, "Кино", "Песня 0", None, None)])
    track = {"track_id": "sp2", "name": "Hoppípolla", "artist_id": "a2", "artist_name": "Sigur Rós"}
    db.store_sync(MEMBER, artists=[], tracks=[track], top_tracks={}, top_artists={},
                  plays=[((START + 5_000 + 250) * 1000, "sp2", 250_000)], recent_cursor_ms=None, synced_at=START)
    data = lb_zip({"listens/2023/11.jsonl": [json.dumps(listen(START, "Кино", "Песня 0")),
                                             json.dumps(listen(START + 5_000, "Sigur Rós", "Hoppípolla")),
                                             json.dumps(listen(START + 9_000, "Sigur Rós", "Hoppípolla"))]})
    summary = importer.import_file_blocking(MEMBER, "Member", io.BytesIO(data), "export.zip")
    assert summary.plays_added == 1
    assert db.scalar("SELECT COUNT(*) FROM plays WHERE discord_id = ?", (MEMBER,)) == 3


def test_an_older_json_array_export_and_a_single_jsonl_file(db: Database, importer: HistoryImporter) -> None:
    array = json.dumps([listen(START + i, "YOASOBI", "夜に駆ける") for i in range(0, 600, 300)]).encode()
    assert importer.import_file_blocking(MEMBER, "M", io.BytesIO(array), "listens.json").plays_added == 2
    lines = "\n".join(json.dumps(listen(START + 5_000 + i * 400, "Mø", "Lean On")) for i in range(3)).encode()
    assert importer.import_file_blocking(MEMBER, "M", io.BytesIO(lines), "2024-1.jsonl").plays_added == 3
    with pytest.raises(BadImportFile):
        importer.import_file_blocking(MEMBER, "M", io.BytesIO(b"{not json\n"), "bad.jsonl")
