"""GNU readline's history list found in a process's memory by its shape, whatever the program.

readline (history.h) keeps each line as ``HIST_ENTRY {char *line; char *timestamp; histdata_t
data;}`` and the list as ``HIST_ENTRY **the_history``: an array of pointers, NULL after the
last, allocated by malloc. ``add_history`` stamps each entry with ``hist_inittime()``: the
string ``<history_comment_char><seconds since the epoch>`` (bash's comment character is ``#``;
other programs, python's REPL among them, leave it NUL). ``clear_history`` (``history -c``)
frees every entry and NULLs its slot, and keeps the array.

Found in three steps, each bounded:

1. timestamps: ``1`` and nine more digits then a NUL (2001-09-09 to 2033-05-18), after a ``#`` or
   NUL, at the start of a malloc block (16-byte aligned), scanned for by the house's scanner
   (``ProcessMemory.scan``) where glibc keeps small blocks: the private writable ``[heap]`` and
   anonymous mappings no bigger than a thread arena's heap (64 MiB);
2. entries: aligned words pointing at a timestamp, in the mapping holding it (malloc keeps a
   thread's small blocks in one heap), whose preceding word points at a readable line;
3. arrays: aligned words pointing at an entry, in the same mapping then the other private
   writable ones; from each, back to the slot after a malloc size field and on to the NULL,
   every slot an entry that reads. The longest array holding an entry is its list; an entry is
   ``live`` only when an array reaches it.

Positions are the array's index plus 1 (readline's ``history_base`` is not looked for: it is 1
unless the list was stifled and old entries dropped).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from checkforensics.analysis.history.heap import words_equal
from checkforensics.model.memory import MemoryUnavailableError
from checkforensics.model.regions import Mapping, MemoryFilter
from checkforensics.model.scan import SearchPattern
from checkforensics.model.view import ProcessMemory

TIMESTAMP = SearchPattern.from_regex(rb"1[0-9]{9}\x00", name="readline timestamp")
MALLOC_MEMORY = MemoryFilter(perms="rwp", kinds=frozenset({"heap", "anon"}))
# glibc keeps small blocks (a timestamp, an entry) in the main arena's [heap] (brk, any size) or in
# a thread arena's heaps, anonymous mappings of at most HEAP_MAX_SIZE (64 MiB on a 64-bit machine);
# a bigger anonymous mapping is one big block or not malloc's at all
HEAP_MAX_SIZE = 64 << 20
SMALL_BLOCKS = (
    MemoryFilter(perms="rwp", kinds=frozenset({"heap"})),
    MemoryFilter(perms="rwp", kinds=frozenset({"anon"}), largest=HEAP_MAX_SIZE),
)
MAX_TIMESTAMPS = 200_000  # candidate timestamps of one process, at most
MAX_ENTRIES = 100_000  # slots of one array walked, at most
LINE_LIMIT = 65536  # bytes of one line read, at most (a longer one is cut)
ENTRY_SIZE = 24
_DIGITS = re.compile(rb"[#\x00]?(1[0-9]{9})\Z")


@dataclass
class Entry:
    """One HIST_ENTRY read from memory."""

    address: int
    line: bytes
    epoch: int | None  # seconds, from its timestamp string; None when it has none that reads
    comment: bytes | None = None  # the timestamp's first byte: b"#" (bash), b"\x00" (others)
    cut: bool = False  # the line is longer than LINE_LIMIT and was cut

    @property
    def time(self) -> dt.datetime | None:
        return None if self.epoch is None else dt.datetime.fromtimestamp(self.epoch, dt.UTC)


@dataclass
class HistoryList:
    """One process's readline history list: its array and its entries in order."""

    array: int  # the address of slot 0
    entries: list[Entry] = field(default_factory=list)
    cut: bool = False  # the walk stopped at MAX_ENTRIES


def timestamps(memory: ProcessMemory) -> dict[int, tuple[bytes, int]]:
    """Every candidate timestamp string: its address -> (comment character, seconds)."""
    found: dict[int, tuple[bytes, int]] = {}
    for small_blocks in SMALL_BLOCKS:
        matches = memory.scan([TIMESTAMP], small_blocks, context=1)
        try:
            for match in matches:
                start = match.address - 1
                comment = match.before[-1:]
                if comment in (b"#", b"\x00") and start % 16 == 0:
                    found[start] = (comment, int(match.data[:-1]))
                    if len(found) >= MAX_TIMESTAMPS:
                        return found  # memory made of timestamps: the first ones are enough to find a list
        finally:
            matches.close()
    return found


