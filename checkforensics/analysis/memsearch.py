"""Searching, sizing, hex-dumping and copying the dumped memory of checkpointed processes.

Memory is read where it lies, never extracted and never read whole:

- a plain tar: the pages image's byte range of the archive file is mapped (``mmap``, read-only),
  one window of ``chunk_size`` bytes at a time, so the process never holds more than a window;
- a directory: the same, over the pages file itself;
- a compressed archive: the pages image is streamed in increasing file order, ``chunk_size``
  bytes at a time.

Memory is cut into *regions*: stretches of one mapping whose pages were all dumped and are
contiguous in virtual addresses (several pagemap runs may make one region). A region never
continues into another mapping or across pages that were not dumped, so a match can never be
made of bytes that were not next to each other in the process.

A search scans each region once, window by window, for every pattern. Windows are stitched
with an overlap of ``max_length - 1`` bytes (plus the context asked for), so within a region
each pattern finds exactly what ``re.finditer`` over the region's bytes would find (leftmost
matches, not overlapping one another; different patterns may overlap), whatever the window
size, provided a match is at most ``SearchPattern.max_length`` bytes long. Literal patterns
know their length; a regular expression's longest match comes from its parse, capped at
``MAX_MATCH_LENGTH``: a longer match of an unbounded regex (``\\w+``) may be found cut short.

References: criu/pagemap.c, criu/include/image.h (VMA status), images/mm.proto,
images/pagemap.proto, images/regfile.proto and images/memfd.proto (file names); hexdump(1) ``-C``.
"""

from __future__ import annotations

import bisect
import contextlib
import fnmatch
import io
import itertools
import mmap
import os
import re
import signal
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from checkforensics.analysis.memory import AddressSpace, Vma, normalise_pagemap, vmas_from_mm
from checkforensics.analysis.processes import load_mm, load_tree
from checkforensics.archive import Checkpoint
from checkforensics.errors import ArchiveError, CheckforensicsError, ExitCode
from checkforensics.images.flags import MapFlags
from checkforensics.images.load import load_image, text

DEFAULT_CHUNK_SIZE = 8 << 20  # bytes mapped or decompressed at a time
# MAP_POPULATE: the kernel maps the whole window at once instead of page fault by page fault
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
MAX_MATCH_LENGTH = 4096  # the longest match of an unbounded regex that is guaranteed whole
MAX_CONTEXT = 4096  # context bytes on either side of a match, at most
HEXDUMP_WIDTH = 16

VMA_KINDS = ("heap", "stack", "anon", "file", "shared", "vdso", "vvar", "vsyscall", "memfd", "sysvipc", "socket")

Buffer = bytes | bytearray | mmap.mmap
Progress = Callable[[int], None]  # called with the number of bytes just scanned


class ProcessNotFoundError(CheckforensicsError):
    """A process asked for by PID is not in the checkpoint."""

    exit_code = ExitCode.USAGE


# --- patterns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchPattern:
    """What to look for: a compiled bytes regex, and how long its matches can be.

    ``name`` is how output names the pattern (the text the user gave, or a rule id).
    ``max_length``: the most bytes one match spans (with what its lookarounds read); a match
    that long is found whole whatever the chunking. ``literal`` (with
    ``ignore_case``) marks a plain string, searched with a fast substring search instead of the
    regex engine; ``tag`` is the caller's own object (a secrets rule, say), handed back with
    each match.
    """

    name: str
    regex: re.Pattern[bytes]
    max_length: int
    literal: bytes | None = None
    ignore_case: bool = False
    tag: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.regex.pattern, bytes):
            raise ValueError(f"pattern {self.name!r}: a bytes regex is needed, not a str one")
        if self.max_length < 1:
            raise ValueError(f"pattern {self.name!r}: max_length must be at least 1")
        if self.literal is not None and not self.literal:
            raise ValueError("an empty string matches everywhere; give at least one byte")

    @classmethod
    def from_literal(cls, text: bytes, *, ignore_case: bool = False, name: str | None = None) -> SearchPattern:
        """A plain byte string (``-i``: ASCII letters in either case)."""
        if not text:
            raise ValueError("an empty string matches everywhere; give at least one byte")
        flags = re.IGNORECASE if ignore_case else 0
        shown = name if name is not None else text.decode("utf-8", "backslashreplace")
        literal = text.lower() if ignore_case else text
        return cls(shown, re.compile(re.escape(text), flags), len(text), literal, ignore_case)

    @classmethod
    def from_regex(
        cls, source: bytes, *, ignore_case: bool = False, name: str | None = None, max_length: int | None = None
    ) -> SearchPattern:
        """A Python regular expression over bytes; raises ``re.error`` when it does not compile."""
        regex = re.compile(source, re.IGNORECASE if ignore_case else 0)
        shown = name if name is not None else source.decode("utf-8", "backslashreplace")
        return cls(shown, regex, max_length or longest_match(regex), ignore_case=ignore_case)


