"""A process's dumped address space: read N bytes at a virtual address.

Built from ``mm-N.img`` (the mappings), ``pagemap-N.img`` (which runs of pages were dumped, and
where they went) and ``pages-<id>.img`` (the page contents, back to back in pagemap order).
No caller ever does page arithmetic: they ask for bytes at an address and get them, or a
``MemoryUnavailableError`` saying why not.

References: criu/pagemap.c (init_compat_pagemap_entry), criu/include/pagemap.h, images/pagemap.proto.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from checkforensics.errors import CheckforensicsError
from checkforensics.images.flags import PAGE_SHIFT, PAGE_SIZE, MapFlags, PagemapFlags, Prot, VmaStatus
from checkforensics.model.architecture import UNKNOWN_ARCHITECTURE, Architecture
from checkforensics.model.structs import StructReader

ReadAt = Callable[[int, int], bytes]  # (offset in pages-N.img, size) -> bytes


class MemoryUnavailableError(CheckforensicsError):
    """Bytes asked for at an address that the checkpoint does not hold."""


@dataclass(frozen=True)
class PageRun:
    """One pagemap entry, normalised across CRIU versions."""

    vaddr: int
    nr_pages: int
    flags: PagemapFlags
    file_offset: int | None  # where its pages start in pages-N.img; None when not in this image

    @property
    def end(self) -> int:
        return self.vaddr + (self.nr_pages << PAGE_SHIFT)


@dataclass(frozen=True)
class Vma:
    """One mapping of the process."""

    start: int
    end: int
    prot: int
    flags: int
    status: int
    pgoff: int
    shmid: int

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def perms(self) -> str:
        shared = "s" if self.status & _SHARED else "p"
        return "".join(letter if self.prot & bit else "-" for letter, bit in _PERM_BITS) + shared

    @property
    def file_backed(self) -> bool:
        return bool(self.status & _FILE)

    @property
    def shared(self) -> bool:
        """A mapping of a shared memory object, whose pages CRIU dumps with the object (those
        the process copied in a ``private`` one with the process)."""
        return bool(self.status & _SHARED_OBJECT)

    @property
    def private(self) -> bool:
        """``MAP_PRIVATE`` (copy-on-write): a page the process wrote is its own copy, and hides
        the page of the file or shared object mapped there."""
        return not self.flags & _MAP_SHARED

    @property
    def kind(self) -> str:
        """heap, stack, vdso, vvar, vsyscall, file, shared, sysvipc, socket, anon."""
        status = self.status
        for flag, name in _KINDS:
            if status & flag:
                return name
        if status & _FILE:
            return "file"
        if status & _ANON_SHARED:
            return "shared"
        return "anon"


# Plain integers: a checkpoint has thousands of mappings, and IntFlag arithmetic is slow.
_PERM_BITS = (("r", int(Prot.PROT_READ)), ("w", int(Prot.PROT_WRITE)), ("x", int(Prot.PROT_EXEC)))
_SHARED = int(VmaStatus.VMA_FILE_SHARED | VmaStatus.VMA_ANON_SHARED)
_FILE = int(VmaStatus.VMA_FILE_PRIVATE | VmaStatus.VMA_FILE_SHARED)
_ANON_SHARED = int(VmaStatus.VMA_ANON_SHARED)
_MAP_SHARED = int(MapFlags.MAP_SHARED)
_SHARED_OBJECT = int(VmaStatus.VMA_ANON_SHARED | VmaStatus.VMA_AREA_SYSVIPC | VmaStatus.VMA_AREA_MEMFD)
_KINDS = tuple(
    (int(flag), name)
    for flag, name in (
        (VmaStatus.VMA_AREA_HEAP, "heap"),
        (VmaStatus.VMA_AREA_STACK, "stack"),
        (VmaStatus.VMA_AREA_VDSO, "vdso"),
        (VmaStatus.VMA_AREA_VVAR, "vvar"),
        (VmaStatus.VMA_AREA_VSYSCALL, "vsyscall"),
        (VmaStatus.VMA_AREA_SYSVIPC, "sysvipc"),
        (VmaStatus.VMA_AREA_SOCKET, "socket"),
        (VmaStatus.VMA_AREA_MEMFD, "memfd"),
    )
)


def normalise_pagemap(
    entries: list[Any], pages_size: int | None = None, notes: list[str] | None = None
) -> list[PageRun]:
    """Pagemap entries (after the head) as PageRuns with their offsets in pages-N.img, in
    address order, none overlapping another.

    CRIU 4.2 writes the count in ``nr_pages`` and 0 in ``compat_nr_pages``; older CRIU only
    ``compat_nr_pages``.  Entries without ``flags`` are present, ``in_parent`` means PE_PARENT.
    Only present runs occupy the pages image, in pagemap order.

    A pagemap is not trusted to fit its pages image (``pages_size``): a present run is cut to the
    pages the image holds, and the rest of it stays a present run without an offset (reading
    there says it lies past the end of the pages image), so that a run claiming 2^40 pages counts
    as what is there. A run overlapping one at a lower address is trimmed to where that one ends.
    What was cut is said in ``notes``, one phrase each.
    """
    runs = []
    offset = past = 0
    for entry in entries:
        nr_pages = entry.nr_pages if entry.HasField("nr_pages") else entry.compat_nr_pages
        if entry.HasField("in_parent") and entry.in_parent:
            flags = PagemapFlags.PE_PARENT
        elif not entry.HasField("flags"):
            flags = PagemapFlags.PE_PRESENT
        else:
            flags = PagemapFlags(entry.flags)
        if not flags & PagemapFlags.PE_PRESENT:
            runs.append(PageRun(entry.vaddr, nr_pages, flags, None))
            continue
        held = nr_pages if pages_size is None else max(0, min(nr_pages, (pages_size - offset) >> PAGE_SHIFT))
        if held:
            runs.append(PageRun(entry.vaddr, held, flags, offset))
        if held < nr_pages:
            runs.append(PageRun(entry.vaddr + (held << PAGE_SHIFT), nr_pages - held, flags, None))
            past += nr_pages - held
        offset += nr_pages << PAGE_SHIFT
    if past and notes is not None:
        notes.append(
            f"the pagemap points past the end of the pages image ({past} pages more than its {pages_size} bytes "
            "hold); memory it does not hold is skipped"
        )
    return _disjoint(sorted(runs, key=lambda run: run.vaddr), notes)


def _disjoint(runs: list[PageRun], notes: list[str] | None) -> list[PageRun]:
    """Sorted ``runs`` with each trimmed to start where the one before it ends (real pagemaps
    never overlap; a hostile one must not make the same address two things)."""
    kept: list[PageRun] = []
    trimmed = 0
    for run in runs:
        if kept and run.vaddr < kept[-1].end:
            trimmed += 1
            skip = (kept[-1].end - run.vaddr + PAGE_SIZE - 1) >> PAGE_SHIFT
            if skip >= run.nr_pages:
                continue
            offset = None if run.file_offset is None else run.file_offset + (skip << PAGE_SHIFT)
            run = PageRun(run.vaddr + (skip << PAGE_SHIFT), run.nr_pages - skip, run.flags, offset)
        kept.append(run)
    if trimmed and notes is not None:
        notes.append(f"{trimmed} pagemap runs overlap others; each address is read from the run starting first")
    return kept


def vmas_from_mm(mm: Any, notes: list[str] | None = None) -> list[Vma]:
    """The mappings of an MmEntry in address order, none overlapping another (the kernel's never
    do); ``notes`` says how many were left out.

    A mapping that ends before it starts is left out. Of mappings that overlap, the most that do
    not are kept (taken by their end, as in interval scheduling): one mapping claiming the whole
    address space gives way to the many it covers, rather than hiding them.
    """
    vmas = [Vma(v.start, v.end, v.prot, v.flags, v.status, v.pgoff, v.shmid) for v in mm.vmas]
    kept: list[Vma] = []
    for vma in sorted((vma for vma in vmas if vma.start < vma.end), key=lambda vma: (vma.end, vma.start)):
        if not kept or vma.start >= kept[-1].end:
            kept.append(vma)
    if notes is not None and len(kept) < len(vmas):
        notes.append(f"{len(vmas) - len(kept)} mappings end before they start or overlap others; left out")
    return kept


class AddressSpace(StructReader):
    """Reads from one process's dumped memory, by virtual address: bytes (``read``), and
    integers, pointers, C strings and structures in the terms of ``architecture`` (StructReader)."""

    def __init__(
        self,
        vmas: list[Vma],
        runs: list[PageRun],
        read_at: ReadAt,
        pages_size: int | None = None,
        architecture: Architecture = UNKNOWN_ARCHITECTURE,
    ) -> None:
        self.architecture = architecture
        self.vmas = sorted(vmas, key=lambda v: v.start)
        self.runs = sorted(runs, key=lambda r: r.vaddr)
        self._read_at = read_at
        self._starts = [run.vaddr for run in self.runs]
        self._vma_starts = [vma.start for vma in self.vmas]
        self.pages_size = pages_size

    @property
    def dumped_bytes(self) -> int:
        return sum(run.nr_pages << PAGE_SHIFT for run in self.runs if run.file_offset is not None)

    def vma_at(self, address: int) -> Vma | None:
        index = bisect.bisect_right(self._vma_starts, address) - 1
        if index >= 0 and self.vmas[index].start <= address < self.vmas[index].end:
            return self.vmas[index]
        return None

    def run_at(self, address: int) -> PageRun | None:
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0 and self.runs[index].vaddr <= address < self.runs[index].end:
            return self.runs[index]
        return None

    def gaps(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """The stretches of ``[start, end)`` that no pagemap run describes (dumped or not), in
        address order: where the process has no page of its own."""
        cursor = start
        index = max(0, bisect.bisect_right(self._starts, start) - 1)
        while cursor < end and index < len(self.runs):
            run = self.runs[index]
            if run.end > cursor:
                if run.vaddr >= end:
                    break
                if run.vaddr > cursor:
                    yield cursor, run.vaddr
                cursor = run.end
            index += 1
        if cursor < end:
            yield cursor, end

    def read(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address``; MemoryUnavailableError if any of them was not dumped."""
        out = bytearray()
        cursor = address
        end = address + size
        while cursor < end:
            run = self.run_at(cursor)
            if run is None:
                raise MemoryUnavailableError(f"address {cursor:#x} was not dumped")
            if run.file_offset is None:
                why = "was not dumped"
                if run.flags & PagemapFlags.PE_PARENT:
                    why = "is in the parent (pre-dump) image"
                elif run.flags & PagemapFlags.PE_PRESENT:  # see normalise_pagemap
                    why = "lies past the end of the pages image"
                raise MemoryUnavailableError(f"page at {cursor:#x} {why}")
            take = min(end, run.end) - cursor
            offset = run.file_offset + (cursor - run.vaddr)
            if self.pages_size is not None and offset + take > self.pages_size:
                raise MemoryUnavailableError(f"page at {cursor:#x} lies past the end of the pages image")
            chunk = self._read_at(offset, take)
            if len(chunk) != take:
                raise MemoryUnavailableError(f"page at {cursor:#x} lies past the end of the pages image")
            out += chunk
            cursor += take
        return bytes(out)

    def read_available(self, address: int, size: int) -> tuple[bytes, int]:
        """As many bytes as were dumped from ``address`` on, up to ``size``; and how many."""
        return read_available(self.read, address, size)

    def read_dumped(self, file_offset: int, size: int) -> bytes:
        """Raw bytes of the pages image (for copying whole extents; see present_extents)."""
        return self._read_at(file_offset, size)

    def present_extents(self) -> Iterator[tuple[int, int, int]]:
        """``(vaddr, file_offset, length)`` of every dumped run, merged where contiguous in both."""
        current: list[int] | None = None
        for run in self.runs:
            if run.file_offset is None:
                continue
            length = run.nr_pages << PAGE_SHIFT
            if current and current[0] + current[2] == run.vaddr and current[1] + current[2] == run.file_offset:
                current[2] += length
                continue
            if current:
                yield current[0], current[1], current[2]
            current = [run.vaddr, run.file_offset, length]
        if current:
            yield current[0], current[1], current[2]


def read_available(read: Callable[[int, int], bytes], address: int, size: int) -> tuple[bytes, int]:
    """As many bytes as ``read(address, size)`` gives from ``address`` on, up to ``size``, page
    by page until the first page that is not there; and how many."""
    out = bytearray()
    while len(out) < size:
        cursor = address + len(out)
        try:
            out += read(cursor, min(PAGE_SIZE - cursor % PAGE_SIZE, size - len(out)))
        except MemoryUnavailableError:
            break
    return bytes(out), len(out)
