"""Mappings, filters and regions: which memory of a process is looked at, and which of it was dumped.

A region is a stretch of one mapping whose pages were all dumped and are contiguous in virtual
addresses (several pagemap runs may make one region); it never continues into another mapping
or across pages that were not dumped.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from checkforensics.analysis.memory import AddressSpace, Vma

VMA_KINDS = ("heap", "stack", "anon", "file", "shared", "vdso", "vvar", "vsyscall", "memfd", "sysvipc", "socket")


@dataclass(frozen=True)
class Mapping:
    """One VMA of a process, with what it is (``kind``) and the file behind it (``path``)."""

    vma: Vma
    kind: str
    path: str | None

    @property
    def start(self) -> int:
        return self.vma.start

    @property
    def end(self) -> int:
        return self.vma.end

    @property
    def perms(self) -> str:
        return self.vma.perms

    @property
    def label(self) -> str:
        """The backing file, or the kind in brackets as /proc/PID/maps shows it: ``[heap]``."""
        return self.path if self.path is not None else f"[{self.kind}]"

    def describe(self) -> str:
        """``559e42bd9000-559e42bfa000 rw-p [heap]``."""
        return f"{self.start:x}-{self.end:x} {self.perms} {self.label}"

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "perms": self.perms, "kind": self.kind, "path": self.path}


_PERMS_EXACT = re.compile(r"[r-][w-][x-][ps]?")


@dataclass(frozen=True)
class MemoryFilter:
    """Which memory to look at; the default takes everything.

    ``perms``: letters every accepted mapping has (``rw``, ``x``, ``s``), or an exact
    ``/proc/PID/maps`` form with dashes (``r-x``, ``rw-p``). ``kinds``: mapping kinds
    (VMA_KINDS). ``address``: ``[start, end)``; memory outside it is cut off. ``file_glob``: a
    shell pattern the backing file's path must match (``*libc*``, ``/usr/bin/*``).
    """

    perms: str | None = None
    kinds: frozenset[str] = frozenset()
    address: tuple[int, int] | None = None
    file_glob: str | None = None

    def __post_init__(self) -> None:
        if self.perms is not None and not (
            _PERMS_EXACT.fullmatch(self.perms) or (self.perms and set(self.perms) <= set("rwxps"))
        ):
            raise ValueError(f"{self.perms!r}: give letters among r, w, x, s, p (e.g. rw), or a form like r-xp")
        unknown = set(self.kinds) - set(VMA_KINDS)
        if unknown:
            raise ValueError(f"unknown mapping kind(s) {', '.join(sorted(unknown))}; known: {', '.join(VMA_KINDS)}")
        if self.address is not None and self.address[0] >= self.address[1]:
            raise ValueError("the address range is empty (START must be below END)")

    def accepts(self, mapping: Mapping) -> bool:
        if self.kinds and mapping.kind not in self.kinds:
            return False
        if self.perms is not None and not _perms_match(self.perms, mapping.perms):
            return False
        if self.file_glob is not None and not _path_matches(mapping.path, self.file_glob):
            return False
        return self.clip(mapping.start, mapping.end) is not None

    def clip(self, start: int, end: int) -> tuple[int, int] | None:
        """``[start, end)`` cut to the address range; None when nothing is left."""
        if self.address is not None:
            start, end = max(start, self.address[0]), min(end, self.address[1])
        return (start, end) if start < end else None


def _path_matches(path: str | None, glob: str) -> bool:
    return path is not None and fnmatch.fnmatchcase(path, glob)


def _perms_match(wanted: str, perms: str) -> bool:
    if "-" in wanted or (len(wanted) == 4 and _PERMS_EXACT.fullmatch(wanted)):
        return perms.startswith(wanted)
    return all(letter in perms for letter in wanted)


def parse_address_range(text: str) -> tuple[int, int]:
    """``START-END`` (hexadecimal, ``0x`` optional, END excluded) as ``(start, end)``."""
    start_text, dash, end_text = text.strip().partition("-")
    try:
        if not dash:
            raise ValueError(text)
        start, end = int(start_text, 16), int(end_text, 16)
    except ValueError:
        raise ValueError(f"{text!r} is not START-END in hexadecimal (e.g. 0x7f0000000000-0x7fffffffffff)") from None
    if start >= end:
        raise ValueError(f"{text!r}: START must be below END")
    return start, end


@dataclass(frozen=True)
class Region:
    """Dumped memory of one mapping, contiguous in virtual addresses.

    ``pieces`` are ``(vaddr, file_offset, length)`` in address order, each contiguous in the
    pages image; the next piece starts at the address where the previous one ends.
    """

    mapping: Mapping
    pieces: tuple[tuple[int, int, int], ...]

    @property
    def start(self) -> int:
        return self.pieces[0][0]

    @property
    def length(self) -> int:
        return sum(piece[2] for piece in self.pieces)

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class ProcessMemory:
    """What a process had mapped and which of it the checkpoint holds, read from which image."""

    pid: int
    comm: str | None
    space: AddressSpace
    mappings: list[Mapping]
    pages_member: str  # the pages image's member name in the checkpoint
    pages_size: int

    @property
    def label(self) -> str:
        """How messages name this memory: ``pid 7`` (``shared memory 8708``, see sharedmem)."""
        return f"pid {self.pid}"

    def regions(self, memory_filter: MemoryFilter | None = None, warnings: list[str] | None = None) -> list[Region]:
        """The dumped regions of the mappings ``memory_filter`` accepts, in address order."""
        memory_filter = memory_filter or MemoryFilter()
        extents = _clip_to_image(list(self.space.present_extents()), self.pages_size)
        if warnings is not None and extents.cut:
            warnings.append(
                f"{self.label}: the pagemap points past the end of {self.pages_member} ({self.pages_size} bytes); "
                "memory it does not hold is skipped"
            )
        starts = [extent[0] for extent in extents.extents]
        regions = []
        for mapping in self.mappings:
            span = memory_filter.clip(mapping.start, mapping.end) if memory_filter.accepts(mapping) else None
            if span is None:
                continue
            pieces: list[tuple[int, int, int]] = []
            for vaddr, offset, length in extents.extents[max(0, bisect.bisect_right(starts, span[0]) - 1) :]:
                if vaddr >= span[1]:
                    break
                start, end = max(vaddr, span[0]), min(vaddr + length, span[1])
                if start >= end:
                    continue
                if pieces and pieces[-1][0] + pieces[-1][2] != start:
                    regions.append(Region(mapping, tuple(pieces)))
                    pieces = []
                pieces.append((start, offset + start - vaddr, end - start))
            if pieces:
                regions.append(Region(mapping, tuple(pieces)))
        return regions


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