def longest_match(regex: re.Pattern[bytes]) -> int:
    """The most bytes one match of ``regex`` can span, lookarounds included, capped at MAX_MATCH_LENGTH.

    The cap is also the answer when the regex cannot be measured.
    """
    try:
        from re import _parser  # the parser behind re.compile: exact widths for bounded regexes

        tree = _parser.parse(regex.pattern, regex.flags)
        widest = tree.getwidth()[1] + _lookaround_reach(tree)
    except Exception:  # a private module: if it ever changes, fall back to the cap
        return MAX_MATCH_LENGTH
    return max(1, min(int(widest), MAX_MATCH_LENGTH))


def _lookaround_reach(tree: Any) -> int:
    """An upper bound of the bytes the lookarounds in a parsed regex read outside its match."""
    from re import _constants as op

    reach = 0
    for code, value in tree:
        if code in (op.ASSERT, op.ASSERT_NOT):
            reach += min(value[1].getwidth()[1], MAX_MATCH_LENGTH) + _lookaround_reach(value[1])
        elif code is op.SUBPATTERN:
            reach += _lookaround_reach(value[-1])
        elif code is op.ATOMIC_GROUP:
            reach += _lookaround_reach(value)
        elif code in (op.MAX_REPEAT, op.MIN_REPEAT, op.POSSESSIVE_REPEAT):
            reach += _lookaround_reach(value[2])
        elif code is op.BRANCH:
            reach += max((_lookaround_reach(branch) for branch in value[1]), default=0)
        elif code is op.GROUPREF_EXISTS:
            reach += max(_lookaround_reach(value[1]), _lookaround_reach(value[2]) if value[2] else 0)
    return reach


def escape_bytes(data: bytes) -> str:
    """Printable ASCII kept, every other byte (and ``\\``) as ``\\xNN``: safe on any terminal."""
    return "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in data)


# --- mappings, filters, regions -------------------------------------------------------------


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


# --- loading --------------------------------------------------------------------------------


def file_names(checkpoint: Checkpoint, warnings: list[str]) -> dict[int, str]:
    """File id -> path, from files.img (or the older reg-files.img); memfds as ``memfd:NAME``."""
    names: dict[int, str] = {}
    memfds: dict[int, int] = {}  # file id -> memfd inode id
    try:
        if checkpoint.has_image("files.img"):
            for entry in load_image(checkpoint, "files.img").messages():
                if entry.HasField("reg"):
                    names[entry.id] = text(entry.reg.name)
                elif entry.HasField("memfd"):
                    memfds[entry.id] = entry.memfd.inode_id
        elif checkpoint.has_image("reg-files.img"):
            names.update((entry.id, text(entry.name)) for entry in load_image(checkpoint, "reg-files.img").messages())
        if memfds and checkpoint.has_image("memfd.img"):
            inodes = {inode.inode_id: text(inode.name) for inode in load_image(checkpoint, "memfd.img").messages()}
            names.update((file_id, f"memfd:{inodes[inode]}") for file_id, inode in memfds.items() if inode in inodes)
    except CheckforensicsError as exc:
        warnings.append(f"file names of mappings unknown: {exc}")
    return names


def describe_mappings(vmas: Iterable[Vma], mm: Any, names: dict[int, str]) -> list[Mapping]:
    """Each VMA with its kind and backing file; the main stack is told apart as /proc/PID/maps does."""
    start_stack = mm.mm_start_stack if mm is not None and mm.HasField("mm_start_stack") else None
    mappings = []
    for vma in sorted(vmas, key=lambda v: v.start):
        kind = vma.kind
        growsdown = vma.flags & MapFlags.MAP_GROWSDOWN
        if kind == "anon" and (growsdown or (start_stack is not None and vma.start <= start_stack < vma.end)):
            kind = "stack"
        path = names.get(vma.shmid) if vma.file_backed or kind == "memfd" else None
        mappings.append(Mapping(vma, kind, path))
    return mappings


