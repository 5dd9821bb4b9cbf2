"""A spool: the big members a command will read, copied out of a compressed archive's one pass.

A compressed archive is decompressed once, at open, to list it. Small members are kept in
memory then; a big one (a pages image) would have to be decompressed again, from the archive's
start, each time it is read. When the command says at open which members it will read
(``Checkpoint.open(..., spool=...)``), the listing pass copies each of them that is not kept in
memory into a ``Spool``: one unlinked temporary file (``tempfile.TemporaryFile``), members back
to back, read and mapped from there afterwards. Nothing is left behind: the file has no name
from the start and its space is freed when the checkpoint closes, or when the process ends in
any way.

Where: ``--tmpdir DIR``, else ``$CHECKFORENSICS_TMPDIR``, else ``$TMPDIR``, else ``/tmp``. How
much: a member is spooled only while the file system keeps ``SPOOL_MARGIN`` bytes and
``SPOOL_MARGIN_SHARE`` of its size free after it, counted against the free space seen before
the first byte was written; and never more than the listing pass decompresses, which the
expansion limit bounds (a decompression bomb stops there, before its member is inflated, so it
cannot fill the disk through the spool either). A member that does not fit, or that the disk
refuses (``ENOSPC`` meanwhile), is read as before, by decompressing the archive again;
``notes`` says so, for ``--debug``.
"""

from __future__ import annotations

import errno
import os
from typing import BinaryIO

from checkforensics.archive.members import MemberInfo

SPOOL_MARGIN = 1 << 30  # free bytes left in the spool's file system, at least...
SPOOL_MARGIN_SHARE = 0.05  # ...and this share of its size
_directory: str | None = None  # --tmpdir
notes: list[str] = []  # what the spools of this run did, for --debug


def use_directory(path: str | None) -> None:
    """Spool into ``path`` from now on (None: back to ``$CHECKFORENSICS_TMPDIR`` or the
    system's temporary directory). The CLI's ``--tmpdir``."""
    global _directory
    _directory = path


def spool_directory() -> str:
    """Where spools go: ``--tmpdir``, ``$CHECKFORENSICS_TMPDIR``, ``$TMPDIR``, or ``/tmp``. Never
    Python's last resort, the working directory (which may be the evidence's): when none of
    these can be written, there is no spool."""
    return _directory or os.environ.get("CHECKFORENSICS_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"


def _write(fd: int, data: memoryview, offset: int) -> int:
    return os.pwrite(fd, data, offset)  # a test replaces this to fill the disk


class Spool:
    """Members of one archive copied into one unlinked temporary file, back to back.

    ``writer(data_offset, info)`` hands the listing pass a reader for a member (``MemberReader``
    of ``tarscan``) that copies it in; ``place(data_offset)`` says where a member spooled whole
    lies: ``(fd, offset)``, read with ``pread`` or mapped.
    """

    def __init__(self, where: str, directory: str | None = None) -> None:
        self.where = where  # the archive, for the notes
        self.directory = directory or spool_directory()
        self.size = 0  # bytes of members spooled whole
        self.members: dict[int, tuple[int, int]] = {}  # data offset in the archive -> (offset, size) here
        self._file: BinaryIO | None = None
        self._room: int | None = None  # bytes the spool may hold in all
        self._closed_to_new = False

    def writer(self, data_offset: int, info: MemberInfo) -> _SpoolWriter | None:
        """A reader copying member ``info`` (its data at ``data_offset`` of the decompressed
        archive) into the spool, or None when it does not fit."""
        if self._closed_to_new:
            return None
        if self._room is None and not self._create():
            return None
        assert self._room is not None
        if self.size + info.size > self._room:
            self._note(
                f"{info.name} ({info.size} bytes) not spooled: {self.directory} would keep less than "
                f"{_margin_text()} free; read by decompressing the archive again"
            )
            return None
        assert self._file is not None
        # the room taken at once: faster to fill (no block allocated a write at a time), and a
        # disk filled meanwhile says so now
        try:
            os.posix_fallocate(self._file.fileno(), self.size, info.size)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                self._failed(self.size, exc)
                return None
            # a file system that cannot reserve room: written as it comes
        return _SpoolWriter(self, data_offset, info.size)

    def place(self, data_offset: int) -> tuple[int, int] | None:
        """``(fd, offset)`` of the member whose data starts at ``data_offset``, if spooled whole."""
        found = self.members.get(data_offset)
        if found is None or self._file is None:
            return None
        return self._file.fileno(), found[0]

    def _create(self) -> bool:
        import tempfile  # here: only a spool needs it (start-up is much of a small command's time)

        try:
            status = os.statvfs(self.directory)
            free = status.f_bavail * status.f_frsize
            margin = max(SPOOL_MARGIN, int(status.f_blocks * status.f_frsize * SPOOL_MARGIN_SHARE))
            if free <= margin:
                self._closed_to_new = True
                self._note(f"no spool: {self.directory} has {free} bytes free, {_margin_text()} must stay free")
                return False
            # unlinked from the start, so nothing is left behind; closed by close()
            self._file = tempfile.TemporaryFile(dir=self.directory)  # noqa: SIM115
        except OSError as exc:
            self._closed_to_new = True
            self._note(f"no spool in {self.directory} ({exc.strerror or exc}); big members read by decompressing again")
            return False
        self._room = free - margin
        return True

    def _failed(self, start: int, exc: OSError) -> None:
        """A write failed (the disk filled meanwhile): drop what the member wrote, spool no more."""
        assert self._file is not None
        self._closed_to_new = True
        os.ftruncate(self._file.fileno(), start)
        self._note(f"spool in {self.directory} stopped ({exc.strerror or exc}); the rest read by decompressing again")

    def _note(self, text: str) -> None:
        notes.append(f"{self.where}: {text}")

    def close(self) -> None:
        if self._file is not None:
            if self.members:
                count = len(self.members)
                notes.append(
                    f"{self.where}: {count} member{'s' if count != 1 else ''} ({self.size} bytes) read from a "
                    f"spool in {self.directory}, now freed"
                )
            self._file.close()
            self._file = None
        self.members.clear()


class _SpoolWriter:
    """Copies one member into the spool as the listing pass pours it (a ``MemberReader``)."""

    def __init__(self, spool: Spool, data_offset: int, size: int) -> None:
        self._spool = spool
        self._data_offset = data_offset
        self._size = size
        self._start = spool.size
        self._written = 0
        self._failed = False

    def feed(self, buffer: bytearray, size: int) -> bool:
        if self._failed:
            return False
        assert self._spool._file is not None
        fd = self._spool._file.fileno()
        data = memoryview(buffer)[:size]
        done = 0
        try:
            while done < size:
                done += _write(fd, data[done:], self._start + self._written + done)
        except OSError as exc:
            self._failed = True
            self._spool._failed(self._start, exc)
            return False
        self._written += size
        return True

    def end(self, complete: bool) -> None:
        spool = self._spool
        if complete and not self._failed and self._written == self._size:
            spool.members[self._data_offset] = (self._start, self._size)
            spool.size += self._size
        elif not self._failed and spool._file is not None:  # a cut member: its bytes are not used
            os.ftruncate(spool._file.fileno(), self._start)


def _margin_text() -> str:
    return f"{SPOOL_MARGIN >> 30} GiB and {SPOOL_MARGIN_SHARE:.0%} of its size"
