"""Where checkforensics may write, and how: one guard for every file and directory a command writes.

A command builds an ``OutputGuard`` from the evidence it reads (a checkpoint archive or
directory; ``diff A B`` reads two) and asks it for a ``NewFile`` (``report -o``, ``memdump -o``,
``verify --record``) or an ``OutputDirectory`` (``coredump -o``, ``recover -o``,
``diff --extract``).  The guard refuses, with an ``OutputError`` (exit 3) naming the path:

- the input file itself, also when reached through a hard link;
- any path inside an evidence directory, however it is spelled (symbolic links above the last
  name are resolved, and the directories on the way are compared by device and inode);
- a target that is a symbolic link, dangling or not, even with ``--force``;
- an existing file, or a directory that is not empty, unless ``--force``.

A file is written to a temporary name created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` in the
directory of its target and renamed into place only when it is complete; on any failure (a full
disk, Ctrl-C, a damaged checkpoint) the temporary file is removed, so nothing half-written is
ever left behind.  Inside an output directory every file and subdirectory is reached relative to
a descriptor of its directory opened with ``O_DIRECTORY|O_NOFOLLOW``, one name at a time, so a
link planted there is never followed.

This is a layer beside ``render``: analysis code never decides a path; it receives an opened
handle or an ``OutputDirectory``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, cast

from checkforensics.errors import OutputError

StrPath = str | os.PathLike[str]

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Errors that only writing causes: wherever they come from while a file is open, the output is at fault.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
# link(2) is not possible on this filesystem: fall back to a check just before rename(2).
_NO_LINK_ERRNOS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS})

SYMLINK = "is a symbolic link; refusing to write through it"


@dataclass(frozen=True)
class _Evidence:
    given: str  # as the user wrote it: messages name it so
    resolved: Path
    identity: tuple[int, int]  # (st_dev, st_ino)
    is_directory: bool


class OutputGuard:
    """What may be written while ``evidence`` (checkpoint files or directories) is being read."""

    def __init__(self, *evidence: StrPath) -> None:
        self._evidence: list[_Evidence] = []
        for path in evidence:
            try:
                found = os.stat(path)
            except (OSError, ValueError):
                continue  # nothing there to protect; opening it will say what is wrong
            self._evidence.append(
                _Evidence(
                    given=os.fspath(path),
                    resolved=Path(os.path.realpath(path)),
                    identity=(found.st_dev, found.st_ino),
                    is_directory=stat.S_ISDIR(found.st_mode),
                )
            )

    def check(self, path: StrPath) -> Path:
        """Where ``path`` lies (symbolic links above its last name resolved, the last name kept);
        an ``OutputError`` when that is an input file or inside an evidence directory."""
        where = os.fspath(path)
        located = _locate(Path(path))
        for evidence in self._evidence:
            if evidence.is_directory:
                inside = located == evidence.resolved or evidence.resolved in located.parents
                if inside or evidence.identity in _identities_up_from(located):
                    raise _inside_error(evidence, where)
            elif located == evidence.resolved or _identity(located) == evidence.identity:
                raise _overwrite_error(evidence, where)
        return located

    def new_file(self, path: StrPath, *, force: bool = False, fsync: bool = False) -> NewFile:
        """A file to write whole or not at all (``with guard.new_file(p) as handle: ...``).

        The target is checked now, so a command can refuse before it does any work, and again
        when the file is written.  Its directory must exist.
        """
        located = self.check(path)
        return NewFile(self, located.parent, located.name, os.fspath(path), force=force, fsync=fsync)

    def output_directory(
        self, path: StrPath, *, force: bool = False, must_be_empty: bool = True, force_hint: bool = True
    ) -> OutputDirectory:
        """``path`` as an output directory, created (with its parents) when absent.

        An existing directory must be empty when ``must_be_empty``, unless ``force``; ``force``
        also lets files in it be replaced.  ``force_hint=False`` for a command whose --force
        means something else: messages then do not suggest it.
        """
        where = os.fspath(path)
        located = self.check(path)
        created = None
        if _lstat(located) is None:
            try:
                os.makedirs(located.parent, exist_ok=True)
                os.mkdir(located)
                created = located
            except FileExistsError:
                pass  # made meanwhile: opened and checked below like any other
            except OSError as error:
                raise OutputError(f"cannot create directory ({error.strerror})", where=where) from None
        directory = OutputDirectory(
            _open_directory(str(located), where), Path(path), self, force=force, force_hint=force_hint, created=created
        )
        try:
            self.refuse_evidence_directory(directory.fileno(), where)
            if must_be_empty and not force and os.listdir(directory.fileno()):
                hint = "(use --force to add to it)" if force_hint else "(give a new or empty directory)"
                raise OutputError(f"is not empty {hint}", where=where)
        except BaseException:
            directory.close()
            raise
        return directory

    def refuse_evidence_directory(self, fd: int, where: str) -> None:
        """An ``OutputError`` when the directory open at ``fd`` is an evidence directory."""
        found = os.fstat(fd)
        for evidence in self._evidence:
            if evidence.is_directory and evidence.identity == (found.st_dev, found.st_ino):
                raise _inside_error(evidence, where)

    def evidence_file(self, found: os.stat_result) -> str | None:
        """The name the user gave the input file ``found`` is (same device and inode), or None."""
        for evidence in self._evidence:
            if not evidence.is_directory and evidence.identity == (found.st_dev, found.st_ino):
                return evidence.given
        return None


class NewFile:
    """A file written to a temporary name beside its target and renamed into place when complete.

    Entering checks the target again and yields a binary handle (seekable); leaving without an
    exception renames the file into place, leaving with one removes it.  ``OSError`` while
    writing becomes an ``OutputError`` naming the target.
    """

    def __init__(
        self,
        guard: OutputGuard,
        parent: Path | OutputDirectory,
        name: str,
        where: str,
        *,
        force: bool,
        fsync: bool,
        force_hint: bool = True,
    ) -> None:
        self.path = where
        self._guard = guard
        self._parent = parent
        self._name = name
        self._force = force
        self._fsync = fsync
        self._force_hint = force_hint
        self._dir_fd: int | None = None
        self._temporary: str | None = None
        self._raw: _OutputRaw | None = None
        self._handle: io.BufferedWriter | None = None
        if isinstance(parent, Path):
            self._refuse_target(_lstat(parent / name))
        else:
            self._refuse_target(_lstat(name, parent.fileno()))

    def __enter__(self) -> BinaryIO:
        if isinstance(self._parent, Path):
            self._dir_fd = _open_directory(str(self._parent), self.path, following=True)
        else:
            self._dir_fd = self._parent.fileno()
        try:
            self._refuse_target(_lstat(self._name, self._dir_fd))
            self._temporary, fd = _create_temporary(self._dir_fd, self.path)
            self._raw = _OutputRaw(fd, self.path)
            self._handle = io.BufferedWriter(self._raw)
        except BaseException:
            self._discard()
            raise
        return cast(BinaryIO, self._handle)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is None:
                self._commit()
            elif isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
                raise _cannot_write(self.path, exc) from None
        finally:
            self._discard()

    def _commit(self) -> None:
        assert self._handle is not None and self._dir_fd is not None and self._temporary is not None
        try:
            self._handle.flush()
            if self._fsync:
                os.fsync(self._handle.fileno())
            self._handle.close()
            self._refuse_target(_lstat(self._name, self._dir_fd))  # it may have appeared meanwhile
            self._put_in_place(self._dir_fd, self._temporary)
            if self._fsync:
                os.fsync(self._dir_fd)
        except OSError as error:
            raise _cannot_write(self.path, error) from None

    def _put_in_place(self, dir_fd: int, temporary: str) -> None:
        if not self._force:
            # link(2) fails on an existing name: nothing that appeared since the check is replaced.
            try:
                os.link(temporary, self._name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except FileExistsError:
                raise OutputError(_exists_message(self._force_hint), where=self.path) from None
            except OSError as error:
                if error.errno not in _NO_LINK_ERRNOS:
                    raise
            else:
                os.unlink(temporary, dir_fd=dir_fd)
                self._temporary = None
                return
        os.rename(temporary, self._name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        self._temporary = None

    def _discard(self) -> None:
        """Close what is open and remove the temporary file if it is still there."""
        if self._handle is not None:
            with contextlib.suppress(Exception):
                self._handle.close()
        if self._raw is not None and not self._raw.closed:
            with contextlib.suppress(OSError):
                self._raw.close()
        if self._temporary is not None and self._dir_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary, dir_fd=self._dir_fd)
        if self._dir_fd is not None and isinstance(self._parent, Path):
            os.close(self._dir_fd)
        self._handle = self._raw = None
        self._temporary = self._dir_fd = None

    def _refuse_target(self, found: os.stat_result | None) -> None:
        if found is None:
            return
        evidence = self._guard.evidence_file(found)
        if evidence is not None:
            raise OutputError(f"refusing to overwrite the checkpoint {evidence}", where=self.path)
        if stat.S_ISLNK(found.st_mode):
            raise OutputError(SYMLINK, where=self.path)
        if stat.S_ISDIR(found.st_mode):
            raise OutputError("is a directory", where=self.path)
        if not stat.S_ISREG(found.st_mode):
            raise OutputError("exists and is not a regular file", where=self.path)
        if not self._force:
            raise OutputError(_exists_message(self._force_hint), where=self.path)


class OutputDirectory:
    """A directory to write into, held open; every name in it is resolved relative to that descriptor.

    Use it as a context manager: it is closed on leaving, and a directory it created is removed
    again when the work failed before anything was written into it.
    """

    def __init__(
        self,
        fd: int,
        path: Path,
        guard: OutputGuard,
        *,
        force: bool,
        force_hint: bool = True,
        created: Path | None = None,
        owns: bool = True,
    ) -> None:
        self.path = path
        self._fd: int | None = fd
        self._guard = guard
        self._force = force
        self._force_hint = force_hint
        self._created = created
        self._owns = owns

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError(f"output directory {self.path} is closed")
        return self._fd

    def new_file(self, name: str, *, fsync: bool = False) -> NewFile:
        """A ``NewFile`` called ``name`` (one plain name, no ``/``) in this directory."""
        _check_name(name, self.path)
        where = os.path.join(self.path, name)
        return NewFile(self._guard, self, name, where, force=self._force, fsync=fsync, force_hint=self._force_hint)

    def subdirectory(self, name: str) -> OutputDirectory:
        """Directory ``name`` in this one, created when absent; never a link, never the evidence."""
        _check_name(name, self.path)
        where = os.path.join(self.path, name)
        try:
            os.mkdir(name, dir_fd=self.fileno())
        except FileExistsError:
            pass
        except OSError as error:
            raise OutputError(f"cannot create directory ({error.strerror})", where=where) from None
        fd = _open_directory(name, where, dir_fd=self.fileno())
        child = OutputDirectory(fd, Path(where), self._guard, force=self._force, force_hint=self._force_hint)
        try:
            self._guard.refuse_evidence_directory(fd, where)
        except BaseException:
            child.close()
            raise
        return child

    def subdirectories(self, names: Sequence[str]) -> OutputDirectory:
        """``subdirectory`` name after name (``["home", "user"]`` for home/user); this one when empty."""
        current = OutputDirectory(self.fileno(), self.path, self._guard, force=self._force,
                                  force_hint=self._force_hint, owns=False)  # fmt: skip
        for name in names:
            try:
                deeper = current.subdirectory(name)
            finally:
                current.close()
            current = deeper
        return current

    def close(self) -> None:
        if self._fd is not None and self._owns:
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputDirectory:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        if exc is not None and self._created is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._created)  # only succeeds while it is still empty


class _OutputRaw(io.FileIO):
    """The temporary file's descriptor; a failed write names the target, not the temporary file."""

    def __init__(self, fd: int, where: str) -> None:
        super().__init__(fd, "wb")
        self._where = where

    def write(self, data: bytes) -> int | None:  # type: ignore[override]
        try:
            return super().write(data)
        except OSError as error:
            raise _cannot_write(self._where, error) from None


