"""Opening the evidence: a checkpoint archive or directory, listed and read in place.

``Checkpoint.open(path)`` takes a tar archive (plain, gzip, zstd, xz or bzip2, recognised by its
first bytes, never its name), an extracted archive directory (``checkpoint/`` beside
``config.dump``, ``spec.dump``, ...) or a bare ``criu dump -D`` images directory.  It lists the
members once, at open, and reads them on demand:

- a plain tar is listed by walking its headers (seeking over the data); members are read with
  ``pread`` at the offset their bytes sit at, which ``member_range`` hands out for ``mmap``;
- a compressed tar is listed in one streaming pass that keeps the bytes of small members in
  memory (never ``pages-*.img``); bigger members are read by streaming the archive again;
- a directory is walked without following symbolic links, and a file is only ever opened when
  it still is the regular file that was listed, inside the directory.

Inputs are opened read-only (with ``O_NOATIME`` where the kernel allows it, so reading leaves
even the access times alone); this layer writes nothing anywhere and never extracts.  Hostile
members (``..``, absolute names, links leading out, device nodes, duplicates) are listed with a
warning and never followed; a truncated archive lists the members that are whole.

References: POSIX.1-2017 ``pax`` (ustar and pax interchange formats); GNU tar manual, "Basic Tar
Format" (GNU long names, base-256 numbers, old sparse headers); Podman's checkpoint export
(``libpod/container_internal_common.go``: ``exportCheckpoint``); CRIU ``criu dump -D`` images.
"""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import gzip
import hashlib
import io
import lzma
import os
import posixpath
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

import zstandard

from checkforensics.errors import ArchiveError, InputError, MemberNotFoundError

BLOCK = 512  # a tar header or data block
SMALL_MEMBER_LIMIT = 16 << 20  # compressed archives: members kept in memory at open are at most this big...
CACHE_LIMIT = 256 << 20  # ...and all of them together at most this
MAX_MEMBERS = 1_000_000  # no checkpoint comes near; a tar of empty headers could
EXTENDED_HEADER_LIMIT = 1 << 20  # pax and GNU long-name data; real ones are a few hundred bytes
MAX_EXPANSION_RATIO = 4096  # one pass over a compressed archive expands it at most this many times...
MIN_EXPANSION_BUDGET = 1 << 30  # ...or this many bytes, whichever is more
_CHUNK = 1 << 20
_SKIP_CHUNK = 64 << 10

KINDS = ("file", "dir", "symlink", "hardlink", "device", "fifo", "other")  # the values of MemberInfo.kind
IMAGES_DIR = "checkpoint/"
_MARKER_IMAGES = ("inventory.img", "pstree.img")
_PAGES = re.compile(r"(?:^|/)pages-[^/]*\.img$")
_ZERO_BLOCK = bytes(BLOCK)

_COMPRESSIONS = {"tar.gz": "gzip", "tar.zst": "zstd", "tar.xz": "xz", "tar.bz2": "bzip2"}
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError)

# typeflag -> kind; "0", "\0" and "7" are regular files, "D" a GNU dump directory (with data)
_TYPEFLAG_KINDS = {b"1": "hardlink", b"2": "symlink", b"3": "device", b"4": "device", b"5": "dir", b"6": "fifo"}
_REGULAR_TYPEFLAGS = (b"0", b"\0", b"7")
_NO_DATA_TYPEFLAGS = frozenset(_TYPEFLAG_KINDS)  # links, devices, directories, FIFOs carry no data blocks
_EXTENDED_TYPEFLAGS = (b"L", b"K", b"x", b"X", b"g")


@dataclass(frozen=True)
class MemberInfo:
    """One member of a checkpoint, as its tar header (or ``lstat``) describes it.

    ``name`` is a normalised relative posix path (no ``./``, no trailing ``/``; ``..`` parts are
    kept, so a hostile name can never pose as a real one).  ``size`` is the length of the
    member's data (0 for links, devices and directories).  ``linkname`` is a symlink's target as
    stored, or a hard link's target member.  ``truncated`` is True for the one member a cut
    archive ends in: it is listed, but reading it fails.
    """

    name: str
    size: int
    kind: str
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class _Entry:
    """A member and where its bytes are: the tar stream offset, or a file below the directory."""

    info: MemberInfo
    data_offset: int = 0  # offset of the data in the (decompressed) tar stream
    present: int = 0  # bytes of data the input really holds (< size only when truncated)
    fs_path: str | None = None  # directory inputs: the path below the root, as the OS spells it
    identity: tuple[int, ...] | None = None  # directory inputs: what ``_identity`` said when listed