def load_memories(
    checkpoint: Checkpoint,
    pids: Iterable[int] = (),
    warnings: list[str] | None = None,
    listed: list[tuple[int, str | None]] | None = None,
) -> list[ProcessMemory]:
    """The memory layout of every process (or of ``pids``), in process-tree order; no page is read.

    A process whose images are missing or damaged is left out with a warning; ``listed``
    receives ``(pid, comm)`` of every process asked for, readable or not, in the same order.
    Raises ProcessNotFoundError for a PID the checkpoint does not have.
    """
    warnings = warnings if warnings is not None else []
    tree = load_tree(checkpoint)
    warnings.extend(tree.warnings)
    wanted = set(pids)
    missing = sorted(wanted - {process.pid for process in tree.processes})
    if missing:
        raise ProcessNotFoundError(
            f"no process {', '.join(map(str, missing))} in the checkpoint (see 'checkforensics ps')",
            where=str(checkpoint.path),
        )
    names = file_names(checkpoint, warnings)
    memories = []
    for process in tree.processes:
        if wanted and process.pid not in wanted:
            continue
        if listed is not None:
            listed.append((process.pid, process.comm))
        if process.zombie:  # no memory left to dump
            continue
        try:
            memories.append(_load_memory(checkpoint, process.pid, process.comm, names))
        except CheckforensicsError as exc:
            warnings.append(f"pid {process.pid}: memory not readable: {exc}")
    return memories


def _load_memory(checkpoint: Checkpoint, pid: int, comm: str | None, names: dict[int, str]) -> ProcessMemory:
    mm = load_mm(checkpoint, pid)
    pagemap = load_image(checkpoint, f"pagemap-{pid}.img").messages()
    if not pagemap:
        raise CheckforensicsError(f"pagemap-{pid}.img has no header entry")
    member = f"{checkpoint.images_prefix}pages-{pagemap[0].pages_id}.img"
    read_at, size = checkpoint.page_reader(member)
    vmas = vmas_from_mm(mm)
    space = AddressSpace(vmas, normalise_pagemap(pagemap[1:]), read_at, size)
    return ProcessMemory(pid, comm, space, describe_mappings(vmas, mm, names), member, size)


# --- reading pages where they lie -------------------------------------------------------------


class PageSource(Protocol):
    """The bytes of one pages image, handed out as ``(buffer, lo, hi)``: ``buffer[lo:hi]`` is data."""

    def blocks(self, offset: int, length: int) -> Iterator[tuple[Buffer, int, int]]: ...


class _MappedPages:
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


class _StreamedPages:
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
    """The pages image ``member``, mapped where it lies in a plain tar or a directory, else streamed."""
    with contextlib.ExitStack() as stack:
        byte_range = checkpoint.member_range(member)
        source: PageSource
        if byte_range is not None:
            fd = _open_archive_file(checkpoint, byte_range)
            stack.callback(os.close, fd)
            source = _MappedPages(fd, byte_range[0], byte_range[1], chunk_size)
        else:
            stream = stack.enter_context(checkpoint.open_member(member))
            fd = _real_fileno(stream)
            if fd is not None:
                source = _MappedPages(fd, 0, os.fstat(fd).st_size, chunk_size)
            else:
                source = _StreamedPages(stream, chunk_size)
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


