"""Decoding a top-level JSON array item by item, so a history file of any size never sits whole in memory."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from utils.errors import BadImportFile
from utils.sources.upload_guard import basename

_WHITESPACE = re.compile(r"[ \t\n\r]*")


def iter_json_array(text: IO[str], max_entry_chars: int, name: str, chunk_chars: int) -> Iterator[Any]:
    """Yield the items of a top-level JSON array without holding the whole file in memory."""
    decoder = json.JSONDecoder()
    buf = text.read(chunk_chars)
    pos = 0
    eof = not buf
    pending_limit = max_entry_chars

    def broken() -> BadImportFile:
        return BadImportFile(f"{basename(name)} is damaged or isn't a Spotify listening history file "
                             "(it isn't valid JSON). Please upload the original file from Spotify.")

    def more() -> None:
        nonlocal buf, pos, eof
        chunk = text.read(max(chunk_chars, len(buf) - pos))
        if not chunk:
            eof = True
        buf = buf[pos:] + chunk
        pos = 0

    def skip_space() -> None:
        nonlocal pos
        while True:
            pos = _WHITESPACE.match(buf, pos).end()  # type: ignore[union-attr]
            if pos < len(buf) or eof:
                return
            more()

    skip_space()
    if pos >= len(buf) or buf[pos] != "[":
        if pos < len(buf) and buf[pos] == "{":
            raise BadImportFile(f"{basename(name)} doesn't hold a listening history. Look for files named "
                                "Streaming_History_Audio_... or StreamingHistory_music_....")
        raise broken()
    pos += 1
    skip_space()
    if pos < len(buf) and buf[pos] == "]":
        pos += 1
    else:
        while True:
            while True:
                try:
                    item, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError:
                    item, end = None, -1
                # A value touching the end of what we have may be cut short (a number): read on and retry.
                if end != -1 and (end < len(buf) or eof):
                    break
                if eof:
                    raise broken()
                if len(buf) - pos > pending_limit:
                    raise broken()
                more()
            if end - pos > pending_limit:
                raise broken()
            pos = end
            yield item
            skip_space()
            if pos >= len(buf):
                raise broken()
            if buf[pos] == "]":
                pos += 1
                break
            if buf[pos] != ",":
                raise broken()
            pos += 1
            skip_space()
            if pos >= len(buf) and eof:
                raise broken()
            if pos > chunk_chars:
                buf, pos = buf[pos:], 0
    skip_space()
    if pos < len(buf):
        raise broken()