def _locate(path: Path) -> Path:
    """``path`` with every symbolic link above its last name resolved; the last name is kept as it is."""
    if path.name in ("", ".."):  # ".", "/", "dir/..": the directory itself
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def _lstat(path: StrPath, dir_fd: int | None = None) -> os.stat_result | None:
    try:
        return os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except (OSError, ValueError):
        return None  # absent or out of reach: whatever is written there next fails with its own reason


def _identity(path: Path) -> tuple[int, int] | None:
    found = _lstat(path)
    return None if found is None else (found.st_dev, found.st_ino)


def _identities_up_from(path: Path) -> set[tuple[int, int]]:
    """(device, inode) of ``path`` and of every existing directory above it: a bind mount or a
    second spelling of an evidence directory is recognised by these, not by its name."""
    found = set()
    for candidate in (path, *path.parents):
        identity = _identity(candidate)
        if identity is not None:
            found.add(identity)
    return found


def _open_directory(name: str, where: str, *, dir_fd: int | None = None, following: bool = False) -> int:
    flags = _DIRECTORY_FLAGS & ~os.O_NOFOLLOW if following else _DIRECTORY_FLAGS
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as error:
        found = _lstat(name, dir_fd)
        if found is not None and stat.S_ISLNK(found.st_mode) and not following:
            raise OutputError(SYMLINK, where=where) from None
        if found is not None and not stat.S_ISDIR(found.st_mode):
            raise OutputError("exists and is not a directory", where=where) from None
        raise _cannot_write(where, error) from None


