"""An uncompressed tar file: its headers walked at open, its members read with ``pread`` where they lie.

``member_range`` hands out the offset of a member's bytes in the file, for ``mmap``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from checkforensics.archive.fileio import RangeReader, hash_fd, pread
from checkforensics.archive.members import Entry, Listing
from checkforensics.archive.tarscan import NotATar, TarScanner
from checkforensics.errors import ArchiveError


class _PlainSource:
    """An uncompressed tar file, read with ``pread``; skipping data is a seek, nothing is read."""

    limit: int | None = None
    limit_text = ""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._size = size
        self.position = 0

    def read(self, size: int) -> bytes:
        data = pread(self._fd, size, self.position)
        self.position += len(data)
        return data

    def skip(self, size: int) -> int:
        skipped = max(0, min(size, self._size - self.position))
        self.position += skipped
        return skipped


class PlainTar:
    """An uncompressed tar file: headers walked at open, members read where they lie."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.listing = Listing()
        try:
            TarScanner(_PlainSource(fd, size), self.listing).run()
        except NotATar as exc:
            raise ArchiveError(f"damaged tar archive: its first header is unreadable ({exc})") from None

    def read(self, entry: Entry, where: str, limit: int | None) -> bytes:
        return pread(self.fd, entry.info.size, entry.data_offset)

    def open(self, entry: Entry, where: str) -> BinaryIO:
        return io.BufferedReader(RangeReader(self.fd, entry.data_offset, entry.info.size))

    def read_at(self, entry: Entry, where: str) -> Callable[[int, int], bytes]:
        def read_at(offset: int, size: int) -> bytes:
            size = min(size, entry.info.size - offset)
            return pread(self.fd, size, entry.data_offset + offset) if offset >= 0 and size > 0 else b""

        return read_at

    def member_file(self, entry: Entry, where: str) -> tuple[int, int] | None:
        return None

    def member_range(self, entry: Entry) -> tuple[int, int] | None:
        return entry.data_offset, entry.info.size

    def sha256(self, where: Callable[[str], str]) -> str:
        return hash_fd(self.fd)

    def close(self) -> None:
        pass