class _Listing:
    """Members in input order (a repeated name keeps only its last copy) and what was noticed."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.warnings: list[str] = []
        self.cut_at: int | None = None  # where a truncated or damaged tar stream stops making sense
        self.count = 0

    def add(self, entry: _Entry, offset: int | None = None) -> None:
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise ArchiveError(f"more than {MAX_MEMBERS} members; refusing to list further")
        name = entry.info.name
        if name in self.entries:
            at = f" at offset {offset:#x}" if offset is not None else ""
            self.warn(f"{_shown(name)}: duplicate member{at} replaces the earlier one (as tar extraction would)")
            del self.entries[name]
        self.entries[name] = entry

    def warn(self, text: str) -> None:
        self.warnings.append(text)


# --- names ------------------------------------------------------------------------------------


def normalise_name(raw: str) -> str:
    """``raw`` as a relative posix path: no leading ``/`` or ``./``, no empty or ``.`` parts."""
    return "/".join(part for part in raw.split("/") if part not in ("", "."))


def _shown(name: str) -> str:
    """``name`` safe for a one-line message: control characters spelled as escapes."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def _decode(raw: bytes, listing: _Listing) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        listing.warn(f"{_shown(text)}: name is not UTF-8; its undecodable bytes are shown as \\x escapes")
        return text


def _leaves_root(name: str) -> bool:
    return name == ".." or name.startswith("../")


def _note_hostile(info: MemberInfo, raw_name: str, listing: _Listing) -> None:
    """Warn about names and links that would reach outside the checkpoint if extracted."""
    shown = _shown(info.name)
    if raw_name.startswith("/"):
        listing.warn(f"{shown}: absolute member name {raw_name!r}, listed relative to the checkpoint")
    if ".." in info.name.split("/"):
        listing.warn(f"{shown}: member name climbs out of the checkpoint with '..'; listed as is, never extracted")
    if not info.name.isprintable():
        listing.warn(f"{shown}: member name holds control characters")
    target = info.linkname or ""
    if info.kind == "symlink":
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(info.name), target))
        if target.startswith("/") or _leaves_root(resolved):
            listing.warn(f"{shown}: symbolic link to {target!r} points outside the checkpoint; never followed")
    elif info.kind == "hardlink":
        if target.startswith("/") or _leaves_root(posixpath.normpath(target)):
            listing.warn(f"{shown}: hard link to {target!r} points outside the checkpoint; never followed")
        elif target not in listing.entries:
            listing.warn(f"{shown}: hard link to {target!r}, which is not an earlier member")
    elif info.kind == "device":
        listing.warn(f"{shown}: device node in a checkpoint; listed, never read")


# --- tar headers --------------------------------------------------------------------------------


class _BadHeader(Exception):
    """A 512-byte block that is not a tar header (internal; turned into a warning or an error)."""


@dataclass(frozen=True)
class _Header:
    name: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    typeflag: bytes
    linkname: bytes
    sparse_extended: bool


