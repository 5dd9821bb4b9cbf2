"""Walking the headers of a tar stream into a ``Listing``, skipping or keeping member data.

The stream is any ``TarSource``: a plain file read with ``pread`` (``plaintar``) or a
decompressed stream (``compressed``).  Truncation and damage after the first header become
warnings; a first header that is not one raises ``NotATar`` for the caller to explain.

References: POSIX.1-2017 ``pax`` (ustar and pax interchange formats); GNU tar manual, "Basic Tar
Format" (GNU long names, base-256 numbers, old sparse headers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from checkforensics.archive.members import (
    Entry,
    Listing,
    MemberInfo,
    decode_name,
    normalise_name,
    note_hostile,
    shown_name,
)
from checkforensics.archive.tarheader import (
    BLOCK,
    EXTENDED_TYPEFLAGS,
    ZERO_BLOCK,
    BadHeader,
    Header,
    cstring,
    data_length,
    member_kind,
    parse_header,
    parse_pax,
)
from checkforensics.errors import ArchiveError

EXTENDED_HEADER_LIMIT = 1 << 20  # pax and GNU long-name data; real ones are a few hundred bytes


@runtime_checkable
class TarSource(Protocol):
    """The bytes of a tar archive, read forward; ``limit``: how far the stream may go (a
    compressed archive's expansion limit, which ``limit_text`` names), None for no limit."""

    position: int
    limit: int | None
    limit_text: str

    def read(self, size: int) -> bytes: ...

    def skip(self, size: int) -> int: ...


@runtime_checkable
class PouringSource(TarSource, Protocol):
    """A streamed source whose members can be tapped: ``pour`` hands the next ``size`` bytes to
    ``reader`` while it wants them, skips the rest, and says how many bytes there were."""

    def pour(self, size: int, reader: MemberReader) -> int: ...


class MemberReader(Protocol):
    """Takes the data of one member as a streamed pass goes by it (see ``TarScanner``'s ``tap``)."""

    def feed(self, buffer: bytearray, size: int) -> bool:
        """The next ``size`` bytes of the member, ``buffer[:size]`` (the buffer is reused once this
        returns); False when no more are wanted (the rest is skipped)."""
        ...

    def end(self, complete: bool) -> None:
        """The member is over; ``complete`` when every byte of it was fed."""
        ...


MemberTap = Callable[[MemberInfo], "MemberReader | None"]


def both_taps(first: MemberTap | None, second: MemberTap | None) -> MemberTap | None:
    """One tap asking ``first`` and ``second``: a member either wants is poured into both."""
    if first is None or second is None:
        return first or second

    def tap(info: MemberInfo) -> MemberReader | None:
        readers = [reader for reader in (first(info), second(info)) if reader is not None]
        return _Tee(readers) if len(readers) > 1 else (readers[0] if readers else None)

    return tap


class _Tee:
    """Feeds several readers the same member, as long as one of them wants it."""

    def __init__(self, readers: list[MemberReader]) -> None:
        self._readers = readers
        self._wanting = list(readers)

    def feed(self, buffer: bytearray, size: int) -> bool:
        self._wanting = [reader for reader in self._wanting if reader.feed(buffer, size)]
        return bool(self._wanting)

    def end(self, complete: bool) -> None:
        for reader in self._readers:
            reader.end(complete)


class NotATar(Exception):
    """The stream does not start with a tar header (internal; the caller says what the input is)."""


class TarScanner:
    """Walks the headers of one tar stream into a ``Listing``.

    With ``keep``, the data of each member it accepts is read into ``kept`` (keyed by data
    offset); with ``tap``, the data of each member it hands a reader for is poured into that
    reader as the stream goes by (so a streamed archive's big members can be read in the one
    pass that lists them); all other data is skipped.  Stops at the end-of-archive block, at a cut, or at a
    damaged header, leaving a warning for the last two.
    """

    def __init__(
        self,
        source: TarSource,
        listing: Listing,
        *,
        keep: Callable[[MemberInfo], bool] | None = None,
        kept: dict[int, bytes] | None = None,
        tap: MemberTap | None = None,
    ) -> None:
        self.source = source
        self.listing = listing
        self.keep = keep
        self.tap = tap
        self.kept = kept if kept is not None else {}
        self._long_name: bytes | None = None
        self._long_link: bytes | None = None
        self._pax: dict[str, bytes] = {}
        self._global_pax: dict[str, bytes] = {}
        self._last_name: str | None = None
        self.last_offset = 0  # of the header being read

    def run(self) -> None:
        first = True
        while True:
            offset = self.last_offset = self.source.position
            if not self._fits(BLOCK):
                self.stopped_by_limit(offset)
                return
            block = self.source.read(BLOCK)
            if len(block) < BLOCK:
                self._ended_without_marker(offset, len(block), first)
                return
            if block == ZERO_BLOCK:
                if first:
                    raise NotATar("it starts with an empty block")
                return
            try:
                header = parse_header(block)
            except BadHeader as exc:
                if first:
                    raise NotATar(str(exc)) from None
                self._stop(offset, f"damaged tar header at offset {offset:#x} ({exc}); members after it are not listed")
                return
            first = False
            if not self._member(header, offset):
                return

    def _stop(self, offset: int, warning: str) -> None:
        self.listing.cut_at = offset
        self.listing.cut = warning
        self.listing.warn(warning)

    def _fits(self, size: int) -> bool:
        """Whether ``size`` more bytes (and the padding after them) keep the stream within its limit."""
        limit = self.source.limit
        return limit is None or self.source.position + size + (-size % BLOCK) <= limit

    def stopped_by_limit(self, offset: int, member: MemberInfo | None = None) -> None:
        """End the listing at ``offset`` (the header of ``member``), where going on would pass the
        stream's limit."""
        where = f"at offset {offset:#x}"
        if member is not None:
            where = f"at member {shown_name(member.name)!r} ({member.size} bytes)"
        self.listing.limited = (
            f"listing stopped {where}: reading on would pass {self.source.limit_text}; the members from there on "
            "are not listed"
        )
        self._stop(offset, self.listing.limited)

    def _ended_without_marker(self, offset: int, got: int, first: bool) -> None:
        if first and offset == 0:
            raise NotATar("it is empty" if got == 0 else f"it holds only {got} bytes")
        if got:
            self._stop(offset, f"truncated: the tar header at offset {offset:#x} is cut after {got} of {BLOCK} bytes")
        elif self._long_name is not None or self._long_link is not None or self._pax:
            self._stop(offset, f"truncated: the archive ends at offset {offset:#x} between a header and its member")
        else:
            after = f" after {self._last_name!r}" if self._last_name else ""
            ended = f"the archive ends at offset {offset:#x}{after} without the end-of-archive blocks (truncated?)"
            self._stop(offset, ended)

    def _member(self, header: Header, offset: int) -> bool:
        if header.typeflag in EXTENDED_TYPEFLAGS:
            return self._extended(header, offset)
        if header.sparse_extended and not self._skip_sparse_extensions(offset):
            return False
        pax = {**self._global_pax, **self._pax}
        raw_name = decode_name(pax.get("path") or self._long_name or header.name, self.listing)
        kind = member_kind(header)
        raw_link = pax.get("linkpath") or self._long_link or header.linkname
        link = decode_name(raw_link, self.listing) if kind in ("symlink", "hardlink") else ""
        self._long_name = self._long_link = None
        self._pax = {}
        size = data_length(header, kind, _pax_number(pax, "size", header.size, int))
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
        note_hostile(info, raw_name, self.listing)
        self._last_name = name
        return self._data(info, offset)

    def _data(self, info: MemberInfo, offset: int) -> bool:
        """Record ``info`` and get past its data (kept, or skipped); False when the stream ends in it,
        or would pass its limit: a member declaring more than is left is not inflated at all."""
        if not self._fits(info.size):
            self.stopped_by_limit(offset, info)
            return False
        data_offset = self.source.position
        if self.keep is not None and info.size and self.keep(info):
            data = self.source.read(info.size)
            present = len(data)
            if present == info.size:
                self.kept[data_offset] = data
        elif self.tap is not None and info.size and (reader := self.tap(info)) is not None:
            assert isinstance(self.source, PouringSource)  # only a streamed archive is tapped
            present = self.source.pour(info.size, reader)
            reader.end(present == info.size)
        else:
            present = self.source.skip(info.size)
        if present < info.size:
            cut = dataclasses.replace(info, truncated=True)
            self.listing.add(Entry(cut, data_offset, present), offset)
            self._stop(
                data_offset + present,
                f"{shown_name(info.name)}: truncated: the archive ends after {present} of its {info.size} bytes",
            )
            return False
        self.listing.add(Entry(info, data_offset, present), offset)
        self.source.skip(-info.size % BLOCK)
        return True

    def _skip_data(self, size: int, name: str) -> bool:
        if not self._fits(size):
            self.stopped_by_limit(self.last_offset)
            return False
        if self.source.skip(size) < size:
            self._stop(self.source.position, f"truncated: the archive ends inside the data of {name!r}")
            return False
        self.source.skip(-size % BLOCK)
        return True

    def _extended(self, header: Header, offset: int) -> bool:
        """Read a pax or GNU long-name header, to apply to the member that follows."""
        if header.size > EXTENDED_HEADER_LIMIT:
            raise ArchiveError(f"extended tar header of {header.size} bytes at offset {offset:#x}; refusing it")
        if not self._fits(header.size):
            self.stopped_by_limit(offset)
            return False
        data = self.source.read(header.size)
        if len(data) < header.size:
            self._stop(offset, f"truncated: the archive ends inside the extended tar header at offset {offset:#x}")
            return False
        self.source.skip(-header.size % BLOCK)
        if header.typeflag == b"L":
            self._long_name = cstring(data)
        elif header.typeflag == b"K":
            self._long_link = cstring(data)
        else:
            try:
                records = parse_pax(data)
            except BadHeader as exc:
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
