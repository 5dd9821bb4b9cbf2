"""Mappings, filters and regions: the memory primitives, which memory of a process is looked at
and which of it was dumped.

A region is a stretch of one mapping whose pages were all dumped and are contiguous in virtual
addresses (several pagemap runs may make one region); it never continues into another mapping
or across pages that were not dumped. The memory view that lists a process's regions, reads
and scans them is ``model.view``'s ``ProcessMemory``; nothing here knows of it, of page
sources (``model.pages``) or of scanning (``model.scan``).
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from dataclasses import dataclass, field
from functools import cached_property

from checkforensics.model.memory import AddressSpace, Vma
from checkforensics.records.declare import Field, RecordType
from checkforensics.records.values import ADDRESS, TEXT

UNKNOWN = "unknown"  # a mapping the checkpoint does not describe (its mm image is missing), only its pages
VMA_KINDS = ("heap", "stack", "anon", "file", "shared", "vdso", "vvar", "vsyscall", "memfd", "sysvipc", "socket",
             UNKNOWN)  # fmt: skip


@dataclass(frozen=True)
class Mapping:
    """One VMA of a process, with what it is (``kind``), the file behind it (``path``) and
    whether that file was deleted (``deleted``)."""

    vma: Vma
    kind: str
    path: str | None
    deleted: bool = False

    @property
    def start(self) -> int:
        return self.vma.start

    @property
    def end(self) -> int:
        return self.vma.end

    @property
    def perms(self) -> str:
        """``rw-p`` as /proc/PID/maps shows it; ``????`` for an ``unknown`` mapping."""
        return "????" if self.kind == UNKNOWN else self.vma.perms

    @property
    def label(self) -> str:
        """The backing file, or the kind in brackets as /proc/PID/maps shows it: ``[heap]``."""
        return self.path if self.path is not None else f"[{self.kind}]"

    def describe(self) -> str:
        """``559e42bd9000-559e42bfa000 rw-p [heap]``."""
        return f"{self.start:x}-{self.end:x} {self.perms} {self.label}"


VMA = RecordType(
    "vma",
    "vmas",
    (
        Field("start", ADDRESS, "its first address"),
        Field("end", ADDRESS, "the address after its last"),
        Field("perms", TEXT, "as /proc/PID/maps shows them; ???? for an unknown mapping"),
        Field("kind", TEXT, ", ".join(VMA_KINDS)),
        Field("path", TEXT, "the backing file (memfd:NAME for a memfd); null for anonymous memory"),
    ),
    doc="A mapping of a process (its VMA): the vma of memgrep's matches and of memdump's regions.",
)


_PERMS_EXACT = re.compile(r"[r-][w-][x-][ps]?")


@dataclass(frozen=True)
class MemoryFilter:
    """Which memory to look at; the default takes everything.

    ``perms``: letters every accepted mapping has (``rw``, ``x``, ``s``), or an exact
    ``/proc/PID/maps`` form with dashes (``r-x``, ``rw-p``). ``kinds``: mapping kinds
    (VMA_KINDS). ``address``: ``[start, end)``; memory outside it is cut off. ``file_glob``: a
    shell pattern the backing file's path must match (``*libc*``, ``/usr/bin/*``). ``largest``:
    mappings bigger than this many bytes are left out (a glibc arena's heaps are never bigger
    than 64 MiB: a reader of malloc's small blocks need not read the rest).
    """

    perms: str | None = None
    kinds: frozenset[str] = frozenset()
    address: tuple[int, int] | None = None
    file_glob: str | None = None
    largest: int | None = None

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
        if self.largest is not None and mapping.end - mapping.start > self.largest:
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
    pages image ``member``; the next piece starts at the address where the previous one ends.
    ``space`` is the address space whose pages image that is: the process's own, or, for a
    mapping of shared memory, the shared object's. Read the bytes with ``read``.
    """

    mapping: Mapping
    pieces: tuple[tuple[int, int, int], ...]
    member: str = ""
    space: AddressSpace | None = field(default=None, compare=False, repr=False)

    @property
    def start(self) -> int:
        return self.pieces[0][0]

    @property
    def length(self) -> int:
        return sum(piece[2] for piece in self.pieces)

    @property
    def end(self) -> int:
        return self.start + self.length

    @cached_property
    def _piece_starts(self) -> list[int]:
        return [vaddr - self.start for vaddr, _, _ in self.pieces]

    def read(self, position: int, size: int) -> bytes:
        """``size`` bytes at ``position`` (counted from ``start``), fewer only past the end."""
        if self.space is None:
            raise ValueError("a region without its address space cannot be read")
        out = bytearray()
        if len(self.pieces) == 1:  # the common case: one stretch of the pages image
            vaddr, offset, length = self.pieces[0]
            return self.space.read_dumped(offset + position, max(0, min(size, length - position)))
        index = max(0, bisect.bisect_right(self._piece_starts, position) - 1)
        while size > 0 and index < len(self.pieces):
            vaddr, offset, length = self.pieces[index]
            inside = position - (vaddr - self.start)
            take = min(size, length - inside)
            if take > 0:
                chunk = self.space.read_dumped(offset + inside, take)
                out += chunk
                if len(chunk) < take:
                    break
                position, size = position + take, size - take
            index += 1
        return bytes(out)
