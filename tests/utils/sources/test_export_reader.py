"""Reading Spotify exports: both formats, what is kept and dropped, and every kind of bad file."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from datetime import timedelta

import pytest

from storage.keys import local_id, track_key
from tests.helpers.export_files import (
    BASE_TIME,
    account_entry,
    extended_entry,
    make_zip,
    podcast_entry,
    to_json,
    track_uri,
)
from utils.errors import BadImportFile
from utils.sources import export_reader
from utils.sources.export_reader import FORMAT_ACCOUNT, FORMAT_EXTENDED, ImportLimits, parse_export

URI_A = track_uri(1)


def parse(data: bytes, name: str = "my_spotify_data.zip", **limits: int):
    return parse_export(io.BytesIO(data), name, ImportLimits(**limits) if limits else None)


def at(minutes: float):
    return BASE_TIME + timedelta(minutes=minutes)


def test_extended_history_keeps_music_plays_and_only_what_the_bot_uses() -> None:
    entries = [
        extended_entry(at(0), "Hurt", "Johnny Cash", album="American IV", uri=URI_A, ip_addr="198.51.100.77"),
        extended_entry(at(5), "Local Song", "Me", uri=None, ms_played=5_000),
        podcast_entry(at(10)),
        {"ts": "not a time", "ms_played": 1000},
    ]
    history = parse(to_json(entries), "Streaming_History_Audio_2021.json")
    assert history.formats == {FORMAT_EXTENDED}
    assert history.non_music == 1 and history.entries_broken == 1
    assert len(history.plays) == 2
    (first_at, first_ms, first_track, exact), (_, second_ms, second_track, _) = history.plays
    assert first_at == int(at(0).timestamp() * 1000) and first_ms == 200_000 and exact == 1
    hurt = history.tracks[first_track]
    assert (hurt.track_id, hurt.name, hurt.artist_name, hurt.album_name) == (URI_A[14:], "Hurt", "Johnny Cash", "American IV")
    assert hurt.artist_id.startswith("local:")
    local = history.tracks[second_track]
    assert local.track_id == local_id(track_key("Me", "Local Song")) and second_ms == 5_000
    # nothing but names, times and durations survives parsing
    assert "198.51.100.77" not in repr(history) and "Android" not in repr(history)


def test_account_data_format_is_read_and_timed_to_the_minute() -> None:
    data = make_zip({
        "StreamingHistory_music_0.json": to_json([account_entry(at(0), "Jolene", "Dolly Parton", 180_000)]),
        "StreamingHistory_podcast_0.json": to_json([{"endTime": "2021-03-01 12:00", "podcastName": "Show",
                                                   "episodeName": "Ep", "msPlayed": 1}]),
        "Userdata.json": b'{"username": "someone", "email": "someone@example.com"}',
    }, folder="Spotify Account Data/")
    history = parse(data)
    assert history.formats == {FORMAT_ACCOUNT}
    assert history.files_read == ["StreamingHistory_music_0.json"]
    (played_at, ms, index, exact), = history.plays
    assert played_at == int(at(0).timestamp() * 1000) and ms == 180_000 and exact == 0
    assert history.tracks[index].track_id == local_id(track_key("Dolly Parton", "Jolene"))


def test_a_single_json_is_recognised_by_its_fields_whatever_its_name() -> None:
    history = parse(to_json([extended_entry(at(0), "Hurt", "Johnny Cash", uri=URI_A)]), "download (3).json")
    assert history.formats == {FORMAT_EXTENDED} and len(history.plays) == 1


def test_the_same_track_in_several_files_is_one_track() -> None:
    files = {f"Streaming_History_Audio_{n}.json": to_json([extended_entry(at(n), "Hurt", "Johnny Cash", uri=URI_A)])
             for n in range(3)}
    history = parse(make_zip(files))
    assert len(history.plays) == 3 and len(history.tracks) == 1 and len(history.files_read) == 3


def test_decoding_does_not_depend_on_where_chunks_end(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [extended_entry(at(n), f"Song {n} \u00e9\u266b", "Art\u00efst", uri=track_uri(n), ms_played=n * 1000)
               for n in range(40)]
    entries[7] = 12345  # a bare number, cut across a chunk edge when chunks are tiny
    data = b"\xef\xbb\xbf" + to_json(entries)
    whole = parse(data, "Streaming_History_Audio_x.json")
    monkeypatch.setattr(export_reader, "READ_CHUNK_CHARS", 7)
    tiny = parse(data, "Streaming_History_Audio_x.json")
    assert tiny.plays == whole.plays and len(whole.plays) == 39 and whole.entries_broken == 1


@pytest.mark.parametrize("entry", [
    {"ts": "2021-03-01T12:00:00Z", "ms_played": "200000", "master_metadata_track_name": "A",
     "master_metadata_album_artist_name": "B"},
    {"ts": 1614600000, "ms_played": 1, "master_metadata_track_name": "A", "master_metadata_album_artist_name": "B"},
    {"ts": "2021-03-01T12:00:00Z", "ms_played": -5, "master_metadata_track_name": "A",
     "master_metadata_album_artist_name": "B"},
    {"ts": "2021-03-01T12:00:00Z", "ms_played": True, "master_metadata_track_name": "A",
     "master_metadata_album_artist_name": "B"},
    {"ts": "2021-03-01T12:00:00Z", "ms_played": 1, "master_metadata_track_name": ["A"],
     "master_metadata_album_artist_name": "B"},
    {"ts": "2021-03-01T12:00:00Z", "ms_played": 1, "master_metadata_track_name": "A"},
    {"ts": "1999-03-01T12:00:00Z", "ms_played": 1, "master_metadata_track_name": "A",
     "master_metadata_album_artist_name": "B"},
    ["not", "an", "entry"],
], ids=["ms-as-text", "ts-as-number", "negative-ms", "ms-bool", "name-list", "no-artist", "before-spotify", "list"])
def test_broken_entries_are_skipped_and_counted(entry: object) -> None:
    good = extended_entry(at(0), "Hurt", "Johnny Cash", uri=URI_A)
    history = parse(to_json([good, entry]), "Streaming_History_Audio_1.json")
    assert len(history.plays) == 1 and history.entries_broken == 1


def test_broken_account_entries_are_counted() -> None:
    entries = [account_entry(at(0), "Jolene", "Dolly Parton"),
               {"endTime": "yesterday", "artistName": "A", "trackName": "B", "msPlayed": 1},
               {"endTime": "2021-03-01 12:00", "artistName": "A", "msPlayed": 1},
               {"endTime": "2021-03-01 12:00", "artistName": "A", "trackName": "B", "msPlayed": 1.5}]
    history = parse(to_json(entries), "StreamingHistory_music_0.json")
    assert len(history.plays) == 1 and history.entries_broken == 3


def _lie_about_sizes(data: bytes, size: int) -> bytes:
    """Rewrite every declared uncompressed size in a zip (local headers and central directory)."""
    raw = bytearray(data)
    start = 0
    while (pos := raw.find(b"PK\x03\x04", start)) != -1:
        struct.pack_into("<I", raw, pos + 22, size)
        start = pos + 4
    start = 0
    while (pos := raw.find(b"PK\x01\x02", start)) != -1:
        struct.pack_into("<I", raw, pos + 24, size)
        start = pos + 4
    return bytes(raw)


def _bomb() -> bytes:
    """A small zip that unpacks to 40 MB of JSON whitespace (compresses about 1000:1)."""
    body = b"[" + b" " * (40 * 1024 * 1024) + b"]"
    return make_zip({"Streaming_History_Audio_0.json": body})


GOOD = to_json([extended_entry(at(0), "Hurt", "Johnny Cash", uri=URI_A)])


@pytest.mark.parametrize(("data", "name", "limits", "words"), [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "photo.png", {}, "isn't a zip or a JSON file"),
    (b"", "empty.json", {}, "empty"),
    (make_zip({"Userdata.json": b"{}", "Identity.json": b"{}"}), "x.zip", {}, "couldn't find any listening history"),
    (GOOD[:-40], "Streaming_History_Audio_1.json", {}, "damaged"),
    (make_zip({"Streaming_History_Audio_1.json": b"[{\"ts\": 1,,]"}), "x.zip", {}, "damaged"),
    (b'{"ts": "2021-03-01T12:00:00Z"}', "x.json", {}, "doesn't hold a listening history"),
    (b'[{"hello": "world"}]', "x.json", {}, "doesn't look like a Spotify listening history"),
    (to_json([podcast_entry(at(0))]), "Streaming_History_Audio_1.json", {}, "only has podcasts"),
    (to_json([{"ts": 5}, {"ts": 6}]), "Streaming_History_Audio_1.json", {}, "None of the 2 entries"),
    (b"[" + b"\xff\xfe" * 10 + b"]", "StreamingHistory_music_0.json", {}, "isn't readable text"),
    (GOOD, "x.json", {"max_upload_bytes": 100}, "too big"),
    (make_zip({f"Streaming_History_Audio_{n}.json": GOOD for n in range(6)}), "x.zip", {"max_zip_entries": 5},
     "far more than a Spotify export"),
    (make_zip({f"Streaming_History_Audio_{n}.json": GOOD for n in range(3)}), "x.zip",
     {"max_uncompressed_bytes": len(GOOD) * 2}, "unpacks to more than"),
    (_lie_about_sizes(make_zip({"Streaming_History_Audio_1.json": GOOD}), 50), "x.zip", {}, "damaged"),
    (_bomb(), "bomb.zip", {"max_uncompressed_bytes": 8 * 1024 * 1024}, "unpacks to more than"),
    (make_zip({"a/Streaming_History_Audio_1.json": to_json([extended_entry(at(0), "A", "B", username="anna")]),
               "b/Streaming_History_Audio_1.json": to_json([extended_entry(at(1), "A", "B", username="bert")])}),
     "x.zip", {}, "two different Spotify accounts"),
    (to_json([{"endTime": "2021-03-01 12:00", "podcastName": "P", "episodeName": "E", "msPlayed": 1}]),
     "StreamingHistory_podcast_0.json", {}, "podcast or video history"),
    (b"[" + b'"' + b"x" * 3000 + b'"]', "Streaming_History_Audio_1.json", {"max_entry_chars": 1000}, "damaged"),
], ids=["not-zip-or-json", "empty", "zip-without-history", "truncated-json", "malformed-json-in-zip",
        "object-not-array", "unknown-fields", "podcasts-only", "all-broken", "not-utf8", "upload-too-big",
        "too-many-entries", "declared-too-big", "lying-sizes", "bomb-counted", "two-accounts", "podcast-file",
        "entry-too-long"])
def test_bad_files_are_refused_in_plain_words(data: bytes, name: str, limits: dict[str, int], words: str) -> None:
    with pytest.raises(BadImportFile) as caught:
        parse(data, name, **limits)
    assert words in caught.value.user_message
    assert "Traceback" not in caught.value.user_message and "JSONDecodeError" not in caught.value.user_message


def test_a_bomb_with_honest_sizes_is_refused_before_anything_is_unpacked() -> None:
    bomb = _bomb()
    assert len(bomb) < 100 * 1024
    with pytest.raises(BadImportFile, match="unpacks to more than"):
        parse(bomb, "bomb.zip", max_uncompressed_bytes=1024 * 1024)


def test_a_stream_that_cannot_seek_is_copied_with_its_size_capped() -> None:
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            data = self.inner.read(len(buffer))
            buffer[:len(data)] = data
            return len(data)

    zipped = make_zip({"Streaming_History_Audio_1.json": GOOD})
    assert len(parse_export(OneWay(zipped), "x.zip").plays) == 1  # type: ignore[arg-type]
    with pytest.raises(BadImportFile, match="too big"):
        parse_export(OneWay(zipped), "x.zip", ImportLimits(max_upload_bytes=100))  # type: ignore[arg-type]


def test_an_old_export_with_one_username_is_fine() -> None:
    entries = [extended_entry(at(n), "A", "B", username="anna") for n in range(3)]
    history = parse(make_zip({"endsong_0.json": to_json(entries)}))
    assert len(history.plays) == 3
    assert "anna" not in repr(history)


def test_json_inside_zip_must_be_whole() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Streaming_History_Audio_1.json", json.dumps([1])[:-1])
    with pytest.raises(BadImportFile, match="damaged"):
        parse(archive.getvalue())
