"""An extracted archive or a ``criu dump -D`` images directory, read as a checkpoint.

The directory is walked without following symbolic links, and a file is only ever opened when
it still is the regular file that was listed, inside the directory.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from checkforensics import progress
from checkforensics.archive.fileio import hash_fd, open_readonly, pread
from checkforensics.archive.members import Entry, Listing, MemberInfo, decode_name, shown_name
from checkforensics.errors import ArchiveError


class Directory:
    """An extracted archive or images directory, walked without following symbolic links."""

    def __init__(self, root: Path) -> None:
        self.root = os.fspath(root)
        self.real_root = os.path.realpath(root)
        self.listing = Listing()
        self._fds: list[int] = []
        self._page_fds: dict[str, int] = {}  # member name -> the descriptor read_at reads through
        self._kept: dict[str, bytes] = {}  # small members already read whole, for sha256
        self._kept_size = 0
        self._digests: dict[str, str] = {}  # big members already streamed whole, for sha256
        self._walk()

    def _walk(self) -> None:
        """List every entry; each directory's entries sorted, and before what lies below them."""
        pending = [""]
        while pending:
            below = pending.pop()
            try:
                with os.scandir(os.path.join(self.root, below) if below else self.root) as scan:
                    children = sorted(scan, key=lambda child: os.fsencode(child.name))
            except OSError as exc:
                self.listing.warn(f"{shown_name(below)}: cannot list this directory ({exc.strerror})")
                continue
            subdirectories = []
            for child in children:
                fs_path = f"{below}/{child.name}" if below else child.name
                try:
                    entry = self._entry(fs_path, child.stat(follow_symlinks=False))
                except OSError as exc:
                    self.listing.warn(f"{shown_name(fs_path)}: cannot stat ({exc.strerror})")
                    continue
                self.listing.add(entry)
                if entry.info.kind == "dir":
                    subdirectories.append(fs_path)
            pending.extend(reversed(subdirectories))

    def _entry(self, fs_path: str, status: os.stat_result) -> Entry:
        name = decode_name(os.fsencode(fs_path), self.listing)
        kind = _mode_kind(status.st_mode)
        linkname = os.readlink(os.path.join(self.root, fs_path)) if kind == "symlink" else None
        info = MemberInfo(
            name=name,
            size=status.st_size if kind == "file" else 0,
            kind=kind,
            mode=stat.S_IMODE(status.st_mode),
            uid=status.st_uid,
            gid=status.st_gid,
            mtime=status.st_mtime,
            linkname=linkname,
        )
        if kind == "symlink" and not self._inside(os.path.join(self.root, fs_path)):
            self.listing.warn(
                f"{shown_name(name)}: symbolic link to {linkname!r} leads outside the directory; never followed"
            )
        elif kind == "device":
            self.listing.warn(f"{shown_name(name)}: device node in a checkpoint directory; listed, never read")
        return Entry(info, present=info.size, fs_path=fs_path, identity=_identity(status))

    def _inside(self, path: str) -> bool:
        resolved = os.path.realpath(path)
        return os.path.commonpath([self.real_root, resolved]) == self.real_root

    def _open_fd(self, entry: Entry, where: str) -> int:
        """A descriptor for ``entry``, only while it is the regular file listed, inside the root."""
        assert entry.fs_path is not None
        path = os.path.join(self.root, entry.fs_path)
        if not self._inside(path):
            raise ArchiveError("resolves outside the checkpoint directory; not followed", where=where)
        try:
            fd = open_readonly(path, nofollow=True)
        except OSError as exc:
            raise ArchiveError(f"cannot open ({exc.strerror})", where=where) from None
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or _identity(status) != entry.identity:
            os.close(fd)
            raise ArchiveError("changed since the checkpoint was opened; not read", where=where)
        return fd

    def read(self, entry: Entry, where: str, limit: int | None) -> bytes:
        with self.open(entry, where) as stream:
            data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise ArchiveError(f"is larger than the {limit}-byte limit", where=where)
        return data

    def _keep(self, entry: Entry, data: bytes) -> None:
        """Keep a small member's bytes, so that hashing the directory later need not open it
        again: every member is opened once, and the hash covers the very bytes analysed."""
        if len(data) == entry.info.size and len(data) <= _KEEP_EACH and self._kept_size + len(data) <= _KEEP_ALL:
            self._kept[entry.info.name] = data
            self._kept_size += len(data)

    def open(self, entry: Entry, where: str) -> BinaryIO:
        fd = self._open_fd(entry, where)
        if entry.info.size <= _KEEP_EACH:  # small: read whole at once, and kept for hashing
            with os.fdopen(fd, "rb") as stream:
                data = stream.read()
            self._keep(entry, data)
            return io.BytesIO(data)

        def finished(digest: str) -> None:
            self._digests[entry.info.name] = digest

        return io.BufferedReader(_HashingFile(fd, finished), buffer_size=1 << 20)  # type: ignore[return-value]

    def member_file(self, entry: Entry, where: str) -> tuple[int, int]:
        """One descriptor per member, kept open until close: read_at reads through it, memory
        searches map it, the directory's hash reads it; the file is opened once."""
        fd = self._page_fds.get(entry.info.name)
        if fd is None:
            fd = self._open_fd(entry, where)
            self._fds.append(fd)
            self._page_fds[entry.info.name] = fd
        return fd, 0

    def read_at(self, entry: Entry, where: str) -> Callable[[int, int], bytes]:
        fd, _ = self.member_file(entry, where)
        return lambda offset, size: pread(fd, size, offset) if offset >= 0 and size > 0 else b""

    def member_range(self, entry: Entry) -> tuple[int, int] | None:
        return None

    def sha256(self, where: Callable[[str], str]) -> str:
        """SHA-256 of the ``sha256sum``-style listing of every regular file, sorted by name."""
        import hashlib

        listing = hashlib.sha256()
        names = sorted(name for name, entry in self.listing.entries.items() if entry.info.kind == "file")
        with progress.task("hashing", sum(self.listing.entries[name].info.size for name in names)) as advance:
            for name in names:
                kept = self._kept.get(name)
                if name in self._digests:
                    digest = self._digests[name]
                    advance(self.listing.entries[name].info.size)
                elif kept is not None:
                    digest = hashlib.sha256(kept).hexdigest()
                    advance(len(kept))
                elif name in self._page_fds:
                    digest = hash_fd(self._page_fds[name], advance)
                else:
                    fd = self._open_fd(self.listing.entries[name], where(name))
                    try:
                        digest = hash_fd(fd, advance)
                    finally:
                        os.close(fd)
                listing.update(f"{digest}  {name}\n".encode())
        return listing.hexdigest()

    def close(self) -> None:
        self._kept.clear()
        self._digests.clear()
        self._page_fds.clear()
        while self._fds:
            os.close(self._fds.pop())