def _real_fileno(stream: BinaryIO) -> int | None:
    """The descriptor behind ``stream`` when it is a whole regular file (a directory's pages file)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation, AttributeError):
        return None
    return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None


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


# --- searching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryMatch:
    """One match: where in which process, in which mapping, and the bytes around it."""

    pid: int
    comm: str | None
    address: int
    mapping: Mapping
    pattern: SearchPattern
    data: bytes
    before: bytes  # up to ``context`` bytes before the match, from the same region
    after: bytes

    @property
    def context_address(self) -> int:
        return self.address - len(self.before)


class _PatternSet:
    """Patterns scanned together, and how far apart stitched windows must overlap."""

    def __init__(self, patterns: list[SearchPattern], context: int) -> None:
        if not patterns:
            raise ValueError("no pattern to search for")
        self.patterns = patterns
        self.context = context
        # a match starting in one window must fit, with its after-context, in that window
        self.pad = max(pattern.max_length for pattern in patterns) - 1 + context
        self.folds = any(pattern.literal is not None and pattern.ignore_case for pattern in patterns)
        self.regexes = any(pattern.literal is None for pattern in patterns)


@dataclass
class _Hit:
    address: int
    index: int
    data: bytes
    before: bytes
    after: bytes


@dataclass
class _RegionScan:
    """The stitching state of one region: what is scanned, and the bytes kept for the next window.

    Every start address belongs to exactly one scan: a window owns the starts up to ``pad``
    bytes before its end (all of them when it is the region's last), and the next window takes
    over from there with the kept ``tail`` in front of it.
    """

    patterns: _PatternSet
    start: int
    cap: int | None = None  # at most this many matches of each pattern per window
    cursor: int = 0  # address of the next byte fed
    owned_to: int = 0  # starts below this have been scanned
    tail: bytes = b""  # bytes from tail_address to cursor, kept for the next window
    tail_address: int = 0
    next_allowed: list[int] = field(default_factory=list)  # per pattern: where its next match may start

    def __post_init__(self) -> None:
        self.cursor = self.owned_to = self.tail_address = self.start
        self.next_allowed = [self.start] * len(self.patterns.patterns)

    def feed(self, buffer: Buffer, lo: int, hi: int, last: bool) -> list[_Hit]:
        pad = self.patterns.pad
        address, end = self.cursor, self.cursor + hi - lo
        own_end = end if last else end - pad
        hits: list[_Hit] = []
        if hi - lo <= 2 * pad:  # a small window: glue it to the tail and scan that
            joined = self.tail + bytes(buffer[lo:hi])
            hits += self._scan(joined, 0, len(joined), self.tail_address, self.owned_to, own_end)
            self.owned_to = max(self.owned_to, own_end)
            keep = max(self.tail_address, self.owned_to - pad)
            self.tail, self.tail_address = joined[keep - self.tail_address :], keep
        else:
            if self.tail:  # the seam: starts in the tail and in the window's first pad bytes
                seam = self.tail + bytes(buffer[lo : lo + 2 * pad])
                hits += self._scan(seam, 0, len(seam), self.tail_address, self.owned_to, address + pad)
                self.owned_to = max(self.owned_to, address + pad)
            hits += self._scan(buffer, lo, hi, address, self.owned_to, own_end)
            self.owned_to = max(self.owned_to, own_end)
            keep = max(address, self.owned_to - pad)
            self.tail, self.tail_address = bytes(buffer[lo + keep - address : hi]), keep
        self.cursor = end
        if last:
            self.tail = b""
        hits.sort(key=lambda hit: (hit.address, hit.index))
        return hits

    def _scan(self, buffer: Buffer, lo: int, hi: int, address: int, own_from: int, own_to: int) -> list[_Hit]:
        return scan_buffer(self.patterns, self.next_allowed, buffer, lo, hi, address, own_from, own_to, cap=self.cap)


def scan_buffer(
    patterns: _PatternSet,
    next_allowed: list[int],
    buffer: Buffer,
    lo: int,
    hi: int,
    address: int,
    own_from: int,
    own_to: int,
    only: int | None = None,
    cap: int | None = None,
) -> list[_Hit]:
    """Matches in ``buffer[lo:hi]`` (``buffer[lo]`` being at ``address``) that start in [own_from, own_to).

    ``next_allowed`` holds, per pattern, the address its next match may start at (the end of
    its previous one); it is moved past each match found. ``only``: just that pattern.
    ``cap``: at most that many matches of each pattern (a search that wants no more than that
    stops before the rest matters).
    """
    if own_to <= own_from:
        return []
    spans: list[tuple[int, int, int]] = []
    folded = bytes(buffer[lo:hi]).lower() if patterns.folds else None
    view = None
    if patterns.regexes:
        # a view of exactly the window, so that lookbehind and \b never see bytes outside it
        view = buffer if lo == 0 and hi == len(buffer) else memoryview(buffer)[lo:hi]
    try:
        for index, pattern in enumerate(patterns.patterns):
            first = max(own_from, next_allowed[index]) - address
            limit = own_to - address
            if first >= limit or (only is not None and index != only):
                continue
            if pattern.literal is None:
                assert view is not None
                found = _regex_spans(pattern.regex, view, first, limit, cap)
            elif folded is not None and pattern.ignore_case:
                found = _literal_spans(folded, pattern.literal, first, limit, hi - lo, cap)
            else:
                absolute = _literal_spans(buffer, pattern.literal, lo + first, lo + limit, hi, cap)
                found = [(start - lo, stop - lo) for start, stop in absolute]
            spans += [(start, stop, index) for start, stop in found]
            if found:
                next_allowed[index] = address + found[-1][1]
    finally:
        if isinstance(view, memoryview):
            with contextlib.suppress(BufferError):
                view.release()
    context = patterns.context
    return [
        _Hit(
            address + start,
            index,
            bytes(buffer[lo + start : lo + stop]),
            bytes(buffer[lo + max(0, start - context) : lo + start]),
            bytes(buffer[lo + stop : lo + min(hi - lo, stop + context)]),
        )
        for start, stop, index in spans
    ]


def _literal_spans(
    buffer: Buffer, literal: bytes, first: int, limit: int, end: int, cap: int | None = None
) -> list[tuple[int, int]]:
    """Non-overlapping occurrences of ``literal`` in ``buffer[:end]`` starting in [first, limit)."""
    spans: list[tuple[int, int]] = []
    size = len(literal)
    position = buffer.find(literal, first, end)
    while position != -1 and position < limit and (cap is None or len(spans) < cap):
        spans.append((position, position + size))
        position = buffer.find(literal, position + size, end)
    return spans


def _regex_spans(
    regex: re.Pattern[bytes], text: Any, first: int, limit: int, cap: int | None = None
) -> list[tuple[int, int]]:
    """``regex.finditer`` from ``first``: the non-empty matches that start before ``limit``."""
    spans: list[tuple[int, int]] = []
    for match in regex.finditer(text, first):
        start, stop = match.span()
        if start >= limit or (cap is not None and len(spans) >= cap):
            break
        if stop > start:
            spans.append((start, stop))
    return spans


# --- searching in several processes at once ----------------------------------------------------
#
# A mapped pages image can be read anywhere at any time, so a big search is cut into windows that
# forked workers scan independently, each window owning the match starts in its middle and reading
# ``pad`` bytes either side. Merging puts back what one sequential scan would have found: where a
# pattern's last match in one window runs into the next, that window is scanned again for that
# pattern from where the match ends (rare: it needs a match across the cut).

PARALLEL_THRESHOLD = 256 << 20  # less memory than this in a process is searched by one worker
MAX_WORKERS = 4


@dataclass(frozen=True)
class _Window:
    """Starts [own_from, own_to) of one region, scanned from the bytes [start, end)."""

    region: int  # index in the process's regions
    own_from: int
    own_to: int
    start: int
    end: int
    offset: int  # where ``start`` lies in the pages image


def _windows(regions: list[Region], chunk_size: int, pad: int) -> list[_Window] | None:
    """The windows of ``regions``; None when a region is not one piece of the pages image."""
    windows = []
    for index, region in enumerate(regions):
        if len(region.pieces) != 1:
            return None
        vaddr, offset, length = region.pieces[0]
        for own_from in range(vaddr, vaddr + length, chunk_size):
            own_to = min(own_from + chunk_size, vaddr + length)
            start, end = max(vaddr, own_from - pad), min(vaddr + length, own_to + pad)
            windows.append(_Window(index, own_from, own_to, start, end, offset + start - vaddr))
    return windows


def _scan_windows(
    source: _MappedPages,
    patterns: _PatternSet,
    windows: list[_Window],
    cap: int | None,
    progress: Progress | None = None,
) -> list[list[_Hit] | None]:
    """Each window's hits on its own; with ``cap``, the windows after ``cap`` hits are left (None)."""
    results: list[list[_Hit] | None] = []
    found = 0
    for window in windows:
        if cap is not None and found >= cap:
            results.append(None)
            continue
        hits = _scan_window(source, patterns, window, [window.own_from] * len(patterns.patterns), cap)
        results.append(hits)
        found += len(hits)
        if progress is not None:
            progress(window.own_to - window.own_from)
    return results


def _scan_window(
    source: _MappedPages,
    patterns: _PatternSet,
    window: _Window,
    allowed: list[int],
    cap: int | None,
    only: int | None = None,
) -> list[_Hit]:
    with source.mapped(window.offset, window.end - window.start) as (buffer, lo, hi):
        return scan_buffer(
            patterns, allowed, buffer, lo, hi, window.start, window.own_from, window.own_to, only=only, cap=cap
        )


def _merge_windows(
    source: _MappedPages,
    patterns: _PatternSet,
    windows: list[_Window],
    results: list[list[_Hit] | None],
    cap: int | None,
) -> Iterator[tuple[_Window, list[_Hit]]]:
    """Each window's hits as a sequential scan of its region finds them (see above).

    A window a worker left unscanned (it had found ``cap`` hits before) is scanned here, if the
    caller still wants more.
    """
    allowed: list[int] = []
    region = -1
    for window, scanned in zip(windows, results, strict=True):
        if window.region != region:
            region, allowed = window.region, [window.own_from] * len(patterns.patterns)
        if scanned is None:
            yield window, _scan_window(source, patterns, window, allowed, cap)
            continue
        merged: list[_Hit] = []
        for index in range(len(patterns.patterns)):
            mine = [hit for hit in scanned if hit.index == index]
            if mine and mine[0].address < allowed[index]:  # the last match before runs into this window
                mine = _scan_window(source, patterns, window, allowed, cap, only=index)
            elif mine:
                allowed[index] = mine[-1].address + len(mine[-1].data)
            merged += mine
        merged.sort(key=lambda hit: (hit.address, hit.index))
        yield window, merged


def _worker_count() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def _in_processes(
    work: Callable[[list[_Window]], list[list[_Hit] | None]], parts: list[list[_Window]]
) -> list[list[_Hit] | None]:
    """``work`` over each part, the first one here and the others in forked children, results in order."""
    import pickle

    children: list[tuple[int, int]] = []
    try:
        for part in parts[1:]:
            reader, writer = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: scan, send the hits, and leave without running the parent's cleanup
                status = 1
                try:
                    os.close(reader)
                    try:
                        payload, status = pickle.dumps(work(part), pickle.HIGHEST_PROTOCOL), 0
                    except BaseException as exc:
                        payload = pickle.dumps(f"{type(exc).__name__}: {exc}")
                    with open(writer, "wb") as pipe:
                        pipe.write(payload)
                finally:
                    os._exit(status)
            os.close(writer)
            children.append((pid, reader))
        results = work(parts[0])
        while children:
            pid, reader = children.pop(0)
            with open(reader, "rb") as pipe:
                payload = pipe.read()
            _, status = os.waitpid(pid, 0)
            answer = pickle.loads(payload) if payload else "the worker ended without an answer"
            if status != 0 or isinstance(answer, str):
                raise ArchiveError(f"a search worker failed: {answer}")
            results += answer
        return results
    finally:
        for pid, reader in children:  # only after a failure: stop the others
            with contextlib.suppress(OSError):
                os.close(reader)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)