def _cstring(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


def _number(field: bytes, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 when the top bit of the first byte is set."""
    if field and field[0] & 0x80:
        if field[0] == 0xFF:
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = _cstring(field).strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise _BadHeader(f"bad {what} field {field!r}") from None


def _checksum_ok(block: bytes) -> bool:
    """The header checksum, computed over unsigned bytes (POSIX) or signed ones (old tars)."""
    try:
        stored = _number(block[148:156], "checksum")
    except _BadHeader:
        return False
    unsigned = sum(block) - sum(block[148:156]) + 8 * 0x20
    signed = unsigned - 256 * sum(1 for byte in block[:148] + block[156:] if byte >= 0x80)
    return stored in (unsigned, signed)


def looks_like_tar_header(block: bytes) -> bool:
    """True for a ustar/GNU header block (``ustar`` at offset 257), or a v7 one with a valid checksum."""
    if len(block) < BLOCK or block[:BLOCK] == _ZERO_BLOCK:
        return False
    return block[257:262] == b"ustar" or _checksum_ok(block[:BLOCK])


def _parse_header(block: bytes) -> _Header:
    if not _checksum_ok(block):
        raise _BadHeader("bad header checksum")
    name = _cstring(block[0:100])
    if block[257:263] == b"ustar\0":  # POSIX ustar; GNU's "ustar  \0" keeps other fields there
        prefix = _cstring(block[345:500])
        if prefix:
            name = prefix + b"/" + name
    size = _number(block[124:136], "size")
    if size < 0:
        raise _BadHeader(f"negative size {size}")
    return _Header(
        name=name,
        mode=_number(block[100:108], "mode") & 0o7777,
        uid=_number(block[108:116], "uid"),
        gid=_number(block[116:124], "gid"),
        size=size,
        mtime=_number(block[136:148], "mtime"),
        typeflag=block[156:157],
        linkname=_cstring(block[157:257]),
        sparse_extended=block[156:157] == b"S" and block[482] != 0,
    )


def _parse_pax(data: bytes) -> dict[str, bytes]:
    """The records of a pax extended header: ``"%d %s=%s\\n"``, the length counting the whole record."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        end = pos + length
        if length <= space - pos or end > len(data) or data[end - 1] != 0x0A:
            raise _BadHeader(f"malformed pax record at byte {pos}")
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if not sep:
            raise _BadHeader(f"pax record without '=' at byte {pos}")
        records[key.decode("utf-8", "replace")] = value
        pos = end
    return records


def _kind(header: _Header) -> str:
    if header.typeflag in _REGULAR_TYPEFLAGS:
        return "dir" if header.typeflag == b"\0" and header.name.endswith(b"/") else "file"
    if header.typeflag == b"D":
        return "dir"
    return _TYPEFLAG_KINDS.get(header.typeflag, "other")


def _data_length(header: _Header, kind: str, size: int) -> int:
    """How many data bytes follow the header (tar extraction skips none for links, devices, dirs)."""
    if header.typeflag in _NO_DATA_TYPEFLAGS or (kind == "dir" and header.typeflag != b"D"):
        return 0
    return size


# --- tar streams ------------------------------------------------------------------------------


class _TarSource(Protocol):
    """The bytes of a tar archive, read forward; ``limit`` caps what one member may declare."""

    position: int
    limit: int | None

    def read(self, size: int) -> bytes: ...

    def skip(self, size: int) -> int: ...


class _PlainSource:
    """An uncompressed tar file, read with ``pread``; skipping data is a seek, nothing is read."""

    limit: int | None = None

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._size = size
        self.position = 0

    def read(self, size: int) -> bytes:
        data = _pread(self._fd, size, self.position)
        self.position += len(data)
        return data

    def skip(self, size: int) -> int:
        skipped = max(0, min(size, self._size - self.position))
        self.position += skipped
        return skipped


class _StreamSource:
    """A decompressed stream, read forward in bounded chunks, stopping at ``budget`` bytes.

    A decompression error ends the stream as if it were cut there; ``damage`` says what happened.
    """

    def __init__(self, stream: BinaryIO, budget: int, describe: str) -> None:
        self._stream = stream
        self._budget = budget
        self._describe = describe
        self._ended = False
        self.position = 0
        self.limit: int | None = budget
        self.damage: str | None = None

    def _pull(self, size: int) -> bytes:
        if self._ended or size <= 0:
            return b""
        try:
            chunk = self._stream.read(size)
        except _DECOMPRESS_ERRORS as exc:
            self.damage = f"{self._describe} data ends or breaks after {self.position} bytes ({exc})"
            chunk = b""
        if not chunk:
            self._ended = True
            return b""
        self.position += len(chunk)
        if self.position > self._budget:
            raise ArchiveError(
                f"expands to more than {self._budget} bytes, over {MAX_EXPANSION_RATIO} times its compressed "
                "size; refusing to decompress further (decompression bomb?)"
            )
        return chunk

    def read(self, size: int) -> bytes:
        parts = []
        while size > 0:
            chunk = self._pull(min(size, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)

    def skip(self, size: int) -> int:
        skipped = 0
        while skipped < size:
            chunk = self._pull(min(size - skipped, _SKIP_CHUNK))
            if not chunk:
                break
            skipped += len(chunk)
        return skipped


class _NotATar(Exception):
    """The stream does not start with a tar header (internal; the caller says what the input is)."""


class _TarScanner:
    """Walks the headers of one tar stream into a ``_Listing``.

    With ``keep``, the data of each member it accepts is read into ``kept`` (keyed by data
    offset); all other data is skipped.  Stops at the end-of-archive block, at a cut, or at a
    damaged header, leaving a warning for the last two.
    """

    def __init__(
        self,
        source: _TarSource,
        listing: _Listing,
        *,
        keep: Callable[[MemberInfo], bool] | None = None,
        kept: dict[int, bytes] | None = None,
    ) -> None:
        self.source = source
        self.listing = listing
        self.keep = keep
        self.kept = kept if kept is not None else {}
        self._long_name: bytes | None = None
        self._long_link: bytes | None = None
        self._pax: dict[str, bytes] = {}
        self._global_pax: dict[str, bytes] = {}
        self._last_name: str | None = None

    def run(self) -> None:
        first = True
        while True:
            offset = self.source.position
            block = self.source.read(BLOCK)
            if len(block) < BLOCK:
                self._ended_without_marker(offset, len(block), first)
                return
            if block == _ZERO_BLOCK:
                if first:
                    raise _NotATar("it starts with an empty block")
                return
            try:
                header = _parse_header(block)
            except _BadHeader as exc:
                if first:
                    raise _NotATar(str(exc)) from None
                self._stop(offset, f"damaged tar header at offset {offset:#x} ({exc}); members after it are not listed")
                return
            first = False
            if not self._member(header, offset):
                return

    def _stop(self, offset: int, warning: str) -> None:
        self.listing.cut_at = offset
        self.listing.warn(warning)

    def _ended_without_marker(self, offset: int, got: int, first: bool) -> None:
        if first and offset == 0:
            raise _NotATar("it is empty" if got == 0 else f"it holds only {got} bytes")
        if got:
            self._stop(offset, f"truncated: the tar header at offset {offset:#x} is cut after {got} of {BLOCK} bytes")
        elif self._long_name is not None or self._long_link is not None or self._pax:
            self._stop(offset, f"truncated: the archive ends at offset {offset:#x} between a header and its member")
        else:
            self.listing.cut_at = offset
            after = f" after {self._last_name!r}" if self._last_name else ""
            self.listing.warn(
                f"the archive ends at offset {offset:#x}{after} without the end-of-archive blocks (truncated?)"
            )

    def _member(self, header: _Header, offset: int) -> bool:
        if header.typeflag in _EXTENDED_TYPEFLAGS:
            return self._extended(header, offset)
        if header.sparse_extended and not self._skip_sparse_extensions(offset):
            return False
        pax = {**self._global_pax, **self._pax}
        raw_name = _decode(pax.get("path") or self._long_name or header.name, self.listing)
        kind = _kind(header)
        raw_link = pax.get("linkpath") or self._long_link or header.linkname
        link = _decode(raw_link, self.listing) if kind in ("symlink", "hardlink") else ""
        self._long_name = self._long_link = None
        self._pax = {}
        size = _data_length(header, kind, _pax_number(pax, "size", header.size, int))
        name = normalise_name(raw_name)
        if not name:
            if kind != "dir":
                self.listing.warn(f"a {kind} member with an empty name at offset {offset:#x} is not listed")
            return self._skip_data(size, name)
        info = MemberInfo(
            name=name,
            size=size,
            kind=kind,
            mode=header.mode,
            uid=_pax_number(pax, "uid", header.uid, int),
            gid=_pax_number(pax, "gid", header.gid, int),
            mtime=_pax_number(pax, "mtime", header.mtime, float),
            linkname=_linkname(kind, link),
        )
        _note_hostile(info, raw_name, self.listing)
        self._last_name = name
        return self._data(info, offset)

    def _data(self, info: MemberInfo, offset: int) -> bool:
        """Record ``info`` and get past its data (kept, or skipped); False when the stream ends in it."""
        if self.source.limit is not None and info.size > self.source.limit:
            raise ArchiveError(
                f"member {_shown(info.name)!r} declares {info.size} bytes, more than this archive may expand to "
                f"({self.source.limit}); refusing it (decompression bomb?)"
            )
        data_offset = self.source.position
        if self.keep is not None and info.size and self.keep(info):
            data = self.source.read(info.size)
            present = len(data)
            if present == info.size:
                self.kept[data_offset] = data
        else:
            present = self.source.skip(info.size)
        if present < info.size:
            cut = dataclasses.replace(info, truncated=True)
            self.listing.add(_Entry(cut, data_offset, present), offset)
            self._stop(
                data_offset + present,
                f"{_shown(info.name)}: truncated: the archive ends after {present} of its {info.size} bytes",
            )
            return False
        self.listing.add(_Entry(info, data_offset, present), offset)
        self.source.skip(-info.size % BLOCK)
        return True

    def _skip_data(self, size: int, name: str) -> bool:
        if self.source.skip(size) < size:
            self._stop(self.source.position, f"truncated: the archive ends inside the data of {name!r}")
            return False
        self.source.skip(-size % BLOCK)
        return True

    def _extended(self, header: _Header, offset: int) -> bool:
        """Read a pax or GNU long-name header, to apply to the member that follows."""
        if header.size > EXTENDED_HEADER_LIMIT:
            raise ArchiveError(f"extended tar header of {header.size} bytes at offset {offset:#x}; refusing it")
        data = self.source.read(header.size)
        if len(data) < header.size:
            self._stop(offset, f"truncated: the archive ends inside the extended tar header at offset {offset:#x}")
            return False
        self.source.skip(-header.size % BLOCK)
        if header.typeflag == b"L":
            self._long_name = _cstring(data)
        elif header.typeflag == b"K":
            self._long_link = _cstring(data)
        else:
            try:
                records = _parse_pax(data)
            except _BadHeader as exc:
                self.listing.warn(f"pax header at offset {offset:#x} ignored: {exc}")
                return True
            records = {key: value for key, value in records.items() if value}
            if header.typeflag == b"g":
                self._global_pax.update(records)
            else:
                self._pax.update(records)
        return True

    def _skip_sparse_extensions(self, offset: int) -> bool:
        """Old GNU sparse members are followed by extension blocks until one says it is the last."""
        while True:
            block = self.source.read(BLOCK)
            if len(block) < BLOCK:
                self._stop(offset, f"truncated: the archive ends inside the sparse header at offset {offset:#x}")
                return False
            if block[504] == 0:
                return True


def _linkname(kind: str, raw: str) -> str | None:
    """A symlink's target as stored; a hard link's target member, normalised like member names."""
    if kind == "symlink":
        return raw
    return normalise_name(raw) if kind == "hardlink" else None


def _pax_number(pax: dict[str, bytes], key: str, default: int, kind: Callable[[str], int | float]) -> int | float:
    """A numeric pax record (``size``, ``uid``, ``mtime``...) overriding the header's, when it makes sense."""
    try:
        value = kind(pax[key].decode("ascii")) if key in pax else default
    except (ValueError, UnicodeDecodeError):
        return default
    return default if kind is int and value < 0 else value


# --- reading files --------------------------------------------------------------------------


def _open_readonly(path: str | os.PathLike[str], *, nofollow: bool = False) -> int:
    """A read-only descriptor; ``O_NONBLOCK`` so a FIFO swapped in cannot hang us, ``O_NOATIME`` if allowed."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (os.O_NOFOLLOW if nofollow else 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        with contextlib.suppress(PermissionError):
            return os.open(path, flags | noatime)
    return os.open(path, flags)


def _pread(fd: int, size: int, offset: int) -> bytes:
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


class _RangeReader(io.RawIOBase):
    """A seekable read-only view of ``size`` bytes at ``start`` of a file, over its own ``dup`` of ``fd``."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        super().__init__()
        self._fd = os.dup(fd)
        self._start = start
        self._size = size
        self._pos = 0

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
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _open_decompressor(raw: BinaryIO, kind: str) -> BinaryIO:
    """A decompressing reader over ``raw`` for archive ``kind`` ("tar.gz", "tar.zst", ...)."""
    if kind == "tar.gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "tar.xz":
        return lzma.LZMAFile(raw, "rb")
    if kind == "tar.bz2":
        return bz2.BZ2File(raw, "rb")
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]


def detect_kind(head: bytes) -> str | None:
    """The archive kind the first bytes of a file show ("tar", "tar.gz", ...), or None.

    A valid tar header wins over a compression signature: a tar whose first member is called
    ``BZh9...`` is still a tar.
    """
    if len(head) >= BLOCK and head[:BLOCK] != _ZERO_BLOCK and _checksum_ok(head[:BLOCK]):
        return "tar"
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if head.startswith(b"\x28\xb5\x2f\xfd") or (head[1:4] == b"\x2a\x4d\x18" and b"\x50" <= head[:1] <= b"\x5f"):
        return "tar.zst"  # a zstd frame, or a skippable frame ahead of one
    if head.startswith(b"\xfd7zXZ\x00"):
        return "tar.xz"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[3:4] != b"0":
        return "tar.bz2"
    if looks_like_tar_header(head):
        return "tar"
    return None


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, _CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


# --- the three kinds of input ----------------------------------------------------------------


class _Backend(Protocol):
    """What ``Checkpoint`` needs from an input kind; ``where`` names the member in messages."""

    listing: _Listing

    def read(self, entry: _Entry, where: str, limit: int | None) -> bytes: ...

    def open(self, entry: _Entry, where: str) -> BinaryIO: ...

    def read_at(self, entry: _Entry, where: str) -> Callable[[int, int], bytes]: ...

    def member_range(self, entry: _Entry) -> tuple[int, int] | None: ...

    def sha256(self, where: Callable[[str], str]) -> str: ...

    def close(self) -> None: ...


class _PlainTar:
    """An uncompressed tar file: headers walked at open, members read where they lie."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.listing = _Listing()
        try:
            _TarScanner(_PlainSource(fd, size), self.listing).run()
        except _NotATar as exc:
            raise ArchiveError(f"damaged tar archive: its first header is unreadable ({exc})") from None

    def read(self, entry: _Entry, where: str, limit: int | None) -> bytes:
        return _pread(self.fd, entry.info.size, entry.data_offset)

    def open(self, entry: _Entry, where: str) -> BinaryIO:
        return io.BufferedReader(_RangeReader(self.fd, entry.data_offset, entry.info.size))

    def read_at(self, entry: _Entry, where: str) -> Callable[[int, int], bytes]:
        def read_at(offset: int, size: int) -> bytes:
            size = min(size, entry.info.size - offset)
            return _pread(self.fd, size, entry.data_offset + offset) if offset >= 0 and size > 0 else b""

        return read_at

    def member_range(self, entry: _Entry) -> tuple[int, int] | None:
        return entry.data_offset, entry.info.size

    def sha256(self, where: Callable[[str], str]) -> str:
        return _hash_fd(self.fd)

    def close(self) -> None:
        pass


class _CompressedTar:
    """A compressed tar: listed in one streaming pass at open that keeps small members in memory.

    Other members are served by streaming the archive again up to them (``_CompressedMember``).
    """

    def __init__(self, fd: int, size: int, kind: str) -> None:
        self.fd = fd
        self.kind = kind
        self.codec = _COMPRESSIONS[kind]
        self.file_size = size
        self.listing = _Listing()
        self.kept: dict[int, bytes] = {}  # data offset -> content, for the members kept at open
        self._kept_bytes = 0
        self._readers: list[_CompressedMember] = []
        with self.stream(max(MIN_EXPANSION_BUDGET, size * MAX_EXPANSION_RATIO)) as source:
            try:
                _TarScanner(source, self.listing, keep=self._keep, kept=self.kept).run()
            except _NotATar as exc:
                why = source.damage or f"no tar archive inside: {exc}"
                raise InputError(
                    f"is not a checkpoint archive or directory ({self.codec} data detected, but {why})"
                ) from None
            if source.damage:
                self.listing.warn(source.damage)

    @contextlib.contextmanager
    def stream(self, budget: int, fd: int | None = None) -> Iterator[_StreamSource]:
        """The decompressed archive from its start (read through ``fd``), at most ``budget`` bytes of it."""
        raw = io.BufferedReader(_RangeReader(self.fd if fd is None else fd, 0, self.file_size), _CHUNK)
        try:
            yield _StreamSource(_open_decompressor(raw, self.kind), budget, self.codec)
        finally:
            raw.close()

    def _keep(self, info: MemberInfo) -> bool:
        """Small members are kept for later reads, ``pages-*.img`` never, within the cache budget."""
        if info.kind != "file" or info.size > SMALL_MEMBER_LIMIT or _PAGES.search(info.name):
            return False
        if self._kept_bytes + info.size > CACHE_LIMIT:
            return False
        self._kept_bytes += info.size
        return True

    def read(self, entry: _Entry, where: str, limit: int | None) -> bytes:
        if entry.data_offset in self.kept:
            return self.kept[entry.data_offset]
        with self.open(entry, where) as stream:
            return stream.read()

    def open(self, entry: _Entry, where: str) -> BinaryIO:
        if entry.data_offset in self.kept:
            return io.BytesIO(self.kept[entry.data_offset])
        return io.BufferedReader(_CompressedMember(self, entry, where), _SKIP_CHUNK)

    def read_at(self, entry: _Entry, where: str) -> Callable[[int, int], bytes]:
        if entry.data_offset in self.kept:
            data = self.kept[entry.data_offset]
            return lambda offset, size: data[offset : offset + size] if offset >= 0 and size > 0 else b""
        reader = _CompressedMember(self, entry, where)
        self._readers.append(reader)

        def read_at(offset: int, size: int) -> bytes:
            if offset < 0 or size <= 0:
                return b""
            reader.seek(offset)
            return _read_full(reader, size)

        return read_at

    def member_range(self, entry: _Entry) -> tuple[int, int] | None:
        return None

    def sha256(self, where: Callable[[str], str]) -> str:
        return _hash_fd(self.fd)

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        self.kept.clear()


def _read_full(stream: io.RawIOBase, size: int) -> bytes:
    parts = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


class _CompressedMember(io.RawIOBase):
    """One member of a compressed archive, streamed: the archive is decompressed from its start up
    to the member and never past the member's end; a backward seek starts over."""

    def __init__(self, archive: _CompressedTar, entry: _Entry, where: str) -> None:
        super().__init__()
        self._archive = archive
        self._fd = os.dup(archive.fd)  # ours: the stream outlives the checkpoint's close()
        self._entry = entry
        self._where = where
        self._pos = 0  # where the caller is in the member
        self._at = 0  # where the open stream is in the member
        self._stack: contextlib.ExitStack | None = None
        self._source: _StreamSource | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._entry.info.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._entry.info.size - self._pos)
        if want <= 0:
            return 0
        source = self._positioned()
        data = source.read(want)
        if not data:
            raise self._cut(source)
        buffer[: len(data)] = data
        self._pos = self._at = self._pos + len(data)
        return len(data)

    def _positioned(self) -> _StreamSource:
        """The stream, moved to the caller's position: forward by skipping, backward by starting over."""
        if self._source is None or self._at > self._pos:
            self._restart()
        assert self._source is not None
        gap = self._pos - self._at
        if self._source.skip(gap) < gap:
            raise self._cut(self._source)
        self._at = self._pos
        return self._source

    def _restart(self) -> None:
        self._release()
        self._stack = contextlib.ExitStack()
        start, size = self._entry.data_offset, self._entry.info.size
        self._source = self._stack.enter_context(self._archive.stream(start + size, self._fd))
        if self._source.skip(start) < start:
            raise self._cut(self._source)
        self._at = 0

    def _cut(self, source: _StreamSource) -> ArchiveError:
        why = f" ({source.damage})" if source.damage else ""
        return ArchiveError(f"truncated: the archive ends inside this member{why}", where=self._where)

    def _release(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack = self._source = None

    def close(self) -> None:
        if not self.closed:
            self._release()
            os.close(self._fd)
        super().close()


class _Directory:
    """An extracted archive or images directory, walked without following symbolic links."""

    def __init__(self, root: Path) -> None:
        self.root = os.fspath(root)
        self.real_root = os.path.realpath(root)
        self.listing = _Listing()
        self._fds: list[int] = []
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
                self.listing.warn(f"{_shown(below)}: cannot list this directory ({exc.strerror})")
                continue
            subdirectories = []
            for child in children:
                fs_path = f"{below}/{child.name}" if below else child.name
                try:
                    entry = self._entry(fs_path, child.stat(follow_symlinks=False))
                except OSError as exc:
                    self.listing.warn(f"{_shown(fs_path)}: cannot stat ({exc.strerror})")
                    continue
                self.listing.add(entry)
                if entry.info.kind == "dir":
                    subdirectories.append(fs_path)
            pending.extend(reversed(subdirectories))

    def _entry(self, fs_path: str, status: os.stat_result) -> _Entry:
        name = _decode(os.fsencode(fs_path), self.listing)
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
                f"{_shown(name)}: symbolic link to {linkname!r} leads outside the directory; never followed"
            )
        elif kind == "device":
            self.listing.warn(f"{_shown(name)}: device node in a checkpoint directory; listed, never read")
        return _Entry(info, present=info.size, fs_path=fs_path, identity=_identity(status))

    def _inside(self, path: str) -> bool:
        resolved = os.path.realpath(path)
        return os.path.commonpath([self.real_root, resolved]) == self.real_root

    def _open_fd(self, entry: _Entry, where: str) -> int:
        """A descriptor for ``entry``, only while it is the regular file listed, inside the root."""
        assert entry.fs_path is not None
        path = os.path.join(self.root, entry.fs_path)
        if not self._inside(path):
            raise ArchiveError("resolves outside the checkpoint directory; not followed", where=where)
        try:
            fd = _open_readonly(path, nofollow=True)
        except OSError as exc:
            raise ArchiveError(f"cannot open ({exc.strerror})", where=where) from None
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or _identity(status) != entry.identity:
            os.close(fd)
            raise ArchiveError("changed since the checkpoint was opened; not read", where=where)
        return fd

    def read(self, entry: _Entry, where: str, limit: int | None) -> bytes:
        with self.open(entry, where) as stream:
            data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise ArchiveError(f"is larger than the {limit}-byte limit", where=where)
        return data

    def open(self, entry: _Entry, where: str) -> BinaryIO:
        return os.fdopen(self._open_fd(entry, where), "rb")

    def read_at(self, entry: _Entry, where: str) -> Callable[[int, int], bytes]:
        fd = self._open_fd(entry, where)
        self._fds.append(fd)
        return lambda offset, size: _pread(fd, size, offset) if offset >= 0 and size > 0 else b""

    def member_range(self, entry: _Entry) -> tuple[int, int] | None:
        return None

    def sha256(self, where: Callable[[str], str]) -> str:
        """SHA-256 of the ``sha256sum``-style listing of every regular file, sorted by name."""
        listing = hashlib.sha256()
        for name in sorted(name for name, entry in self.listing.entries.items() if entry.info.kind == "file"):
            fd = self._open_fd(self.listing.entries[name], where(name))
            try:
                digest = _hash_fd(fd)
            finally:
                os.close(fd)
            listing.update(f"{digest}  {name}\n".encode())
        return listing.hexdigest()

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())


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


