"""Reading files without changing them: read-only opens, ``pread``, byte-range views, hashing.

Every input is opened read-only, ``O_NOATIME`` where the kernel allows it, so reading leaves even
the access times alone.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable

from checkforensics import progress

CHUNK = 1 << 20


def open_readonly(path: str | os.PathLike[str], *, nofollow: bool = False) -> int:
    """A read-only descriptor; ``O_NONBLOCK`` so a FIFO swapped in cannot hang us, ``O_NOATIME`` if allowed."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (os.O_NOFOLLOW if nofollow else 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        with contextlib.suppress(PermissionError):
            return os.open(path, flags | noatime)
    return os.open(path, flags)


def pread(fd: int, size: int, offset: int) -> bytes:
    """Up to ``size`` bytes at ``offset``; fewer only at the end of the file."""
    parts = []
    while size > 0:
        chunk = os.pread(fd, min(size, 1 << 30), offset)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


class RangeReader(io.RawIOBase):
    """A seekable read-only view of ``size`` bytes at ``start`` of a file, over its own ``dup`` of ``fd``."""

    def __init__(
        self,
        fd: int,
        start: int,
        size: int,
        advance: Callable[[int], None] | None = None,
        seen: Callable[[int, bytes], None] | None = None,
    ) -> None:
        super().__init__()
        self._fd = os.dup(fd)
        self._start = start
        self._size = size
        self._pos = 0
        self._advance = advance  # told how many bytes each read returns (a progress bar)
        self._seen = seen  # handed each read's bytes and where they lie (a hash made as they go by)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._start + self._pos)
        buffer[: len(data)] = data
        if self._seen is not None:
            self._seen(self._start + self._pos, data)
        self._pos += len(data)
        if self._advance is not None:
            self._advance(len(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class RunningHash:
    """SHA-256 of a file made as a pass reads it from its start (``RangeReader``'s ``seen``):
    bytes are taken in file order, a read going back over hashed bytes is ignored, and
    ``finish`` reads what the pass left unread. So the hash covers the very bytes analysed,
    and the file is not read a second time for it."""

    def __init__(self) -> None:
        import hashlib  # here: only hashing needs it, and it is slow to import

        self._digest = hashlib.sha256()
        self._upto = 0  # bytes hashed, from the file's start
        self._hex: str | None = None

    def __call__(self, offset: int, data: bytes) -> None:
        if offset <= self._upto < offset + len(data) and self._hex is None:
            self._digest.update(memoryview(data)[self._upto - offset :])
            self._upto = offset + len(data)

    def finish(self, fd: int) -> str:
        """The hex digest, after hashing the rest of the file ``fd`` (what the pass did not read)."""
        if self._hex is None:
            with progress.task("hashing", max(0, os.fstat(fd).st_size - self._upto)) as advance:
                while chunk := os.pread(fd, CHUNK, self._upto):
                    self._digest.update(chunk)
                    self._upto += len(chunk)
                    advance(len(chunk))
            self._hex = self._digest.hexdigest()
        return self._hex


def hash_fd(fd: int, advance: Callable[[int], None] | None = None) -> str:
    """Hex SHA-256 of the file ``fd``, read from its start; ``advance`` is told of each chunk
    (a progress bar of its own over big files otherwise)."""
    import hashlib  # here: only hashing needs it, and it is slow to import

    digest = hashlib.sha256()
    with contextlib.ExitStack() as stack:
        if advance is None:
            advance = stack.enter_context(progress.task("hashing", os.fstat(fd).st_size))
        offset = 0
        while chunk := os.pread(fd, CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
            advance(len(chunk))
    return digest.hexdigest()