def _balanced_parts(windows: list[_Window], count: int) -> list[list[_Window]]:
    """``windows`` cut into at most ``count`` runs of consecutive windows with about as many bytes
    each (runs, because the merge puts results back in window order)."""
    total = sum(window.end - window.start for window in windows)
    parts: list[list[_Window]] = [[]]
    done = 0
    for window in windows:
        size = window.end - window.start
        if parts[-1] and len(parts) < count and done + size / 2 >= total * len(parts) / count:
            parts.append([])  # the cut nearest to this part's share: before the window's middle
        parts[-1].append(window)
        done += size
    return parts


def _search_in_parallel(
    source: _MappedPages, windows: list[_Window], workers: int, plan: _SearchPlan
) -> Iterator[tuple[_Window, list[_Hit]]]:
    parts = _balanced_parts(windows, workers)

    def work(part: list[_Window]) -> list[list[_Hit] | None]:
        return _scan_windows(source, plan.patterns, part, plan.cap, plan.progress if part is parts[0] else None)

    results = _in_processes(work, parts)
    if plan.progress is not None:
        plan.progress(sum(window.own_to - window.own_from for part in parts[1:] for window in part))
    yield from _merge_windows(source, plan.patterns, windows, results, plan.cap)


@dataclass(frozen=True)
class _SearchPlan:
    patterns: _PatternSet
    chunk_size: int
    workers: int | None
    cap: int | None  # the most matches of one process anyone wants
    progress: Progress | None


