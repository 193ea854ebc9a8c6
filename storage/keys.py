"""Names to keys: how a song or an artist is recognised whatever way it reached us, in any script.

`name_key` is the normalised "artist - title" of a track, or the normalised name of an artist; `local_id` gives
an item known only by name (imported history) a stable id. `register_sql_functions` gives a SQLite connection the
same functions, so SQL (queries, migrations) makes exactly the keys Python makes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
import unicodedata
from collections.abc import Callable

_FEATURING = re.compile(r"\s*[\(\[](?:feat|ft|with)\.?\s[^\)\]]*[\)\]]")
_ASCII_SEPARATORS = re.compile(r"[^a-z0-9]+")
_SPACED_HYPHEN = re.compile(r"\s*-\s*")


def _is_accent(mark: str, base: str) -> bool:
    """Whether a combining mark on `base` is an accent to fold away ("é" is an "e" to someone searching).

    Only on Latin, Greek and Cyrillic letters, and not the breve that makes Cyrillic "й" (a letter of its own, unlike
    "ё", which folds to "е"). In other scripts a combining mark is part of the letter (Japanese dakuten: "か" ka,
    "が" ga; Thai vowels and tones; Devanagari vowel signs), so it is kept and different words stay different.
    """
    if unicodedata.category(mark) != "Mn":
        return False
    point = ord(base)
    if 0x0400 <= point < 0x0530 or 0x1C80 <= point < 0x1C90 or 0x2DE0 <= point < 0x2E00 or 0xA640 <= point < 0xA6A0:
        return mark != "\u0306"  # Cyrillic
    return (point < 0x0400 or 0x1D00 <= point < 0x2000 or 0x2C60 <= point < 0x2C80 or 0xA720 <= point < 0xA800
            or 0xAB30 <= point < 0xAB70)


@functools.lru_cache(maxsize=65_536)
def normalise(text: str) -> str:
    """The matching form of a name, in any script: the same song matches across sources, different songs don't.

    Folds case (casefold), compatibility forms (NFKD: full-width letters, ligatures), accents on Latin, Greek and
    Cyrillic letters ("Beyoncé" = "Beyonce"), "(feat. ...)" tails, and every run of other characters (punctuation,
    symbols, spaces, "_") to one space. A name of only emoji or punctuation keeps its own (casefolded) text, so
    distinct ones stay distinct. The result never contains " - ", which separates the parts of a track key.
    """
    text = text or ""
    if text.isascii():
        folded = _FEATURING.sub("", text.lower())
        key = _ASCII_SEPARATORS.sub(" ", folded).strip()
    else:
        folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        folded = _FEATURING.sub("", folded)
        chars: list[str] = []
        base = ""  # the letter or digit the next combining marks belong to ("" after a separator)
        for char in folded:
            kind = unicodedata.category(char)[0]
            if kind == "M":
                if base and not _is_accent(char, base):
                    chars.append(char)
            elif kind in "LN":
                chars.append(char)
                base = char
            else:
                chars.append(" ")
                base = ""
        key = " ".join(unicodedata.normalize("NFC", "".join(chars)).split())
    if key:
        return key
    return _SPACED_HYPHEN.sub("-", " ".join(text.casefold().split()))


def artist_key(name: str) -> str:
    return normalise(name)


def track_key(artist_name: str, title: str) -> str:
    return f"{normalise(artist_name)} - {normalise(title)}"


def local_id(key: str) -> str:
    """A stable id for an item known only by name (imported history)."""
    return "local:" + hashlib.sha1(key.encode()).hexdigest()[:20]


_SQL_FUNCTIONS: tuple[tuple[str, int, Callable[..., str]], ...] = (
    ("normalise", 1, normalise), ("track_key", 2, track_key), ("local_id", 1, local_id))


def register_sql_functions(conn: sqlite3.Connection) -> None:
    """Give a connection the key functions the migrations and queries use, so SQL makes the same keys as Python.

    Every connection Database opens has them; one opened another way needs this before applying MIGRATIONS.
    """
    for name, arity, function in _SQL_FUNCTIONS:
        conn.create_function(name, arity, function, deterministic=True)