def _create_temporary(dir_fd: int, where: str) -> tuple[str, int]:
    """A new, empty file with a random hidden name in the directory open at ``dir_fd``."""
    for _ in range(16):
        name = f".checkforensics-{secrets.token_hex(8)}.partial"
        try:
            return name, os.open(name, _TEMPORARY_FLAGS, 0o666, dir_fd=dir_fd)
        except FileExistsError:
            continue
        except OSError as error:
            raise _cannot_write(where, error) from None
    raise OutputError("cannot write (no free temporary name)", where=where)


def _check_name(name: str, directory: Path) -> None:
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise OutputError(f"refusing to create {name!a}: not a plain file name", where=str(directory))


def _exists_message(force_hint: bool) -> str:
    return "exists (use --force to overwrite)" if force_hint else "exists; refusing to overwrite it"


def _cannot_write(where: str, error: OSError) -> OutputError:
    return OutputError(f"cannot write ({error.strerror or error})", where=where)


def _inside_error(evidence: _Evidence, where: str) -> OutputError:
    return OutputError(f"refusing to write inside the evidence directory {evidence.given}", where=where)


def _overwrite_error(evidence: _Evidence, where: str) -> OutputError:
    return OutputError(f"refusing to overwrite the checkpoint {evidence.given}", where=where)


class Destination:
    """Where a command asked to write (``-o``), through the one output guard: what an analysis
    that writes is handed (cli.declare's ``Output`` makes it, the path checked before any work)."""

    def __init__(self, guard: OutputGuard, path: str, force: bool) -> None:
        self.guard, self.path, self.force = guard, path, force

    def directory(self, **options: Any) -> OutputDirectory:
        """The output directory, created when absent (``OutputGuard.output_directory``)."""
        return self.guard.output_directory(self.path, force=self.force, **options)

    def new_file(self, **options: Any) -> NewFile:
        """The output file, written whole or not at all (``OutputGuard.new_file``; ``fsync=True``)."""
        return self.guard.new_file(self.path, force=self.force, **options)

    def beside(self, suffix: str) -> Destination:
        """A file beside the output, named as it with ``suffix`` (``pid7.mem.index.json``),
        written under the same rules (the same guard and ``--force``)."""
        return Destination(self.guard, self.path + suffix, self.force)