def _directory_has_images(root: Path) -> bool:
    """Whether ``root`` or its real ``checkpoint/`` subdirectory holds ``*.img`` files (a quick look)."""
    for folder in (root / IMAGES_DIR, root):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            with os.scandir(folder) as scan:
                if any(child.name.endswith(".img") and child.is_file(follow_symlinks=False) for child in scan):
                    return True
        except OSError:
            continue
    return False


def _images_prefix(entries: dict[str, _Entry]) -> str | None:
    """``"checkpoint/"`` when the CRIU images are in ``checkpoint/``, ``""`` when at the top, else None."""
    for prefix in (IMAGES_DIR, ""):
        if any(prefix + marker in entries for marker in _MARKER_IMAGES):
            return prefix
    for prefix in (IMAGES_DIR, ""):
        for name, entry in entries.items():
            rest = name[len(prefix) :] if name.startswith(prefix) else ""
            if rest.endswith(".img") and "/" not in rest and entry.info.kind != "dir":
                return prefix
    return None


def _require_images(listing: _Listing, where: str) -> str:
    """The images prefix of a listing, or the ArchiveError saying there are no CRIU images."""
    prefix = _images_prefix(listing.entries)
    if prefix is None:
        cut = f"; the archive is cut or damaged at offset {listing.cut_at:#x}" if listing.cut_at is not None else ""
        raise ArchiveError(
            f"no CRIU images (no inventory.img / pstree.img) at the top or under {IMAGES_DIR}{cut}", where=where
        )
    return prefix


