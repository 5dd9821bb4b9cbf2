"""``Checkpoint``: a checkpoint archive or directory opened for reading, its members listed and read.

``Checkpoint.open`` recognises the input (``layout``), lists it with the backend for its kind
(``plaintar``, ``compressed`` or ``directory``) and then serves every question from that listing;
errors name the checkpoint and the member.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

from checkforensics.archive.compressed import CompressedTar
from checkforensics.archive.directory import Directory
from checkforensics.archive.fileio import open_readonly, pread
from checkforensics.archive.layout import detect_kind, directory_has_images, find_images
from checkforensics.archive.members import Entry, Listing, MemberInfo, normalise_name, shown_name
from checkforensics.archive.plaintar import PlainTar
from checkforensics.archive.tarheader import BLOCK
from checkforensics.archive.tarscan import MemberTap
from checkforensics.errors import ArchiveError, InputError, MemberNotFoundError


class _Backend(Protocol):
    """What ``Checkpoint`` needs from an input kind; ``where`` names the member in messages."""

    listing: Listing

    def read(self, entry: Entry, where: str, limit: int | None) -> bytes: ...

    def open(self, entry: Entry, where: str) -> BinaryIO: ...

    def read_at(self, entry: Entry, where: str) -> Callable[[int, int], bytes]: ...

    def member_file(self, entry: Entry, where: str) -> tuple[int, int] | None: ...

    def member_range(self, entry: Entry) -> tuple[int, int] | None: ...

    def sha256(self, where: Callable[[str], str]) -> str: ...

    def close(self) -> None: ...


_T = TypeVar("_T")


class Checkpoint:
    """A checkpoint opened for reading: members listed at open, bytes read on demand.

    Use ``Checkpoint.open(path)`` (and ``close()``, or ``with``).  ``kind`` is "tar", "tar.gz",
    "tar.zst", "tar.xz", "tar.bz2" or "directory"; ``images_prefix`` is "checkpoint/" for container
    archives and directories, "" for a bare images directory; ``warnings`` lists what was noticed
    at open and is not fatal (duplicates, hostile names, links leading out, truncation).
    ``no_images`` is None, or for a container checkpoint whose ``checkpoint/`` holds no CRIU
    images (or is missing) beside its metadata, what is missing in a few words (``warnings``
    then says so).
    """

    def __init__(
        self, path: Path, kind: str, images: tuple[str, str | None], backend: _Backend, fd: int | None
    ) -> None:
        self.path = path
        self.kind = kind
        self.images_prefix, self.no_images = images
        self.warnings: list[str] = list(backend.listing.warnings)
        # Why the listing stopped before the archive's end, and whether a decompression limit
        # (which --max-expansion raises) stopped it rather than a truncated or damaged archive.
        self.cut: str | None = backend.listing.cut
        self.limited = backend.listing.limited is not None
        if self.no_images is not None:
            self.warnings.append(
                f"{self.no_images} (no inventory.img / pstree.img): only the container metadata can be read"
            )
        self.closed = False
        self._backend = backend
        self._entries = backend.listing.entries
        self._fd = fd
        self._page_readers: dict[str, tuple[Callable[[int, int], bytes], int]] = {}

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        tap: MemberTap | None = None,
        spool: Callable[[MemberInfo], bool] | None = None,
        hash_in_pass: bool = False,
    ) -> Checkpoint:
        """Open an archive or directory, recognising its kind by content, and list its members.

        ``tap``: for a compressed archive, asked about each member as the listing pass reaches
        it; a reader it returns is poured the member's bytes there and then, so a caller that
        will read big members anyway (a memory search) does so without a second pass. A plain
        tar or a directory is never tapped: its members are read where they lie, when asked for.

        ``spool``: the members the caller will read (pages images, for a command that reads
        memory). A compressed archive's listing pass copies each of them that it does not keep
        in memory into an unlinked temporary file (``archive/spool.py``), where they are read
        and mapped afterwards instead of decompressing the archive again; within the room the
        temporary directory has, else they are read as without it.

        ``hash_in_pass``: the caller will ask for ``sha256()``; a compressed archive's pass hashes
        the bytes as it reads them (the hash covers the bytes analysed, read once).

        Raises InputError when ``path`` is missing, unreadable or not a checkpoint; ArchiveError
        (an InputError) when it is a damaged or hostile archive, or holds neither CRIU images nor
        container metadata.
        """
        path = Path(path)
        try:
            status = os.stat(path)
        except FileNotFoundError:
            raise InputError("no such file or directory", where=str(path)) from None
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror})", where=str(path)) from None
        if stat.S_ISDIR(status.st_mode):
            return cls._open_directory(path)
        try:
            fd = open_readonly(path)
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror})", where=str(path)) from None
        try:
            return cls._open_file(path, fd, tap, spool, hash_in_pass)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def _open_file(
        cls,
        path: Path,
        fd: int,
        tap: MemberTap | None,
        spool: Callable[[MemberInfo], bool] | None,
        hash_in_pass: bool,
    ) -> Checkpoint:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise InputError("is not a regular file or directory", where=str(path))
        head = pread(fd, BLOCK, 0)
        kind = detect_kind(head)
        if kind is None:
            what = "an empty file" if not head else "no tar, gzip, zstd, xz or bzip2 signature"
            raise InputError(f"is not a checkpoint archive or directory ({what} detected)", where=str(path))
        try:
            backend: _Backend = (
                PlainTar(fd, status.st_size)
                if kind == "tar"
                else CompressedTar(fd, status.st_size, kind, tap, spool, str(path), hash_in_pass)
            )
        except InputError as exc:
            raise exc.located(str(path)) from None
        except OSError as exc:
            raise ArchiveError(f"read error ({exc.strerror or exc})", where=str(path)) from None
        try:
            return cls(path, kind, find_images(backend.listing, str(path)), backend, fd)
        except BaseException:
            backend.close()
            raise

    @classmethod
    def _open_directory(cls, path: Path) -> Checkpoint:
        if not directory_has_images(path):
            raise InputError(
                "is not a checkpoint archive or directory (no CRIU images at the top or in checkpoint/ detected)",
                where=str(path),
            )
        try:
            backend = Directory(path)
        except InputError as exc:
            raise exc.located(str(path)) from None
        return cls(path, "directory", find_images(backend.listing, str(path)), backend, None)

    # -- listing

    def not_found(self, what: str, where: str | None = None) -> MemberNotFoundError:
        """The error saying ``what`` ("no image 'pstree.img' in this checkpoint"), and when the
        listing stopped before the archive's end, why: what is missing may be in what was not listed."""
        cut = f", whose listing stopped short: {self.cut}" if self.cut else ""
        return MemberNotFoundError(f"{what}{cut}", where=where or str(self.path))

    def members(self) -> list[MemberInfo]:
        """Every member, in archive order (a directory: sorted, each level before what is below it)."""
        return [entry.info for entry in self._entries.values()]

    def member(self, name: str) -> MemberInfo | None:
        """The member called ``name`` (``./`` and a trailing ``/`` are ignored), or None."""
        entry = self._entries.get(normalise_name(name))
        return entry.info if entry is not None else None

    def has(self, name: str) -> bool:
        """Whether a member called ``name`` exists, of any kind."""
        return normalise_name(name) in self._entries

    def image_names(self) -> list[str]:
        """The regular files directly in the images directory, relative to it, sorted."""
        names = []
        for name, entry in self._entries.items():
            rest = name[len(self.images_prefix) :] if name.startswith(self.images_prefix) else ""
            if rest and "/" not in rest and rest != ".." and entry.info.kind == "file":
                names.append(rest)
        return sorted(names)

    def has_image(self, name: str) -> bool:
        """Whether image ``name`` (e.g. ``core-1.img``) is in the images directory."""
        if "/" in name or name in ("", "."):
            return self.has(self.images_prefix + name)
        return self.images_prefix + name in self._entries  # already normal: asked for each process listed

    def where(self, name: str) -> str:
        """How to name member ``name`` in a message: ``archive.tar.zst:checkpoint/core-1.img``, or its path."""
        if self.kind == "directory":
            return str(self.path / shown_name(name))
        return f"{self.path}:{shown_name(name)}"

    def image_where(self, name: str) -> str:
        """How to name image ``name`` in a message (see ``where``)."""
        return self.where(self.images_prefix + name)

    # -- reading

    def read(self, name: str, *, limit: int | None = None) -> bytes:
        """The whole content of regular file ``name``.

        Raises MemberNotFoundError when it is absent; ArchiveError when it is not a regular file
        (links and devices are never followed or read), is larger than ``limit``, or is truncated.
        """
        entry, where = self._file_entry(name)
        if limit is not None and entry.info.size > limit:
            raise ArchiveError(f"is {entry.info.size} bytes, larger than the {limit}-byte limit", where=where)
        data = self._guarded(lambda: self._backend.read(entry, where, limit), where)
        if self.kind != "directory" and len(data) != entry.info.size:
            raise ArchiveError(f"truncated: only {len(data)} of {entry.info.size} bytes could be read", where=where)
        return data

    def open_member(self, name: str) -> BinaryIO:
        """A read-only, seekable file object streaming regular file ``name``; the caller closes it.

        Memory stays bounded whatever the member's size.  Errors as for ``read``.
        """
        entry, where = self._file_entry(name)
        return self._guarded(lambda: self._backend.open(entry, where), where)

    def page_reader(self, name: str) -> tuple[Callable[[int, int], bytes], int]:
        """Random access to regular file ``name``: ``(read_at(offset, size) -> bytes, its size)``.

        ``read_at`` returns fewer bytes only past the member's end.  Plain archives and directories
        are read with ``pread``; a compressed archive is streamed, starting over after a backward
        jump, so read it in increasing offsets.  Valid until the checkpoint is closed.  Asking
        again for the same member gives the same reader, so no descriptors pile up.
        """
        cache = self._page_readers
        if name in cache:
            return cache[name]
        entry, where = self._file_entry(name)
        read_at = self._guarded(lambda: self._backend.read_at(entry, where), where)

        def guarded_read_at(offset: int, size: int) -> bytes:
            self._check_open()
            return self._guarded(lambda: read_at(offset, size), where)

        cache[name] = (guarded_read_at, entry.info.size)
        return cache[name]

    def member_range(self, name: str) -> tuple[int, int] | None:
        """``(offset, size)`` of regular file ``name``'s bytes inside a plain tar file, for ``mmap``.

        None for compressed archives and directories.  Errors as for ``read``.
        """
        entry, _ = self._file_entry(name)
        return self._backend.member_range(entry)

    def member_file(self, name: str) -> tuple[int, int] | None:
        """``(fd, offset)``: a descriptor owned by the checkpoint (do not close it) of a file
        holding regular file ``name``'s bytes from ``offset`` on, for ``mmap`` and ``pread``: a
        directory's own file (offset 0), or the spool of a compressed archive opened with
        ``spool`` accepting the member. None otherwise (see ``member_range`` for a plain tar).
        Errors as for ``read``."""
        entry, where = self._file_entry(name)
        return self._guarded(lambda: self._backend.member_file(entry, where), where)

    def read_image(self, name: str, *, limit: int | None = None) -> bytes:
        """``read`` of image ``name`` in the images directory."""
        return self.read(self.images_prefix + name, limit=limit)

    def open_image(self, name: str) -> BinaryIO:
        """``open_member`` of image ``name`` in the images directory."""
        return self.open_member(self.images_prefix + name)

    def sha256(self) -> str:
        """Hex SHA-256 of the archive file as it is on disk.

        For a directory: the SHA-256 of a ``sha256sum``-style listing of its regular files, one
        ``"<hex digest>  <relative path>\\n"`` line each, sorted by path (links, devices and
        directories are not covered); the same as ``find . -type f | sed 's|^\\./||' | LC_ALL=C
        sort | xargs sha256sum | sha256sum`` run inside it.
        """
        self._check_open()
        return self._guarded(lambda: self._backend.sha256(self.where), str(self.path))

    # -- lifetime

    def close(self) -> None:
        """Release the input.  Streams from ``open_member`` stay usable until they are closed."""
        if self.closed:
            return
        self.closed = True
        self._backend.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r}, kind={self.kind!r}, images_prefix={self.images_prefix!r})"

    # -- helpers

    def _check_open(self) -> None:
        if self.closed:
            raise ArchiveError("the checkpoint has been closed", where=str(self.path))

    def _file_entry(self, name: str) -> tuple[Entry, str]:
        """The entry of regular file ``name`` and how to name it, or the error saying why it cannot be read."""
        self._check_open()
        entry = self._entries.get(normalise_name(name))
        if entry is None:
            raise self.not_found("no such member in the checkpoint", where=self.where(name))
        info, where = entry.info, self.where(entry.info.name)
        if info.kind != "file":
            target = f" to {info.linkname!r}" if info.linkname else ""
            raise ArchiveError(
                f"is a {info.kind}{target}, not a regular file; links and devices are never followed or read",
                where=where,
            )
        if info.truncated:
            raise ArchiveError(f"truncated: only {entry.present} of {info.size} bytes are in the archive", where=where)
        return entry, where

    @staticmethod
    def _guarded(action: Callable[[], _T], where: str) -> _T:
        """Run ``action``, turning an operating-system read error into an ArchiveError naming ``where``."""
        try:
            return action()
        except OSError as exc:
            raise ArchiveError(f"read error ({exc.strerror or exc})", where=where) from None