def search_memory(
    checkpoint: Checkpoint,
    memories: Iterable[ProcessMemory],
    patterns: list[SearchPattern],
    *,
    memory_filter: MemoryFilter | None = None,
    context: int = 16,
    max_count: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
    warnings: list[str] | None = None,
) -> Iterator[MemoryMatch]:
    """Every match of ``patterns`` in the dumped memory of ``memories``, process by process, by address.

    ``context`` bytes are kept on either side of each match (from the same region);
    ``max_count`` ends a process's search after that many matches; ``progress`` is told how
    many bytes were scanned. ``workers``: processes scanning a mapped pages image together
    (default: one per CPU, up to MAX_WORKERS, for PARALLEL_THRESHOLD bytes or more); the
    matches are the same whatever the number. A process whose pages cannot be read is
    reported in ``warnings`` and skipped; what was found before the failure stays found.
    """
    if not 0 <= context <= MAX_CONTEXT:
        raise ValueError(f"context must be between 0 and {MAX_CONTEXT} bytes")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    plan = _SearchPlan(_PatternSet(patterns, context), chunk_size, workers, max_count, progress)
    warnings = warnings if warnings is not None else []
    for memory in memories:
        regions = memory.regions(memory_filter, warnings)
        if not regions:
            continue
        matches = _search_process(checkpoint, memory, regions, plan)
        try:
            yield from matches if max_count is None else itertools.islice(matches, max_count)
        except (ArchiveError, OSError) as exc:
            warnings.append(f"{memory.label}: {memory.pages_member}: memory not fully searched: {exc}")
        finally:
            matches.close()  # unmaps the window or ends the stream at once, also after --max-count


