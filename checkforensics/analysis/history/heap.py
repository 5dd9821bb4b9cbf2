"""glibc's heap as a history reader needs it: pointer words found fast, chunks walked with bounds,
and the blocks the allocator took back told apart by what it wrote into them.

Facts of glibc malloc (2.32 and later, x86-64 and the other 64-bit machines) used here:

- a chunk is ``prev_size, size`` (two words) then the caller's bytes; ``size`` is a multiple of
  16 with the low bits as flags (PREV_INUSE 1, IS_MMAPPED 2, NON_MAIN_ARENA 4); a request of
  ``n`` bytes takes ``max(32, (n + 8 + 15) & ~15)``;
- the main arena's ``[heap]`` starts with the ``tcache_perthread_struct`` chunk (64 two-byte
  counts, then 64 pointers to the first free block of each size);
- a block freed into a tcache holds ``next`` (safe-linking: ``next ^ (its address >> 12)``) in
  its first word and the process's ``tcache_key`` (random, one per process) in its second; a
  block freed into a fastbin (chunks up to 0x80) holds only the mangled ``fd``. So a freed block
  keeps its bytes from 16 (tcache) or 8 (fastbin) on, and where its string ended.

References: glibc malloc/malloc.c (request2size, PROTECT_PTR, tcache_put, _int_free).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from checkforensics.model.memory import MemoryUnavailableError
from checkforensics.model.regions import Mapping, MemoryFilter
from checkforensics.model.view import ProcessMemory

WINDOW = 16 << 20  # bytes of a mapping read at a time when looking for pointer words
HEAP_WALK_LIMIT = 64 << 20  # bytes of one heap walked chunk by chunk, at most
MAX_CHUNKS = 2_000_000  # chunks of one heap walked, at most
TCACHE_STRUCT = 0x290  # the tcache_perthread_struct chunk (64 u16 counts, 64 pointers)
TCACHE_BINS = 64
FASTBIN_MAX = 0x80  # global_max_fast's default on 64-bit machines: fastbin chunks up to this size
MIN_CHUNK = 32
ALIGN = 16


def request_size(length: int) -> int:
    """The chunk size malloc gives a request of ``length`` bytes (request2size)."""
    return max(MIN_CHUNK, (length + 8 + ALIGN - 1) & ~(ALIGN - 1))


def words_equal(memory: ProcessMemory, mappings: list[Mapping], wanted: set[int]) -> Iterator[tuple[int, int]]:
    """``(address, value)`` of every aligned pointer-sized word of ``mappings`` whose value is in
    ``wanted``, in address order, reading ``WINDOW`` bytes at a time.

    Wanted values are grouped by their bytes above the lowest three: each group's common high
    bytes are looked for with ``bytes.find`` (a pointer into a heap shares them with every other
    pointer into the same 16 MiB), and only those places are compared whole."""
    if not wanted or memory.architecture.require() != (8, "little"):
        return
    groups: dict[bytes, set[int]] = {}
    for value in wanted:
        groups.setdefault(value.to_bytes(8, "little")[3:], set()).add(value)
    for mapping in mappings:
        for region in memory.regions(MemoryFilter(address=(mapping.start, mapping.end))):
            for start in range(region.start, region.end, WINDOW):
                data = memory.read(start, min(WINDOW, region.end - start))
                found: list[tuple[int, int]] = []
                for high, values in groups.items():
                    at = data.find(high, 3)
                    while at != -1:
                        word_at = at - 3
                        if word_at % 8 == 0:
                            value = int.from_bytes(data[word_at : word_at + 8], "little")
                            if value in values:
                                found.append((start + word_at, value))
                        at = data.find(high, at + 1)
                yield from sorted(found)


@dataclass(frozen=True)
class FreedText:
    """What a freed block still says: its text from ``lost`` bytes in, up to its NUL."""

    address: int  # the block's first byte (what malloc had returned)
    lost: int  # bytes the allocator wrote over at its start
    text: bytes


@dataclass
class Heap:
    """One glibc heap mapping read whole (pages not dumped read as the zeros they were)."""

    mapping: Mapping
    data: bytes
    cut: bool = False  # longer than HEAP_WALK_LIMIT: only its start was read

    @classmethod
    def read(cls, memory: ProcessMemory, mapping: Mapping) -> Heap:
        length = min(mapping.end - mapping.start, HEAP_WALK_LIMIT)
        data = bytearray(length)
        for region in memory.regions(MemoryFilter(address=(mapping.start, mapping.start + length))):
            at = region.start - mapping.start
            try:
                data[at : at + region.length] = memory.read(region.start, region.length)
            except MemoryUnavailableError:
                continue
        return cls(mapping, bytes(data), length < mapping.end - mapping.start)

    def word(self, address: int) -> int | None:
        at = address - self.mapping.start
        if at >= 0 and at + 8 <= len(self.data):
            return int.from_bytes(self.data[at : at + 8], "little")
        return None

    def inside(self, address: int) -> bool:
        return self.mapping.start <= address < self.mapping.start + len(self.data)

    def chunks(self) -> Iterator[tuple[int, int]]:
        """``(user address, chunk size)`` of each chunk from the heap's start, in order; the walk
        ends at a size that cannot be (too small, unaligned, past the end) and after MAX_CHUNKS."""
        at = 0
        end = len(self.data)
        for _ in range(MAX_CHUNKS):
            if at + 16 > end:
                return
            size = int.from_bytes(self.data[at + 8 : at + 16], "little") & ~7
            if size < MIN_CHUNK or size % ALIGN or at + size > end:
                return
            yield self.mapping.start + at + 16, size
            at += size

    def tcache_key(self) -> int | None:
        """The process's tcache_key: the second word of the blocks the tcache's bins point to
        (the one value most of them hold), or None without a tcache or a freed block in it."""
        first = self.mapping.start + 16
        if self.word(self.mapping.start + 8) is None or (self.word(self.mapping.start + 8) or 0) & ~7 != TCACHE_STRUCT:
            return None
        keys: Counter[int] = Counter()
        for index in range(TCACHE_BINS):
            entry = self.word(first + 2 * TCACHE_BINS + 8 * index)
            if entry and entry % ALIGN == 0 and self.inside(entry):
                key = self.word(entry + 8)
                if key:
                    keys[key] += 1
        return keys.most_common(1)[0][0] if keys else None

    def freed_next_ok(self, user: int) -> bool:
        """Whether the block's first word is a safe-linked ``next``: NULL or an aligned block of
        this heap once unmangled."""
        word = self.word(user)
        if word is None:
            return False
        pointer = word ^ (user >> 12)
        return pointer == 0 or (pointer % ALIGN == 0 and self.inside(pointer))

    def freed_texts(self, key: int | None, minimum: int = 8) -> Iterator[FreedText]:
        """The text left in each block freed into a tcache (with ``key``) or a fastbin, whose NUL
        lies where a string exactly that long would end (the block was malloc'd for it)."""
        for user, size in self.chunks():
            if not self.freed_next_ok(user):
                continue
            if key is not None and self.word(user + 8) == key:
                lost = 16
            elif size <= FASTBIN_MAX:
                lost = 8
            else:
                continue
            at = user - self.mapping.start
            body = self.data[at + lost : at + size - 8]
            end = body.find(b"\x00")
            if end < minimum or request_size(lost + end + 1) != size:
                continue
            text = body[:end]
            if _printable(text):
                yield FreedText(user, lost, text)


def _printable(text: bytes) -> bool:
    try:
        decoded = text.decode()
    except UnicodeDecodeError:
        return False
    return all(ch == "\t" or (ch.isprintable() and ch not in "\x7f") for ch in decoded)


def freed_timestamps(heap: Heap) -> list[bytes]:
    """The ends of the timestamp strings freed into a fastbin: a 32-byte block taken back (its
    first word a safe-linked ``next``) whose bytes from 8 on are three digits and a NUL, the
    rest zero: ``#1796698537`` (12 bytes with its NUL, so a 32-byte block) less the 8 bytes the
    allocator wrote over. readline frees a timestamp only with its entry, when the entry leaves
    the list (``history -c``, ``history -d``, or the oldest past HISTSIZE); one freed into a
    tcache loses those bytes too and is not found."""
    block = request_size(12)
    tails = []
    for user, size in heap.chunks():
        if size != block or not heap.freed_next_ok(user):
            continue
        at = user - heap.mapping.start
        tail = heap.data[at + 8 : at + 16]
        if tail[:3].isdigit() and tail[3:] == bytes(5):
            tails.append(tail[:3])
    return tails