# --- the public face ---------------------------------------------------------------------------

_T = TypeVar("_T")


class Checkpoint:
    """A checkpoint opened for reading: members listed at open, bytes read on demand.

    Use ``Checkpoint.open(path)`` (and ``close()``, or ``with``).  ``kind`` is "tar", "tar.gz",
    "tar.zst", "tar.xz", "tar.bz2" or "directory"; ``images_prefix`` is "checkpoint/" for container
    archives and directories, "" for a bare images directory; ``warnings`` lists what was noticed
    at open and is not fatal (duplicates, hostile names, links leading out, truncation).
    """

    def __init__(self, path: Path, kind: str, images_prefix: str, backend: _Backend, fd: int | None) -> None:
        self.path = path
        self.kind = kind
        self.images_prefix = images_prefix
        self.warnings: list[str] = list(backend.listing.warnings)
        self.closed = False
        self._backend = backend
        self._entries = backend.listing.entries
        self._fd = fd

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Open an archive or directory, recognising its kind by content, and list its members.

        Raises InputError when ``path`` is missing, unreadable or not a checkpoint; ArchiveError
        (an InputError) when it is a damaged, hostile or image-less archive.
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
            fd = _open_readonly(path)
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror})", where=str(path)) from None
        try:
            return cls._open_file(path, fd)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def _open_file(cls, path: Path, fd: int) -> Checkpoint:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise InputError("is not a regular file or directory", where=str(path))
        head = _pread(fd, BLOCK, 0)
        kind = detect_kind(head)
        if kind is None:
            what = "an empty file" if not head else "no tar, gzip, zstd, xz or bzip2 signature"
            raise InputError(f"is not a checkpoint archive or directory ({what} detected)", where=str(path))
        try:
            backend: _Backend = (
                _PlainTar(fd, status.st_size) if kind == "tar" else _CompressedTar(fd, status.st_size, kind)
            )
        except InputError as exc:
            raise exc.located(str(path)) from None
        except OSError as exc:
            raise ArchiveError(f"read error ({exc.strerror or exc})", where=str(path)) from None
        try:
            return cls(path, kind, _require_images(backend.listing, str(path)), backend, fd)
        except BaseException:
            backend.close()
            raise

    @classmethod
    def _open_directory(cls, path: Path) -> Checkpoint:
        if not _directory_has_images(path):
            raise InputError(
                "is not a checkpoint archive or directory (no CRIU images at the top or in checkpoint/ detected)",
                where=str(path),
            )
        try:
            backend = _Directory(path)
        except InputError as exc:
            raise exc.located(str(path)) from None
        return cls(path, "directory", _require_images(backend.listing, str(path)), backend, None)

    # -- listing

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
        return self.has(self.images_prefix + name)

    def where(self, name: str) -> str:
        """How to name member ``name`` in a message: ``archive.tar.zst:checkpoint/core-1.img``, or its path."""
        if self.kind == "directory":
            return str(self.path / _shown(name))
        return f"{self.path}:{_shown(name)}"

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
        jump, so read it in increasing offsets.  Valid until the checkpoint is closed.
        """
        entry, where = self._file_entry(name)
        read_at = self._guarded(lambda: self._backend.read_at(entry, where), where)

        def guarded_read_at(offset: int, size: int) -> bytes:
            self._check_open()
            return self._guarded(lambda: read_at(offset, size), where)

        return guarded_read_at, entry.info.size

    def member_range(self, name: str) -> tuple[int, int] | None:
        """``(offset, size)`` of regular file ``name``'s bytes inside a plain tar file, for ``mmap``.

        None for compressed archives and directories.  Errors as for ``read``.
        """
        entry, _ = self._file_entry(name)
        return self._backend.member_range(entry)

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

    def _file_entry(self, name: str) -> tuple[_Entry, str]:
        """The entry of regular file ``name`` and how to name it, or the error saying why it cannot be read."""
        self._check_open()
        entry = self._entries.get(normalise_name(name))
        if entry is None:
            raise MemberNotFoundError("no such member in the checkpoint", where=self.where(name))
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