def _search_process(
    checkpoint: Checkpoint, memory: ProcessMemory, regions: list[Region], plan: _SearchPlan
) -> Iterator[MemoryMatch]:
    with open_pages(checkpoint, memory.pages_member, plan.chunk_size) as source:
        for mapping, hits in _region_hits(source, regions, plan):
            for hit in hits:
                yield MemoryMatch(
                    memory.pid,
                    memory.comm,
                    hit.address,
                    mapping,
                    plan.patterns.patterns[hit.index],
                    hit.data,
                    hit.before,
                    hit.after,
                )


def _region_hits(source: PageSource, regions: list[Region], plan: _SearchPlan) -> Iterator[tuple[Mapping, list[_Hit]]]:
    """Hits window by window, in address order: from forked workers where that pays, else here."""
    if isinstance(source, _MappedPages) and hasattr(os, "fork"):
        workers = plan.workers or (_worker_count() if sum(r.length for r in regions) >= PARALLEL_THRESHOLD else 1)
        windows = _windows(regions, plan.chunk_size, plan.patterns.pad) if workers > 1 else None
        if windows is not None and len(windows) > 1:
            for window, hits in _search_in_parallel(source, windows, workers, plan):
                yield regions[window.region].mapping, hits
            return
    for region in regions:
        scan = _RegionScan(plan.patterns, region.start, plan.cap)
        for buffer, lo, hi, last in region_blocks(source, region):
            hits = scan.feed(buffer, lo, hi, last)
            if plan.progress is not None:
                plan.progress(hi - lo)
            yield region.mapping, hits


def searched_bytes(memories: Iterable[ProcessMemory], memory_filter: MemoryFilter | None = None) -> int:
    """How many bytes a search over ``memories`` reads (for a progress bar)."""
    return sum(region.length for memory in memories for region in memory.regions(memory_filter))


# --- memparse: sizes, hexdump, raw copy ----------------------------------------------------


@dataclass(frozen=True)
class MemorySize:
    """checkpointctl memparse's numbers, plus what the pages image really holds.

    ``memory_size``: bytes of memory the pagemap describes (dumped, zero, lazy or in a parent
    image); ``dumped_size``: of those, bytes in this checkpoint's pages image;
    ``shared_memory_size``: the size of the MAP_SHARED mappings. All within the filter.
    """

    pid: int
    comm: str | None
    memory_size: int
    dumped_size: int
    shared_memory_size: int