class _HashingFile(io.RawIOBase):
    """A member streamed from its start: hashed on the way, so that hashing the directory
    afterwards need not read it again. A seek anywhere but forward to where the reading is
    ends the hashing (the digest must cover every byte in order)."""

    def __init__(self, fd: int, finished: Callable[[str], None]) -> None:
        import hashlib

        self._fd = fd
        self._position = 0
        self._hash: Any = hashlib.sha256()
        self._finished = finished

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = os.preadv(self._fd, [view], self._position)
        if self._hash is not None:
            if count:
                self._hash.update(view[:count])
            else:
                self._finished(self._hash.hexdigest())
                self._hash = None
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: os.fstat(self._fd).st_size}[whence]
        target += offset
        if target != self._position:
            self._hash = None
        self._position = target
        return target

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            # a tar reader stops at the end-of-archive blocks: hash the little that is left
            if self._hash is not None and os.fstat(self._fd).st_size - self._position <= _FINISH_AT_CLOSE:
                while self._hash is not None and self.readinto(bytearray(1 << 16)):
                    pass
            os.close(self._fd)
        super().close()


_FINISH_AT_CLOSE = 1 << 20
_KEEP_EACH = 4 << 20  # members kept for hashing: images, metadata; never pages of any size
_KEEP_ALL = 128 << 20


def _identity(status: os.stat_result) -> tuple[int, ...]:
    """What makes a file the one listed: same inode (numbers are reused, so also size and mtime)."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _mode_kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    return "other"
