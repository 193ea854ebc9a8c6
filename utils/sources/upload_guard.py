"""Reading an uploaded file safely: a byte budget across the whole upload, members of a zip that can't grow past
their declared size, and a seekable copy of a stream that can't seek. No format knowledge here."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import PurePosixPath
from typing import IO, Any

from utils.errors import BadImportFile


class ByteBudget:
    """Counts real bytes read across a whole upload, so lying size fields can't smuggle in more."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def add(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise BadImportFile(too_big_inside(self.limit))


class CountingReader(io.RawIOBase):
    """A byte stream that stops a member growing past its declared size or the upload past its budget."""

    def __init__(self, raw: IO[bytes], budget: ByteBudget, declared: int | None) -> None:
        self.raw = raw
        self.budget = budget
        self.declared = declared
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.declared is not None and self.count > self.declared:
            raise BadImportFile("That zip file is damaged (a file inside it is bigger than it claims). "
                                "Please download it again from Spotify.")
        self.budget.add(n)
        return n


class SeekableUpload:
    """The upload as a seekable stream: itself when it can seek, else a temporary spooled copy (capped)."""

    def __init__(self, fileobj: IO[bytes], max_upload_bytes: int) -> None:
        self.fileobj = fileobj
        self.max_upload_bytes = max_upload_bytes
        self.copy: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        try:
            if self.fileobj.seekable():
                return self.fileobj
        except (AttributeError, ValueError, OSError):
            pass
        self.copy = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        budget = ByteBudget(self.max_upload_bytes)
        try:
            shutil.copyfileobj(CountingReader(self.fileobj, budget, None), self.copy, 1024 * 1024)
        except BadImportFile as exc:
            raise BadImportFile(f"That file is too big: the limit is {megabytes(self.max_upload_bytes)}.") from exc
        return self.copy

    def __exit__(self, *exc: object) -> None:
        if self.copy is not None:
            self.copy.close()


def basename(path: str) -> str:
    return PurePosixPath((path or "").replace("\\", "/")).name


def megabytes(size: int) -> str:
    return f"{size // (1024 * 1024):,} MB"


def too_big_inside(limit: int) -> str:
    return (f"That zip unpacks to more than {megabytes(limit)}, which is far more than a Spotify export. "
            "Please upload the zip exactly as Spotify sent it.")