def memory_sizes(memory: ProcessMemory, memory_filter: MemoryFilter | None = None) -> MemorySize:
    memory_filter = memory_filter or MemoryFilter()
    spans = [span for m in memory.mappings if m.vma.size and (span := _accepted_span(memory_filter, m)) is not None]
    described = dumped = 0
    for run in memory.space.runs:
        covered = sum(max(0, min(run.end, end) - max(run.vaddr, start)) for start, end in spans)
        described += covered
        if run.file_offset is not None:
            dumped += covered
    shared = _shared_size(memory, memory_filter)
    return MemorySize(memory.pid, memory.comm, described, dumped, shared)


def _accepted_span(memory_filter: MemoryFilter, mapping: Mapping) -> tuple[int, int] | None:
    return memory_filter.clip(mapping.start, mapping.end) if memory_filter.accepts(mapping) else None


def _shared_size(memory: ProcessMemory, memory_filter: MemoryFilter) -> int:
    total = 0
    for mapping in memory.mappings:
        span = _accepted_span(memory_filter, mapping)
        if span is not None and mapping.vma.flags & MapFlags.MAP_SHARED:
            total += span[1] - span[0]
    return total


_ASCII = bytes(b if 32 <= b < 127 else ord(".") for b in range(256))
_HEXDUMP_PIECE = 64 << 10


def hexdump_line(address: int, row: bytes) -> str:
    """``00007f0552c1e000  48 65 6c 6c 6f 00 00 00  00 00 00 00 00 00 00 00  |Hello...........|``."""
    left, right = row[:8].hex(" "), row[8:16].hex(" ")
    return f"{address:016x}  {left:<23}  {right:<23}  |{row.translate(_ASCII).decode('ascii')}|"


def hexdump(
    checkpoint: Checkpoint,
    memory: ProcessMemory,
    memory_filter: MemoryFilter | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[str]:
    """Lines of ``hexdump -C`` over each dumped region, addresses being virtual ones.

    A line equal to the one before it (in the same region) is shown as a single ``*``; the
    last line of a region is always shown, so where each region ends stays visible.
    """
    with open_pages(checkpoint, memory.pages_member, chunk_size) as source:
        for region in memory.regions(memory_filter):
            yield from _hexdump_region(source, region)


def _hexdump_region(source: PageSource, region: Region) -> Iterator[str]:
    address = region.start
    previous: bytes | None = None
    starred = False
    partial = b""
    held: tuple[int, bytes] | None = None  # a repeated line, shown only if it is the region's last
    for buffer, lo, hi, _ in region_blocks(source, region):
        data = partial + bytes(buffer[lo:hi])
        whole = len(data) - len(data) % HEXDUMP_WIDTH
        for piece in range(0, whole, _HEXDUMP_PIECE):  # formatted a piece at a time: a line is two slices
            rows = data[piece : min(whole, piece + _HEXDUMP_PIECE)]
            hexes, text = rows.hex(" "), rows.translate(_ASCII).decode("ascii")
            for offset in range(0, len(rows), HEXDUMP_WIDTH):
                row = rows[offset : offset + HEXDUMP_WIDTH]
                if row == previous:
                    if not starred:
                        yield "*"
                        starred = True
                    held = (address, row)
                else:
                    digits = hexes[offset * 3 : offset * 3 + 47]
                    yield f"{address:016x}  {digits[:23]}  {digits[24:]}  |{text[offset : offset + HEXDUMP_WIDTH]}|"
                    previous, starred, held = row, False, None
                address += HEXDUMP_WIDTH
        partial = data[whole:]
    if held is not None and not partial:
        yield hexdump_line(*held)
    if partial:
        yield hexdump_line(address, partial)


@dataclass(frozen=True)
class DumpedRegion:
    """Where a region's bytes went in a memory dump: ``offset`` in the file, ``size`` bytes."""

    vaddr: int
    size: int
    offset: int
    mapping: Mapping


def dump_memory(
    checkpoint: Checkpoint,
    memory: ProcessMemory,
    out: BinaryIO,
    memory_filter: MemoryFilter | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> list[DumpedRegion]:
    """Write the dumped regions to ``out`` back to back, in address order; where each one went."""
    placed = []
    offset = 0
    with open_pages(checkpoint, memory.pages_member, chunk_size) as source:
        for region in memory.regions(memory_filter):
            for buffer, lo, hi, _ in region_blocks(source, region):
                out.write(buffer[lo:hi])
            placed.append(DumpedRegion(region.start, region.length, offset, region.mapping))
            offset += region.length
    return placed
