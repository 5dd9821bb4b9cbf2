"""A compressed tar (gzip, zstd, xz, bzip2): listed in one streaming pass, members streamed on demand.

The pass at open keeps the bytes of small members in memory (never big ``pages-*.img``), copies
the big members the caller will read (``spool``) into an unlinked temporary file (``spool.py``),
and pours the members a caller's ``tap`` asks for into its readers as they stream by (a search
of the pages images done in the same pass); so the archive is decompressed once. Any other
member is read by decompressing the archive again from its start, up to the member's end and
never past it.

Every pass expands the archive to at most its expansion limit (``decompression``:
``MAX_EXPANSION_RATIO`` times the compressed size, at least ``MIN_EXPANSION_BUDGET``). The
listing stops where going on would pass the limit, at the header of a member declaring more
than is left (a 20 GiB member of zeros is never inflated) or wherever the stream reaches it,
with a warning naming the member and the limit; what was listed before is analysed as usual,
and every later pass, ending inside what was listed, stays within the limit too.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from checkforensics import progress
from checkforensics.archive.decompression import decompress_errors, decompressing_reader, expansion_limit
from checkforensics.archive.fileio import CHUNK, RangeReader, RunningHash, hash_fd, pread
from checkforensics.archive.members import Entry, Listing, MemberInfo, is_pages_image
from checkforensics.archive.spool import Spool
from checkforensics.archive.tarscan import MemberReader, MemberTap, NotATar, TarScanner, both_taps
from checkforensics.archive.zstdframes import zstd_cut
from checkforensics.errors import ArchiveError, InputError

SMALL_MEMBER_LIMIT = 16 << 20  # compressed archives: members kept in memory at open are at most this big...
CACHE_LIMIT = 256 << 20  # ...and all of them together at most this
# Pages images are kept only when small (a shell, a sidecar): reading one later would otherwise
# mean decompressing the archive again up to it, past any big pages image before it.
SMALL_PAGES_LIMIT = 4 << 20
PAGES_CACHE_LIMIT = 64 << 20
_SKIP_CHUNK = 64 << 10
TAP_BLOCK = 4 << 20  # bytes handed at a time to a reader tapping a member during the listing pass
# a member read in overlapping chunks (the secret rules' scan steps back 64 KiB each 8 MiB) steps
# back into what it just read: kept, instead of decompressing the archive from its start again
BEHIND = 1 << 20

_UNREAD = re.compile(r"(?:^|/)amdgpu-pages-[^/]*$")  # GPU memory: its size is all we ever use
_COMPRESSIONS = {"tar.gz": "gzip", "tar.zst": "zstd", "tar.xz": "xz", "tar.bz2": "bzip2"}


class ExpansionLimitError(ArchiveError):
    """A compressed stream would expand past its limit (internal to the listing, which stops there)."""


class _StreamSource:
    """A decompressed stream, read forward in bounded chunks, stopping at ``budget`` bytes.

    A decompression error ends the stream as if it were cut there; ``damage`` says what happened.
    """

    def __init__(self, stream: BinaryIO, budget: int, describe: str, limit_text: str = "its limit") -> None:
        self._stream = stream
        self._budget = budget
        self._describe = describe
        self._ended = False
        self.position = 0
        self.limit: int | None = budget
        self.limit_text = limit_text
        self.damage: str | None = None

    def _over(self) -> ExpansionLimitError:
        return ExpansionLimitError(f"expands past {self.limit_text}; not decompressed further (decompression bomb?)")

    def _pull(self, size: int) -> bytes:
        if self._ended or size <= 0:
            return b""
        try:
            chunk = self._stream.read(size)
        except decompress_errors() as exc:
            self.damage = f"{self._describe} data ends or breaks after {self.position} bytes ({exc})"
            chunk = b""
        if not chunk:
            self._ended = True
            return b""
        self.position += len(chunk)
        if self.position > self._budget:
            raise self._over()
        return chunk

    def read(self, size: int) -> bytes:
        parts = []
        while size > 0:
            chunk = self._pull(min(size, CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the stream goes, decompressing straight into it (no copies)."""
        filled = 0
        readinto = getattr(self._stream, "readinto", None)
        while filled < len(view) and not self._ended:
            if readinto is None:
                chunk = self._pull(min(len(view) - filled, CHUNK))
                view[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
                continue
            try:
                got = readinto(view[filled : filled + min(len(view) - filled, self._budget + 1 - self.position)])
            except decompress_errors() as exc:
                self.damage = f"{self._describe} data ends or breaks after {self.position} bytes ({exc})"
                got = 0
            if not got:
                self._ended = True
                break
            self.position += got
            filled += got
            if self.position > self._budget:
                raise self._over()
        return filled

    def skip(self, size: int) -> int:
        skipped = 0
        scratch = memoryview(bytearray(min(size, CHUNK)))
        while skipped < size:
            got = self.readinto(scratch[: min(size - skipped, len(scratch))])
            if not got:
                break
            skipped += got
        return skipped

    def pour(self, size: int, reader: MemberReader) -> int:
        """Decompress the next ``size`` bytes into ``reader``, a block at a time, as long as it
        wants them (the rest is skipped); how many bytes the stream had."""
        buffer = bytearray(min(size, TAP_BLOCK))
        done = 0
        wanted = True
        with memoryview(buffer) as block:
            while done < size:
                if not wanted:
                    return done + self.skip(size - done)
                got = self.readinto(block[: min(size - done, len(block))])
                if not got:
                    break
                done += got
                wanted = reader.feed(buffer, got)
        return done

    def allow(self, budget: int) -> None:
        """Let the stream run to ``budget`` bytes (a reused stream serves a later member)."""
        self._budget = max(self._budget, budget)
        self.limit = self._budget

    @property
    def ended(self) -> bool:
        return self._ended or self.damage is not None


def _drain(source: _StreamSource) -> None:
    """Decompress what follows the tar's end-of-archive blocks (a tar's record padding, then the
    compressed stream's own end), within the stream's limit, so that a stream whose end is
    missing (a gzip trailer cut off) says so in ``source.damage``, as one cut mid-member does."""
    try:
        while source.skip(CHUNK):
            pass
    except ExpansionLimitError:
        pass  # past the end of the tar: nothing there is listed, and nothing is missing from the listing


class CompressedTar:
    """A compressed tar: listed in one streaming pass at open that keeps small members in memory,
    and the big ones ``spool`` accepts in a temporary file.

    Other members are served by streaming the archive again up to them (``_CompressedMember``).
    """

    def __init__(
        self,
        fd: int,
        size: int,
        kind: str,
        tap: MemberTap | None = None,
        spool: Callable[[MemberInfo], bool] | None = None,
        where: str = "",
        hash_in_pass: bool = False,
    ) -> None:
        self.fd = fd
        self.kind = kind
        self.codec = _COMPRESSIONS[kind]
        self.file_size = size
        self.listing = Listing()
        self.kept: dict[int, bytes] = {}  # data offset -> content, for the members kept at open
        self._kept_bytes = 0
        self._kept_pages = 0
        self._readers: list[_CompressedMember] = []
        # the stream of the member read last, left where it stopped: the next member further on
        # continues it instead of decompressing the archive from its start again, so reading
        # pages-1, pages-2, ... in order costs one pass, not one per member
        self._parked: tuple[contextlib.ExitStack, _StreamSource, int] | None = None
        self.expansion_limit, self.limit_text = expansion_limit(size)
        self.spool = Spool(where) if spool is not None else None
        # the evidence hash, made of the compressed bytes as the pass reads them (when asked for)
        self._hash = RunningHash() if hash_in_pass else None
        try:
            self._list(tap, spool)
        except BaseException:
            self.close()  # the spool's file goes at once, not when collected
            raise

    def _list(self, tap: MemberTap | None, spool: Callable[[MemberInfo], bool] | None) -> None:
        """The one pass: members listed, small ones kept, wanted big ones spooled and tapped."""
        size = self.file_size
        with (
            progress.task("reading archive", size) as advance,
            self.stream(self.expansion_limit, advance=advance, seen=self._hash) as source,
        ):
            spooling = self._spooling(source, spool) if spool is not None else None
            scanner = TarScanner(source, self.listing, keep=self._keep, kept=self.kept, tap=both_taps(tap, spooling))
            try:
                scanner.run()
            except NotATar as exc:
                why = source.damage or f"no tar archive inside: {exc}"
                raise InputError(
                    f"is not a checkpoint archive or directory ({self.codec} data detected, but {why})"
                ) from None
            except ExpansionLimitError:  # inside a member or header the scanner could not weigh first
                scanner.stopped_by_limit(scanner.last_offset)
            else:
                if self.listing.cut is None:  # the tar ended: what follows, to the stream's own end
                    _drain(source)
                if self.kind == "tar.zst" and source.damage is None and self.listing.cut is None:
                    source.damage = zstd_cut(self.fd, self.file_size)  # zstandard ends quietly inside a frame
            if source.damage:  # the stream ends or breaks: what follows is missing, whatever the tar said
                self.listing.warn(source.damage)
                self.listing.cut = self.listing.cut or source.damage

    @contextlib.contextmanager
    def stream(
        self,
        budget: int,
        fd: int | None = None,
        advance: Callable[[int], None] | None = None,
        seen: Callable[[int, bytes], None] | None = None,
    ) -> Iterator[_StreamSource]:
        """The decompressed archive from its start (read through ``fd``), at most ``budget`` bytes
        of it; ``advance`` is told how many compressed bytes are read, ``seen`` handed them."""
        reader = RangeReader(self.fd if fd is None else fd, 0, self.file_size, advance, seen)
        raw = io.BufferedReader(reader, CHUNK)
        try:
            yield _StreamSource(decompressing_reader(raw, self.kind), budget, self.codec, self.limit_text)
        finally:
            raw.close()

    def _spooling(self, source: _StreamSource, wanted: Callable[[MemberInfo], bool]) -> MemberTap:
        """The tap copying each member ``wanted`` accepts into the spool (those not kept in
        memory: the scanner keeps before it taps)."""
        spool = self.spool
        assert spool is not None

        def tap(info: MemberInfo) -> MemberReader | None:
            return spool.writer(source.position, info) if wanted(info) else None

        return tap

    def _spooled(self, entry: Entry) -> tuple[int, int] | None:
        return self.spool.place(entry.data_offset) if self.spool is not None else None

    def _keep(self, info: MemberInfo) -> bool:
        """Small members are kept for later reads, within the cache budget; ``pages-*.img`` only
        when small, within a budget of their own."""
        if info.kind != "file" or info.size > SMALL_MEMBER_LIMIT or _UNREAD.search(info.name):
            return False
        if self._kept_bytes + info.size > CACHE_LIMIT:
            return False
        if is_pages_image(info):
            if info.size > SMALL_PAGES_LIMIT or self._kept_pages + info.size > PAGES_CACHE_LIMIT:
                return False
            self._kept_pages += info.size
        self._kept_bytes += info.size
        return True

    def read(self, entry: Entry, where: str, limit: int | None) -> bytes:
        if entry.data_offset in self.kept:
            return self.kept[entry.data_offset]
        spooled = self._spooled(entry)
        if spooled is not None:
            return pread(spooled[0], entry.info.size, spooled[1])
        with self.open(entry, where) as stream:
            return stream.read()

    def open(self, entry: Entry, where: str) -> BinaryIO:
        if entry.data_offset in self.kept:
            return io.BytesIO(self.kept[entry.data_offset])
        spooled = self._spooled(entry)
        if spooled is not None:
            return io.BufferedReader(RangeReader(spooled[0], spooled[1], entry.info.size))
        return io.BufferedReader(_CompressedMember(self, entry, where), _SKIP_CHUNK)

    def read_at(self, entry: Entry, where: str) -> Callable[[int, int], bytes]:
        if entry.data_offset in self.kept:
            data = self.kept[entry.data_offset]
            return lambda offset, size: data[offset : offset + size] if offset >= 0 and size > 0 else b""
        spooled = self._spooled(entry)
        if spooled is not None:
            fd, start, length = spooled[0], spooled[1], entry.info.size

            def read_spooled(offset: int, size: int) -> bytes:
                size = min(size, length - offset)
                return pread(fd, size, start + offset) if offset >= 0 and size > 0 else b""

            return read_spooled
        reader = _CompressedMember(self, entry, where)
        self._readers.append(reader)

        def read_at(offset: int, size: int) -> bytes:
            if offset < 0 or size <= 0:
                return b""
            reader.seek(offset)
            return _read_full(reader, size)

        return read_at

    def member_file(self, entry: Entry, where: str) -> tuple[int, int] | None:
        """Where a spooled member lies in the spool: ``(fd, offset)``; None for any other."""
        return self._spooled(entry)

    def member_range(self, entry: Entry) -> tuple[int, int] | None:
        return None

    def sha256(self, where: Callable[[str], str]) -> str:
        return self._hash.finish(self.fd) if self._hash is not None else hash_fd(self.fd)

    def park(self, stack: contextlib.ExitStack, source: _StreamSource, position: int) -> None:
        """Keep a member's stream, at ``position`` of the decompressed archive, for the next member."""
        if self._parked is not None:
            self._parked[0].close()
        self._parked = (stack, source, position)

    def unpark(self, position: int) -> tuple[contextlib.ExitStack, _StreamSource, int] | None:
        """The parked stream, when it has not gone past ``position``; None otherwise."""
        parked, self._parked = self._parked, None
        if parked is not None and parked[2] > position:
            parked[0].close()
            return None
        return parked

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        self.kept.clear()
        if self.spool is not None:
            self.spool.close()
        if self._parked is not None:
            self._parked[0].close()
            self._parked = None


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
    to the member and never past the member's end; a backward seek starts over, unless it steps
    back at most ``BEHIND`` bytes (kept from the last reads)."""

    def __init__(self, archive: CompressedTar, entry: Entry, where: str) -> None:
        super().__init__()
        self._archive = archive
        self._entry = entry
        self._where = where
        self._pos = 0  # where the caller is in the member
        self._at = 0  # where the open stream is in the member
        self._stack: contextlib.ExitStack | None = None
        self._source: _StreamSource | None = None
        self._behind = b""  # the last BEHIND bytes read, up to _at: chunks that overlap a little reread them

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
        view = memoryview(buffer).cast("B")[:want]
        back = self._at - self._pos
        if 0 < back <= len(self._behind):  # a step back into what was just read: no new pass
            got = min(want, back)
            start = len(self._behind) - back
            view[:got] = self._behind[start : start + got]
            self._pos += got
            return got
        source = self._positioned()
        got = source.readinto(view)
        if not got:
            raise self._cut(source)
        read = bytes(view[max(0, got - BEHIND) : got])
        self._behind = read if len(read) >= BEHIND else (self._behind + read)[-BEHIND:]
        self._pos = self._at = self._pos + got
        return got

    def _positioned(self) -> _StreamSource:
        """The stream, moved to the caller's position: forward by skipping, backward by starting over."""
        if self._source is None or self._at > self._pos:
            self._restart()
        assert self._source is not None
        gap = self._pos - self._at
        kept = min(gap, BEHIND)  # the end of what is skipped is kept: a read may step back into it
        if self._source.skip(gap - kept) < gap - kept:
            raise self._cut(self._source)
        if kept:
            tail = bytearray(kept)
            if self._source.readinto(memoryview(tail)) < kept:
                raise self._cut(self._source)
            self._behind = bytes(tail) if gap > kept else (self._behind + tail)[-BEHIND:]
        self._at = self._pos
        return self._source

    def _restart(self) -> None:
        self._release(park=False)
        self._behind = b""
        start, size = self._entry.data_offset, self._entry.info.size
        # the stream of another member's reader that stopped before this member (process 1's
        # pages, read for its command line, before process 7's): continued, not started again
        idle = [
            other
            for other in self._archive._readers
            if other is not self and other._source is not None and not other._source.ended and other.offset <= start
        ]
        if idle:
            max(idle, key=lambda other: other.offset)._release()  # parked with the archive, unparked below
        parked = self._archive.unpark(start)
        if parked is not None:
            self._stack, self._source, position = parked
            self._source.allow(start + size)
        else:
            self._stack, position = contextlib.ExitStack(), 0
            fd = os.dup(self._archive.fd)  # ours: the stream outlives the checkpoint's close()
            self._stack.callback(os.close, fd)
            self._source = self._stack.enter_context(self._archive.stream(start + size, fd))
        if self._source.skip(start - position) < start - position:
            raise self._cut(self._source)
        self._at = 0

    @property
    def offset(self) -> int:
        """Where the open stream is in the decompressed archive."""
        return self._entry.data_offset + self._at

    def _cut(self, source: _StreamSource) -> ArchiveError:
        why = f" ({source.damage})" if source.damage else ""
        return ArchiveError(f"truncated: the archive ends inside this member{why}", where=self._where)

    def _release(self, park: bool = True) -> None:
        """Let go of the stream: parked with the archive for a later member if it is sound."""
        if self._stack is not None and self._source is not None:
            if park and not self._source.ended:
                self._archive.park(self._stack, self._source, self._entry.data_offset + self._at)
            else:
                self._stack.close()
        self._stack = self._source = None

    def close(self) -> None:
        if not self.closed:
            self._release()
        super().close()
