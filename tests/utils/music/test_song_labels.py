"""Reasons name the member's songs by title and artist, read only for the songs a list names."""

from __future__ import annotations

import pickle

from utils.music.recommend import SongLabels


def test_songs_are_read_once_and_only_when_named_and_artists_win() -> None:
    reads: list[list[str]] = []

    def read(keys: list[str]) -> dict[str, str]:
        reads.append(keys)
        return {k: f"{k.title()} (song)" for k in keys if k != "gone - song"}

    labels = SongLabels({"band": "The Band", "band - band": "The Band"},
                        ["band - one", "band - two", "gone - song", "band - band"], read)
    assert labels.get("band") == "The Band" and reads == []  # an artist: no read
    labels.prefetch(["band - one", "gone - song", "band - one"])
    assert reads == [["band - one", "gone - song"]]  # one read for what a list names
    assert labels.get("band - one") == "Band - One (song)"
    assert labels.get("gone - song", "gone - song") == "gone - song"  # not stored: the key, as before
    assert labels.get("band - band") == "The Band"  # an artist's name wins over a song's
    assert labels.get("not mine - song") is None and len(reads) == 1  # not the member's: never read
    copy = pickle.loads(pickle.dumps(labels))
    assert type(copy) is dict and copy["band - two"] == "Band - Two (song)"  # the rest read on the way out


def test_a_song_not_read_yet_is_read_when_looked_up_by_key() -> None:
    labels = SongLabels({}, ["band - one"], lambda keys: {k: "One by Band" for k in keys})
    assert labels["band - one"] == "One by Band"
