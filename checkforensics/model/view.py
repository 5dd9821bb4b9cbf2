"""The memory view of a process: what it had mapped and which of it the checkpoint holds.

``ProcessMemory`` reads by address through its own pages and the shared memory objects its
mappings show (``Attachment``), lists its dumped regions (``model.regions``), hands out its
pages images (``model.pages``) and scans itself (``model.scan``). It sits above all three:
none of them imports it.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from checkforensics.model.architecture import UNKNOWN_ARCHITECTURE, Architecture
from checkforensics.model.memory import AddressSpace, MemoryUnavailableError, read_available
from checkforensics.model.regions import Mapping, MemoryFilter, Region
from checkforensics.model.structs import StructReader

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from checkforensics.model.pages import PagesImages, PageSource, PageSources
    from checkforensics.model.scan import MemoryMatch, PagesScreen, Progress, SearchPattern


@dataclass(frozen=True)
class Attachment:
    """A mapping of a process that shows (part of) a shared memory object: a SysV segment, a
    memfd, or shared anonymous memory. Object offset ``mapping.vma.pgoff`` is at ``mapping.start``.

    A ``private`` one (a memfd mapped ``MAP_PRIVATE``) shows the object only where the process
    has no page of its own: a page it wrote there is its own copy, dumped with its pages."""

    mapping: Mapping
    shared: ProcessMemory  # the SharedMemory object (see model.shared)

    @property
    def private(self) -> bool:
        return self.mapping.vma.private


@dataclass
class ProcessMemory(StructReader):
    """What a process had mapped and which of it the checkpoint holds: its own dumped pages
    (``space``, in the pages image ``pages_member``) and the shared memory objects its
    mappings show (``attachments``).

    It reads bytes (``read``), integers, pointers, C strings and structures by address in the
    terms of its ``architecture`` (``StructReader``: ``read_pointer``, ``read_cstring``,
    ``read_struct``...), lists its dumped ``regions``, and scans itself for patterns (``scan``),
    opening its pages image where it lies through ``images``.

    Each address shows one page, as the kernel showed it: in a ``MAP_SHARED`` mapping of a
    shared object, the object's page at that offset; in a ``MAP_PRIVATE`` one (a memfd mapped
    copy-on-write), the process's own page where it has one, else the object's; elsewhere the
    process's own page. ``read`` and ``regions`` say exactly that, and never an address twice.
    """

    pid: int
    comm: str | None
    space: AddressSpace
    mappings: list[Mapping]
    pages_member: str  # the pages image's member name in the checkpoint
    pages_size: int
    attachments: list[Attachment] = field(default_factory=list)
    architecture: Architecture = field(default=UNKNOWN_ARCHITECTURE, compare=False, repr=False)
    images: PagesImages | None = field(default=None, compare=False, repr=False)  # the checkpoint's pages images

    @property
    def label(self) -> str:
        """How messages name this memory: ``pid 7`` (``shared memory 8708``, see model.shared)."""
        return f"pid {self.pid}"

    @property
    def dumped_bytes(self) -> int:
        """Bytes of this memory's own pages in the checkpoint (shared objects not counted)."""
        return self.space.dumped_bytes

    def regions(
        self,
        memory_filter: MemoryFilter | None = None,
        *,
        shared: bool = False,
    ) -> list[Region]:
        """The dumped regions of the mappings ``memory_filter`` accepts, in address order, none
        overlapping another.

        Without ``shared``, the process's own pages only (searches: each shared object is
        searched once, on its own). With it, the mappings of shared memory objects bring the
        object's dumped pages at the addresses this process sees them: all of them in a
        ``MAP_SHARED`` mapping, only where the process has no page of its own in a
        ``MAP_PRIVATE`` one.
        """
        memory_filter = memory_filter or MemoryFilter()
        attachments = {attachment.mapping.start: attachment for attachment in self.attachments}
        regions = []
        for mapping in self.mappings:
            span = memory_filter.clip(mapping.start, mapping.end) if memory_filter.accepts(mapping) else None
            if span is None:
                continue
            attachment = attachments.get(mapping.start)
            if attachment is None or attachment.private:
                regions += _cut(mapping, span, self.dumped, 0, self.pages_member, self.space)
            if shared and attachment is not None:
                regions += _attached_regions(attachment, span, self.space)
        if shared and attachments:
            regions.sort(key=lambda region: region.start)
        return regions

    @cached_property
    def dumped(self) -> _Dumped:
        """The dumped extents, laid out once (every mapping and every attachment cuts from them)."""
        # a pagemap past the end of its pages image is cut (and warned about) by normalise_pagemap
        extents = _clip_to_image(list(self.space.present_extents()), self.pages_size).extents
        return _Dumped(extents, [vaddr for vaddr, _, _ in extents])

    def read(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address`` as the process saw them, shared memory included;
        MemoryUnavailableError if any of them is not in the checkpoint."""
        out = bytearray()
        cursor, end = address, address + size
        while cursor < end:
            attachment, stop = self._shown_at(cursor, end)
            if attachment is None:
                out += self.space.read(cursor, stop - cursor)
            else:
                mapping = attachment.mapping
                offset = cursor - mapping.start + mapping.vma.pgoff
                try:
                    out += attachment.shared.space.read(offset, stop - cursor)
                except MemoryUnavailableError as exc:  # say where the process saw it
                    shown = exc.message.replace("address ", "offset ").replace("page at ", "offset ")
                    raise MemoryUnavailableError(
                        f"address {cursor:#x} ({attachment.shared.describe()}): {shown}"
                    ) from None
            cursor = stop
        return bytes(out)

    def _shown_at(self, address: int, end: int) -> tuple[Attachment | None, int]:
        """Whose page shows ``address``: the process's own (None) or a shared object's (its
        attachment); and up to where, below ``end``, the same one does."""
        attachment = self._attachment_at(address)
        if attachment is None:
            run = self.space.run_at(address)
            stop = min(end, run.end) if run is not None else end
            return None, min(stop, self._next_attachment_start(address, end))
        stop = min(end, attachment.mapping.end)
        if not attachment.private:
            return attachment, stop
        run = self.space.run_at(address)
        if run is not None:  # a page the process copied (wrote): its own
            return None, min(stop, run.end)
        return attachment, next(self.space.gaps(address, stop))[1]

    def read_available(self, address: int, size: int) -> tuple[bytes, int]:
        """As many bytes as the checkpoint holds from ``address`` on, up to ``size``; and how many."""
        return read_available(self.read, address, size)

    def scan(
        self,
        patterns: list[SearchPattern],
        memory_filter: MemoryFilter | None = None,
        *,
        context: int = 16,
        max_count: int | None = None,
        chunk_size: int | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
        screen: PagesScreen | None = None,
    ) -> Generator[MemoryMatch, None, None]:
        """Every match of ``patterns`` in this memory's own regions that ``memory_filter`` keeps
        (shared objects a process maps are scanned on their own), by address.

        ``context`` bytes (at most MAX_CONTEXT) are kept on either side of each match, from the
        same region; ``max_count`` ends the scan after that many matches; ``progress`` is told
        how many bytes were scanned. The pages image is read where it lies, ``chunk_size``
        bytes at a time (default: model.pages' DEFAULT_CHUNK_SIZE) with the overlap a match can
        span, by ``workers`` forked processes when it is mapped (default: one per CPU, up to
        MAX_WORKERS, for PARALLEL_THRESHOLD bytes or more); the matches are the same whatever
        the window size or the workers.
        ``screen``: the tap the checkpoint was listed through (``PagesScreen``); when it was
        made for these patterns and screened the pages image whole, only the stretches it kept
        are scanned, and the archive is not read again. Raises ArchiveError or OSError when
        the pages image cannot be read; the matches found before stay found. Close the
        iterator (or read it to its end) to unmap the pages image."""
        from checkforensics.model.scan.search import scan_memory

        return scan_memory(
            self,
            patterns,
            memory_filter,
            context=context,
            max_count=max_count,
            chunk_size=chunk_size,
            workers=workers,
            progress=progress,
            screen=screen,
        )

    def open_pages(self, chunk_size: int | None = None) -> AbstractContextManager[PageSource]:
        """This memory's own pages image, mapped where it lies or streamed, ``chunk_size`` bytes at
        a time (``model.pages``)."""
        return self._images().open(self.pages_member, chunk_size)

    def page_sources(self, chunk_size: int | None = None) -> PageSources:
        """The pages images of this memory's regions, shared objects' included, each opened when
        a region first asks for it (``sources.blocks(region)``); use as a context manager."""
        return self._images().sources(chunk_size)

    def _images(self) -> PagesImages:
        if self.images is None:
            raise ValueError(f"{self.label}: a memory view made without its checkpoint's pages images")
        return self.images

    def _attachment_at(self, address: int) -> Attachment | None:
        for attachment in self.attachments:
            if attachment.mapping.start <= address < attachment.mapping.end:
                return attachment
        return None

    def _next_attachment_start(self, address: int, end: int) -> int:
        starts = [a.mapping.start for a in self.attachments if address < a.mapping.start < end]
        return min(starts, default=end)


@dataclass(frozen=True)
class _Dumped:
    extents: list[tuple[int, int, int]]  # sorted (vaddr, offset, length), vaddr in the space's own terms
    starts: list[int]  # their vaddrs, for bisection


def _cut(
    mapping: Mapping, span: tuple[int, int], dumped: _Dumped, shift: int, member: str, space: AddressSpace
) -> list[Region]:
    """The regions of ``dumped`` that fall in ``span`` of ``mapping`` once moved by ``shift``
    (space address + shift = process address); a gap between extents starts a new region.
    Only the extents that can fall in the span are looked at."""
    extents = dumped.extents
    regions = []
    pieces: list[tuple[int, int, int]] = []
    for index in range(max(0, bisect.bisect_right(dumped.starts, span[0] - shift) - 1), len(extents)):
        vaddr, offset, length = extents[index]
        vaddr += shift
        if vaddr >= span[1]:
            break
        start, end = max(vaddr, span[0]), min(vaddr + length, span[1])
        if start >= end:
            continue
        if pieces and pieces[-1][0] + pieces[-1][2] != start:
            regions.append(Region(mapping, tuple(pieces), member, space))
            pieces = []
        pieces.append((start, offset + start - vaddr, end - start))
    if pieces:
        regions.append(Region(mapping, tuple(pieces), member, space))
    return regions


def _attached_regions(attachment: Attachment, span: tuple[int, int], own: AddressSpace) -> list[Region]:
    """The shared object's regions in ``span`` of the attachment's mapping: all of them, or for a
    private mapping those where the process (``own``) has no page of its own."""
    mapping, shared = attachment.mapping, attachment.shared
    shift = mapping.start - mapping.vma.pgoff
    spans = list(own.gaps(*span)) if attachment.private else [span]
    return [
        region
        for part in spans
        for region in _cut(mapping, part, shared.dumped, shift, shared.pages_member, shared.space)
    ]


@dataclass
class _Extents:
    extents: list[tuple[int, int, int]]
    cut: bool = False


def _clip_to_image(extents: list[tuple[int, int, int]], size: int) -> _Extents:
    """Extents cut to what the pages image holds (a damaged pagemap may point past its end)."""
    kept = _Extents([])
    for vaddr, offset, length in extents:
        if offset + length > size:
            kept.cut = True
            length = size - offset
        if length > 0:
            kept.extents.append((vaddr, offset, length))
    return kept