def mapping_of(memory: ProcessMemory, address: int) -> Mapping | None:
    for mapping in memory.mappings:
        if mapping.start <= address < mapping.end:
            return mapping
    return None


def read_entry(memory: ProcessMemory, address: int) -> Entry | None:
    """The HIST_ENTRY at ``address`` when it reads as one: a line that reads, and a timestamp that
    is NULL or reads; else None."""
    if address == 0 or address % 8:
        return None
    try:
        line_at, stamp_at, _data = memory.read_struct(address, "PPP")
        if line_at == 0 or (line_at % 8 and line_at % 16):
            return None
        line = memory.read_cstring(line_at, LINE_LIMIT)
        comment, epoch = None, None
        if stamp_at:
            stamp = memory.read(stamp_at, 1) + memory.read_cstring(stamp_at + 1, 32)
            digits = _DIGITS.match(stamp)
            if digits is None:
                return None
            comment, epoch = stamp[:1], int(digits.group(1))
    except MemoryUnavailableError:
        return None
    return Entry(address, line, epoch, comment, len(line) >= LINE_LIMIT)


def entries_pointing_at(memory: ProcessMemory, stamps: dict[int, tuple[bytes, int]]) -> dict[int, Entry]:
    """The entries whose timestamp pointer points at one of ``stamps``, by address."""
    by_mapping: dict[int, tuple[Mapping, set[int]]] = {}
    for address in stamps:
        mapping = mapping_of(memory, address)
        if mapping is not None:
            by_mapping.setdefault(mapping.start, (mapping, set()))[1].add(address)
    entries: dict[int, Entry] = {}
    for mapping, wanted in by_mapping.values():
        for slot, _ in words_equal(memory, [mapping], wanted):
            entry = read_entry(memory, slot - 8)
            if entry is not None:
                entries[entry.address] = entry
    return entries


def history_lists(memory: ProcessMemory, entries: dict[int, Entry]) -> list[HistoryList]:
    """The arrays that hold ``entries``, longest first, each walked to its NULL; an entry in two
    is kept in the first only."""
    if not entries:
        return []
    near = {m.start: m for a in entries if (m := mapping_of(memory, a)) is not None}
    others = [m for m in memory.mappings if MALLOC_MEMORY.accepts(m) and m.start not in near]
    slots: list[int] = []
    for mappings in (list(near.values()), others):
        slots = [slot for slot, _ in words_equal(memory, mappings, set(entries))]
        if slots:
            break
    lists: dict[int, HistoryList] = {}
    seen_slots: set[int] = set()
    for slot in slots:
        if slot in seen_slots:
            continue
        found, walked = _walk(memory, slot, entries)
        seen_slots.update(walked)  # each slot walked once, whether the array holds or not
        if found is not None:
            lists.setdefault(found.array, found)
    ordered = sorted(lists.values(), key=lambda h: (-len(h.entries), h.array))
    taken: set[int] = set()
    for history in ordered:
        history.entries = [e for e in history.entries if e.address not in taken]
        taken.update(e.address for e in history.entries)
    return [h for h in ordered if h.entries]


def _walk(memory: ProcessMemory, slot: int, known: dict[int, Entry]) -> tuple[HistoryList | None, range]:
    """The array through ``slot``: back to its first slot (the word before it a malloc size field
    that can hold the slots walked), on to its NULL; None when it is not one. And the slots
    walked."""

    def entry_at(at: int) -> Entry | None:
        try:
            pointer = memory.read_pointer(at)
        except MemoryUnavailableError:
            return None
        return known.get(pointer) or read_entry(memory, pointer)

    start = slot
    for _ in range(MAX_ENTRIES):
        if entry_at(start - 8) is None:
            break
        start -= 8
    history = HistoryList(start)
    at = start
    while True:
        if len(history.entries) >= MAX_ENTRIES:
            history.cut = True
            break
        try:
            pointer = memory.read_pointer(at)
        except MemoryUnavailableError:
            return None, range(start, at, 8)
        if pointer == 0:
            break
        entry = known.get(pointer) or read_entry(memory, pointer)
        if entry is None:
            return None, range(start, at, 8)  # a list is NULL-terminated
        history.entries.append(entry)
        at += 8
    walked = range(start, at, 8)
    try:
        size = memory.read_pointer(start - 8) & ~7
    except MemoryUnavailableError:
        return None, walked
    if not 8 * (len(history.entries) + 1) <= size <= 8 * (MAX_ENTRIES + 4):
        return None, walked  # not at the start of a block: a stale copy or another structure
    return history, walked
