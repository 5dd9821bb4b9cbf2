"""Page sources: a pages image read where it lies, ``chunk_size`` bytes at a time, never whole.

A plain tar's member range, or a directory's pages file, is mapped (``mmap``, read-only) one
window at a time; a compressed archive's pages image is streamed in increasing file order.

References: criu/pagemap.c.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol

from checkforensics.archive import Checkpoint
from checkforensics.errors import ArchiveError

if TYPE_CHECKING:
    from checkforensics.model.regions import Region

DEFAULT_CHUNK_SIZE = 8 << 20  # bytes mapped or decompressed at a time
# MAP_POPULATE: the kernel maps the whole window at once instead of page fault by page fault
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)

Buffer = bytes | bytearray | mmap.mmap


class PageSource(Protocol):
    """The bytes of one pages image, handed out as ``(buffer, lo, hi)``: ``buffer[lo:hi]`` is data."""

    def blocks(self, offset: int, length: int) -> Iterator[tuple[Buffer, int, int]]: ...


class MappedPages:
    """A pages image at ``base`` in the file ``fd``, mapped one window at a time (read-only)."""

    def __init__(self, fd: int, base: int, size: int, chunk_size: int) -> None:
        self._fd = fd
        self._base = base
        self._size = size
        self._chunk = chunk_size

    def blocks(self, offset: int, length: int) -> Iterator[tuple[Buffer, int, int]]:
        end = offset + length
        while offset < end:
            take = min(self._chunk, end - offset)
            with self.mapped(offset, take) as block:
                yield block
            offset += take

    @contextlib.contextmanager
    def mapped(self, offset: int, length: int) -> Iterator[tuple[Buffer, int, int]]:
        """``length`` bytes at ``offset`` of the pages image, as ``(buffer, lo, hi)``, unmapped after."""
        if offset + length > self._size:
            raise ArchiveError(f"the pages image ends at byte {self._size}, before {offset + length}")
        position = self._base + offset
        aligned = position - position % mmap.ALLOCATIONGRANULARITY
        try:
            window = mmap.mmap(
                self._fd, position + length - aligned, flags=_MAP_FLAGS, prot=mmap.PROT_READ, offset=aligned
            )
        except (OSError, ValueError):  # a file system that cannot map files: read the bytes instead
            window = None
        if window is None:
            data = os.pread(self._fd, length, position)
            if len(data) < length:
                raise ArchiveError(f"the pages image ends {length - len(data)} bytes early")
            yield data, 0, length
            return
        try:
            yield window, position - aligned, position + length - aligned
        finally:
            with contextlib.suppress(BufferError):  # a view still held: the collector unmaps it
                window.close()


class StreamedPages:
    """A pages image streamed out of a compressed archive, ``chunk_size`` bytes at a time."""

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self._stream = stream
        self._chunk = chunk_size

    def blocks(self, offset: int, length: int) -> Iterator[tuple[Buffer, int, int]]:
        self._stream.seek(offset)  # forward: decompressed and skipped; backward: started over
        buffer = bytearray(min(self._chunk, length))  # decompressed into, block after block
        view = memoryview(buffer)
        try:
            while length > 0:
                take = min(len(buffer), length)
                got = 0
                while got < take:
                    step = self._stream.readinto(view[got:take])
                    if not step:
                        raise ArchiveError(f"the pages image ends early, {length - got} bytes short")
                    got += step
                yield buffer, 0, got
                length -= got
        finally:
            view.release()


@contextlib.contextmanager
def open_pages(checkpoint: Checkpoint, member: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[PageSource]:
    """The pages image ``member``, mapped where it lies in a plain tar, a directory or a compressed
    archive's spool, else streamed."""
    with contextlib.ExitStack() as stack:
        byte_range = checkpoint.member_range(member)
        member_file = checkpoint.member_file(member) if byte_range is None else None
        source: PageSource
        if byte_range is not None:
            fd = _open_archive_file(checkpoint, byte_range)
            stack.callback(os.close, fd)
            source = MappedPages(fd, byte_range[0], byte_range[1], chunk_size)
        elif member_file is not None:  # a directory's pages file, or a compressed archive's spool
            fd, offset = member_file
            size = checkpoint.member(member).size  # type: ignore[union-attr]
            # never mapped past the file's end (a directory's file shrunk since it was listed)
            source = MappedPages(fd, offset, min(size, os.fstat(fd).st_size - offset), chunk_size)
        else:
            stream = stack.enter_context(checkpoint.open_member(member))
            source = StreamedPages(stream, chunk_size)
        yield source


def _open_archive_file(checkpoint: Checkpoint, byte_range: tuple[int, int]) -> int:
    """The plain tar again, read-only (without touching its access time where allowed)."""
    flags = os.O_RDONLY | os.O_CLOEXEC
    try:
        try:
            fd = os.open(checkpoint.path, flags | getattr(os, "O_NOATIME", 0))
        except PermissionError:
            fd = os.open(checkpoint.path, flags)
    except OSError as exc:
        raise ArchiveError(f"cannot open again to map memory ({exc.strerror})", where=str(checkpoint.path)) from None
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_size < byte_range[0] + byte_range[1]:
        os.close(fd)
        raise ArchiveError("changed since it was opened; memory not read", where=str(checkpoint.path))
    return fd


def region_blocks(source: PageSource, region: Region) -> Iterator[tuple[Buffer, int, int, bool]]:
    """The bytes of ``region`` in address order as ``(buffer, lo, hi, last)``.

    A buffer is valid only until the next one is asked for (a mapped window is then unmapped).
    """
    last_piece = len(region.pieces) - 1
    for index, (_, offset, length) in enumerate(region.pieces):
        done = 0
        for buffer, lo, hi in source.blocks(offset, length):
            done += hi - lo
            yield buffer, lo, hi, index == last_piece and done >= length


class PagesImages:
    """The pages images of one checkpoint, each opened where it lies when asked for: what a
    memory view reads its regions from (``ProcessMemory.open_pages``, ``page_sources``)."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self._checkpoint = checkpoint

    def open(self, member: str, chunk_size: int | None = None) -> contextlib.AbstractContextManager[PageSource]:
        """``open_pages`` of ``member``."""
        return open_pages(self._checkpoint, member, DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size)

    def sources(self, chunk_size: int | None = None) -> PageSources:
        """A ``PageSources`` over every pages image, ``chunk_size`` bytes at a time."""
        return PageSources(self._checkpoint, DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size)


class PageSources:
    """The page sources of several pages images (a process's own, its shared objects'), each
    opened when first asked for and all closed together; use as a context manager."""

    def __init__(self, checkpoint: Checkpoint, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._checkpoint = checkpoint
        self._chunk = chunk_size
        self._stack = contextlib.ExitStack()
        self._sources: dict[str, PageSource] = {}

    def __enter__(self) -> PageSources:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def of(self, member: str) -> PageSource:
        """The source of pages image ``member``."""
        source = self._sources.get(member)
        if source is None:
            source = self._stack.enter_context(open_pages(self._checkpoint, member, self._chunk))
            self._sources[member] = source
        return source

    def blocks(self, region: Region) -> Iterator[tuple[Buffer, int, int, bool]]:
        """``region_blocks`` of ``region`` from its own pages image."""
        return region_blocks(self.of(region.member), region)
