"""Memory search: the planted secrets of every real fixture, and synthetic layouts for the seams.

The real fixtures' truth files give the exact virtual addresses where an independent decoder
found each planted string. The synthetic checkpoint (one real images directory whose ``sleep``
process is given a made-up address space) holds what real dumps rarely show at a known place:
a match across two pagemap runs of one mapping, strings cut by pages that were not dumped or by
the end of a mapping, and two runs stored in the pages image in reverse order.
"""

from __future__ import annotations

import itertools
import re
import shutil
import tarfile
from pathlib import Path

import pytest
import zstandard

from checkforensics.analysis.memsearch import (
    MAX_MATCH_LENGTH,
    SearchPattern,
    dump_memory,
    escape_bytes,
    hexdump,
    longest_match,
    memory_sizes,
    search_memory,
)
from checkforensics.archive import Checkpoint
from checkforensics.images.codec import encode_image
from checkforensics.images.flags import PAGE_SIZE, MapFlags, PagemapFlags, Prot, VmaStatus
from checkforensics.model import CheckpointModel, ProcessNotFoundError
from checkforensics.model.regions import MemoryFilter, parse_address_range
from checkforensics.model.scan import parallel

from conftest import FIXTURES, truth

TRUTH_CASES = [
    ("counters-blog", FIXTURES / "counters-blog.tar"),  # plain tar: mapped where it lies
    ("counters-blog-later", FIXTURES / "counters-blog-later.tar.zst"),  # streamed
    ("busybox-counter-criu41", FIXTURES / "busybox-counter-criu41.tar"),  # CRIU 4.1 pagemaps
    ("bare-bash-sleep", FIXTURES / "bare-bash-sleep"),  # directory
    ("inflight", FIXTURES / "inflight.tar.zst"),  # nothing planted
]
ALL_PLANTED = sorted({name for fixture, _ in TRUTH_CASES for p in truth(fixture)["processes"] for name in p["secrets"]})


def _found(
    path: Path, patterns: list[SearchPattern], pids: tuple[int, ...] = (), **options: object
) -> dict[tuple[int, str], list[int]]:
    found: dict[tuple[int, str], list[int]] = {}
    with CheckpointModel.open(path) as checkpoint:
        memories = checkpoint.memories(pids)
        for match in search_memory(checkpoint, memories, patterns, **options):  # type: ignore[arg-type]
            found.setdefault((match.pid, match.pattern.name), []).append(match.address)
    return found


def _planted(fixture: str) -> dict[tuple[int, str], list[int]]:
    return {
        (p["pid"], name): sorted(addresses)
        for p in truth(fixture)["processes"]
        for name, addresses in p["secret_addresses"].items()
    }


@pytest.mark.parametrize(("fixture", "path"), TRUTH_CASES, ids=[case[0] for case in TRUTH_CASES])
def test_every_planted_string_at_exactly_its_addresses(fixture: str, path: Path) -> None:
    patterns = [SearchPattern.from_literal(name.encode()) for name in ALL_PLANTED]
    found = _found(path, patterns)
    assert found == _planted(fixture)
    counts = {(p["pid"], name): count for p in truth(fixture)["processes"] for name, count in p["secrets"].items()}
    assert {key: len(addresses) for key, addresses in found.items()} == counts


def test_the_same_whatever_the_chunks_and_workers() -> None:
    path = FIXTURES / "counters-blog.tar"
    patterns = [SearchPattern.from_literal(name.encode()) for name in ALL_PLANTED]
    for chunk_size, workers in ((4096, 1), (5000, 2), (64 << 10, 3)):
        assert _found(path, patterns, chunk_size=chunk_size, workers=workers) == _planted("counters-blog")


def test_regex_ignore_case_and_overlapping_patterns() -> None:
    path = FIXTURES / "busybox-counter-criu41.tar"
    facts = _planted("busybox-counter-criu41")
    patterns = [
        SearchPattern.from_regex(rb"SECRET=(RANDOM_\d+_KEY)", name="regex"),
        SearchPattern.from_literal(b"random_1432_key", ignore_case=True, name="folded"),
        SearchPattern.from_regex(rb"(?<=secret=)random_\d+", ignore_case=True, name="lookbehind"),
    ]
    found = _found(path, patterns)
    assert found[(1, "regex")] == facts[(1, "SECRET=RANDOM_1432_KEY")]
    assert found[(1, "folded")] == facts[(1, "RANDOM_1432_KEY")]  # overlaps the regex's matches
    assert found[(1, "lookbehind")] == facts[(1, "RANDOM_1432_KEY")]


def test_context_and_max_count() -> None:
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as checkpoint:
        memories = checkpoint.memories([1])
        pattern = SearchPattern.from_literal(b"hunter2-blog")
        matches = list(search_memory(checkpoint, memories, [pattern], context=12, max_count=2))
        assert [m.address for m in matches] == _planted("counters-blog")[(1, "hunter2-blog")][:2]
        second = matches[1]
        assert second.before.endswith(b"DB_PASSWORD=") and len(second.before) == 12 and len(second.after) == 12
        assert second.mapping.kind == "heap" and second.mapping.label == "[heap]" and second.mapping.perms == "rw-p"
        stack = list(
            search_memory(checkpoint, memories, [pattern], memory_filter=MemoryFilter(kinds=frozenset({"stack"})))
        )
        assert [m.address for m in stack] == [140735240654690]


def test_file_backed_mappings_are_named_after_files_img() -> None:
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as checkpoint:
        memory = checkpoint.memories([8])[0]
    assert memory.mappings[0].path == "/usr/bin/tee" and memory.mappings[0].label == "/usr/bin/tee"
    assert {m.path for m in memory.mappings if m.kind == "file"} == {
        "/usr/bin/tee",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    }
    assert all(m.path is None for m in memory.mappings if m.kind != "file")
    libc = MemoryFilter(file_glob="*/libc.so*", perms="rw")
    assert {(r.mapping.path, r.mapping.perms) for r in memory.regions(libc)} == {
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", "rw-p")
    }


def test_unknown_pid_is_refused() -> None:
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as checkpoint, pytest.raises(ProcessNotFoundError):
        checkpoint.memories([99])


def test_sizes_as_checkpointctl_counts_them() -> None:
    facts = {p["pid"]: p["memory_pages"] for p in truth("counters-blog")["processes"]}
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as checkpoint:
        sizes = {m.pid: memory_sizes(m) for m in checkpoint.memories()}
    assert {pid: size.memory_size for pid, size in sizes.items()} == {pid: n * PAGE_SIZE for pid, n in facts.items()}
    assert {pid: size.shared_memory_size for pid, size in sizes.items()} == {1: 0, 7: 28 << 10, 8: 0}


def test_patterns_and_filters_are_checked() -> None:
    assert longest_match(re.compile(rb"AKIA[0-9A-Z]{16}")) == 20
    assert longest_match(re.compile(rb"ghp_\w+")) == MAX_MATCH_LENGTH
    assert longest_match(re.compile(rb"(?<=KEY=)\w{1,20}(?!\d{3})")) == 4 + 20 + 3
    assert escape_bytes(b"a\\b\x00\xff[x]") == "a\\x5cb\\x00\\xff[x]"
    assert parse_address_range("0x1000-2000") == (0x1000, 0x2000)
    for bad in ("zz", "0x2000-0x1000", "0x1000"):
        with pytest.raises(ValueError):
            parse_address_range(bad)
    with pytest.raises(ValueError):
        MemoryFilter(perms="rwq")
    with pytest.raises(ValueError):
        SearchPattern.from_literal(b"")
    with pytest.raises(ValueError):
        SearchPattern("text", re.compile("text"), 4)  # type: ignore[arg-type]


# --- a synthetic address space ----------------------------------------------------------------

BASE = 0x10000000
PID = 16122  # the sleep process of bare-bash-sleep, given the layout below
# (vaddr, pages) of each pagemap run, in pagemap order: two adjacent runs, a page left out, one
# run at the end of mapping A and one in mapping B right after it; then, far away, two adjacent
# runs of mapping C listed (so stored) in reverse order.
RUNS = [(BASE, 2), (BASE + 2 * PAGE_SIZE, 1), (BASE + 4 * PAGE_SIZE, 1), (BASE + 5 * PAGE_SIZE, 1),
        (BASE + 0x21000, 1), (BASE + 0x20000, 1)]  # fmt: skip
MAPPINGS = [(BASE, BASE + 5 * PAGE_SIZE, Prot.PROT_READ | Prot.PROT_WRITE),  # A
            (BASE + 5 * PAGE_SIZE, BASE + 6 * PAGE_SIZE, Prot.PROT_READ),  # B
            (BASE + 0x20000, BASE + 0x22000, Prot.PROT_READ | Prot.PROT_WRITE)]  # C  # fmt: skip
FOUND = {  # planted where it must be found: (address, text)
    "page edge": (BASE + PAGE_SIZE - 5, b"PAGE_EDGE_MARK"),
    "run edge": (BASE + 2 * PAGE_SIZE - 6, b"RUN_EDGE_MARK"),
    "reversed runs": (BASE + 0x21000 - 7, b"REVERSED_MARK"),
}
NOT_FOUND = {  # planted cut in two where bytes of the process do not continue
    "hole": (BASE + 3 * PAGE_SIZE - 6, b"HOLE_X", BASE + 4 * PAGE_SIZE, b"MARK"),
    "mapping end": (BASE + 5 * PAGE_SIZE - 6, b"VMAS_X", BASE + 5 * PAGE_SIZE, b"MARK"),
}
CUT_MARKS = [b"HOLE_XMARK", b"VMAS_XMARK"]


def _memory_bytes() -> dict[int, int]:
    """Address -> byte of everything planted."""
    planted = {}
    for address, text in FOUND.values():
        planted.update((address + i, byte) for i, byte in enumerate(text))
    for first, head, second, tail in NOT_FOUND.values():
        planted.update((first + i, byte) for i, byte in enumerate(head))
        planted.update((second + i, byte) for i, byte in enumerate(tail))
    return planted


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The synthetic checkpoint as a directory, a plain tar and a tar.zst."""
    root = tmp_path_factory.mktemp("synthetic")
    images = root / "images"
    shutil.copytree(FIXTURES / "bare-bash-sleep", images)
    with CheckpointModel.open(images) as checkpoint:
        mm = checkpoint.store.image(f"mm-{PID}.img")
        pagemap = checkpoint.store.image(f"pagemap-{PID}.img")
    vmas = mm.entries[0].message.vmas
    template = vmas[0]
    del vmas[:]
    for start, end, prot in MAPPINGS:
        vma = vmas.add()
        vma.CopyFrom(template)
        vma.start, vma.end, vma.prot, vma.pgoff, vma.shmid, vma.fd = start, end, prot, 0, 0, -1
        vma.flags = MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON
        vma.status = VmaStatus.VMA_AREA_REGULAR | VmaStatus.VMA_ANON_PRIVATE
    entry_type, message_type = type(pagemap.entries[1]), type(pagemap.entries[1].message)
    del pagemap.entries[1:]
    planted = _memory_bytes()
    pages = bytearray()
    for vaddr, count in RUNS:
        run = message_type()
        run.vaddr, run.nr_pages, run.compat_nr_pages, run.flags = vaddr, count, 0, PagemapFlags.PE_PRESENT
        pagemap.entries.append(entry_type(run, -1))
        pages += bytes(planted.get(vaddr + i, 0) for i in range(count * PAGE_SIZE))
    (images / f"mm-{PID}.img").write_bytes(encode_image(mm))
    (images / f"pagemap-{PID}.img").write_bytes(encode_image(pagemap))
    (images / f"pages-{pagemap.entries[0].message.pages_id}.img").write_bytes(bytes(pages))

    plain = root / "synthetic.tar"
    with tarfile.open(plain, "w") as archive:
        for image in sorted(images.iterdir()):
            archive.add(image, arcname=f"checkpoint/{image.name}")
    packed = root / "synthetic.tar.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    return {"directory": images, "tar": plain, "tar.zst": packed}


MARKS = [text for _, text in FOUND.values()] + CUT_MARKS
EXPECTED = {(PID, text.decode()): [address] for address, text in FOUND.values()}


@pytest.mark.parametrize("kind", ["directory", "tar", "tar.zst"])
def test_seams_whatever_the_chunk_size(synthetic: dict[str, Path], kind: str) -> None:
    patterns = [SearchPattern.from_literal(text) for text in MARKS]
    regex = SearchPattern.from_regex(rb"[A-Z_]{8,20}", name="regex")
    around = SearchPattern.from_regex(rb"(?<=RUN_)EDGE(?=_MARK)", name="around")  # reads past its match
    for chunk_size in (1, 3, 7, 64, 4096, 5000, 1 << 20):
        for workers in (1, 2):
            found = _found(synthetic[kind], [*patterns, regex, around], (PID,), chunk_size=chunk_size, workers=workers)
            assert {key: value for key, value in found.items() if key[1] not in ("regex", "around")} == EXPECTED
            assert found[(PID, "around")] == [FOUND["run edge"][0] + 4]
            # the regex finds what is whole, and never glues HOLE_X or VMAS_X to the MARK beyond
            assert found[(PID, "regex")] == sorted(address for address, _ in FOUND.values())


@pytest.mark.parametrize("kind", ["directory", "tar"])
def test_seams_when_workers_share_the_search(
    synthetic: dict[str, Path], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mapped images are searched by forked workers, window by window; the seams hold there too."""
    forks = []
    real = parallel._in_processes
    monkeypatch.setattr(parallel, "_in_processes", lambda work, parts: forks.append(len(parts)) or real(work, parts))
    one_piece = MemoryFilter(address=(BASE, BASE + 0x10000))  # mapping C is two pieces: searched alone
    patterns = [SearchPattern.from_literal(text) for text in MARKS]
    expected = {key: value for key, value in EXPECTED.items() if key[1] != "REVERSED_MARK"}
    for chunk_size in (1, 7, 4096, 5000):
        found = _found(synthetic[kind], patterns, (PID,), chunk_size=chunk_size, workers=3, memory_filter=one_piece)
        assert found == expected
    assert forks == [3, 3, 3, 3]


def test_context_stops_at_holes_and_mappings(synthetic: dict[str, Path]) -> None:
    with CheckpointModel.open(synthetic["tar"]) as checkpoint:
        memories = checkpoint.memories([PID])
        matches = list(search_memory(checkpoint, memories, [SearchPattern.from_literal(b"_X")], context=64))
    assert [(m.before[-4:], len(m.before), m.after) for m in matches] == [(b"HOLE", 64, b""), (b"VMAS", 64, b"")]
    assert [m.mapping.start for m in matches] == [BASE, BASE]


def test_regions_hexdump_and_dump(synthetic: dict[str, Path], tmp_path: Path) -> None:
    with CheckpointModel.open(synthetic["tar.zst"]) as checkpoint:
        memory = checkpoint.memories([PID])[0]
        regions = memory.regions()
        assert [(r.start, r.length, len(r.pieces)) for r in regions] == [
            (BASE, 3 * PAGE_SIZE, 1),  # the two adjacent runs: one piece of the pages image
            (BASE + 4 * PAGE_SIZE, PAGE_SIZE, 1),
            (BASE + 5 * PAGE_SIZE, PAGE_SIZE, 1),
            (BASE + 0x20000, 2 * PAGE_SIZE, 2),  # stored in reverse order: two pieces
        ]
        with (tmp_path / "all.bin").open("wb") as out:
            placed = dump_memory(checkpoint, memory, out, chunk_size=1000)
        lines = list(hexdump(checkpoint, memory, MemoryFilter(address=(BASE + 0x20FF0, BASE + 0x21010))))
    data = (tmp_path / "all.bin").read_bytes()
    assert [(p.vaddr, p.size, p.offset) for p in placed] == [
        (r.start, r.length, o) for r, o in zip(regions, (0, 0x3000, 0x4000, 0x5000), strict=True)
    ]
    planted = _memory_bytes()
    for region, place in zip(regions, placed, strict=True):
        expected = bytes(planted.get(region.start + i, 0) for i in range(region.length))
        assert data[place.offset : place.offset + place.size] == expected
    assert lines == [
        "0000000010020ff0  00 00 00 00 00 00 00 00  00 52 45 56 45 52 53 45  |.........REVERSE|",
        "0000000010021000  44 5f 4d 41 52 4b 00 00  00 00 00 00 00 00 00 00  |D_MARK..........|",
    ]


def test_repeated_hexdump_lines_are_starred(synthetic: dict[str, Path]) -> None:
    with CheckpointModel.open(synthetic["directory"]) as checkpoint:
        memory = checkpoint.memories([PID])[0]
        lines = list(hexdump(checkpoint, memory, MemoryFilter(address=(BASE + 4 * PAGE_SIZE, BASE + 5 * PAGE_SIZE))))
    assert lines[0].startswith("0000000010004000  4d 41 52 4b 00")
    assert lines[1].startswith("0000000010004010  00 00") and lines[2] == "*"
    assert lines[3].startswith("0000000010004ff0  00 00") and len(lines) == 4


def test_a_pagemap_past_the_pages_image_is_cut_with_a_warning(synthetic: dict[str, Path], tmp_path: Path) -> None:
    images = tmp_path / "short"
    shutil.copytree(synthetic["directory"], images)
    with CheckpointModel.open(images) as checkpoint:
        pages_id = checkpoint.store.image(f"pagemap-{PID}.img").entries[0].message.pages_id
    pages = images / f"pages-{pages_id}.img"
    pages.write_bytes(pages.read_bytes()[: 3 * PAGE_SIZE])
    with CheckpointModel.open(images) as checkpoint:
        memories = checkpoint.memories([PID])
        patterns = [SearchPattern.from_literal(text) for text in MARKS]
        found = [m.data for m in search_memory(checkpoint, memories, patterns)]
        warnings = checkpoint.diagnostics.untold([PID])
    assert found == [b"PAGE_EDGE_MARK", b"RUN_EDGE_MARK"]
    assert any("past the end" in warning for warning in warnings)


def test_pages_images_are_never_read_whole(monkeypatch: pytest.MonkeyPatch, synthetic: dict[str, Path]) -> None:
    original = Checkpoint.read

    def guarded(self: Checkpoint, name: str, **options: object) -> bytes:
        assert "pages-" not in name, f"{name} was read whole"
        return original(self, name, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(Checkpoint, "read", guarded)
    for kind in ("directory", "tar", "tar.zst"):
        found = _found(synthetic[kind], [SearchPattern.from_literal(b"RUN_EDGE_MARK")], chunk_size=4096)
        assert found == {(PID, "RUN_EDGE_MARK"): [FOUND["run edge"][0]]}


def test_workers_get_about_the_same_bytes() -> None:
    """The parts handed to workers are runs of windows with about equal bytes, not equal counts
    (a process with one big mapping and many small ones kept one worker busy alone)."""
    from checkforensics.model.scan.parallel import Window, balanced_parts

    sizes = [8 << 20] * 10 + [4096] * 90
    windows, start = [], 0
    for index, size in enumerate(sizes):
        windows.append(Window(index, start, start + size, start, start + size, start))
        start += size
    for count in (1, 2, 3, 4):
        parts = balanced_parts(windows, count)
        assert [w for part in parts for w in part] == windows
        assert len(parts) == count
        loads = [sum(w.end - w.start for w in part) for part in parts]
        assert max(loads) - min(loads) <= 8 << 20


# --- a streamed archive's pages screened in its one listing pass ---------------------------------

ONE_PIECE = MemoryFilter(address=(BASE, BASE + 0x10000))  # mapping C's runs are stored in reverse


def _search_all(path: Path, patterns: list[SearchPattern], memory_filter: MemoryFilter | None, screen=None):
    """Every match (address, bytes, context) and how often the archive was decompressed."""
    with CheckpointModel.open(path, tap=screen) as checkpoint:
        found = search_memory(
            checkpoint, checkpoint.memories([PID]), patterns, memory_filter=memory_filter, context=9, screen=screen
        )
        return [(m.address, m.pattern.name, m.data, m.before, m.after) for m in found]


@pytest.fixture(scope="module")
def synthetic_gz(synthetic: dict[str, Path]) -> Path:
    import gzip

    packed = synthetic["tar"].with_suffix(".tar.gz")
    packed.write_bytes(gzip.compress(synthetic["tar"].read_bytes()))
    return packed


@pytest.mark.parametrize("block", [7, 40, 4096, 5000, 1 << 20])
@pytest.mark.parametrize("kind", ["tar.zst", "tar.gz"])
def test_a_screened_search_finds_what_the_whole_search_finds(
    synthetic: dict[str, Path], synthetic_gz: Path, kind: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from checkforensics.archive import compressed
    from checkforensics.model.scan.prescan import PagesScreen

    monkeypatch.setattr(compressed, "TAP_BLOCK", block)
    monkeypatch.setattr(compressed, "SMALL_PAGES_LIMIT", 0)  # as a big image: not kept at open
    opened = []
    real = compressed.decompressing_reader
    monkeypatch.setattr(compressed, "decompressing_reader", lambda raw, k: opened.append(k) or real(raw, k))
    patterns = [
        *(SearchPattern.from_literal(text) for text in MARKS),
        SearchPattern.from_regex(rb"[A-Z_]{8,20}", name="regex"),
        SearchPattern.from_literal(b"edge_mark", ignore_case=True, name="folded"),
    ]
    archive = synthetic_gz if kind == "tar.gz" else synthetic[kind]
    for memory_filter in (ONE_PIECE, None):  # without the filter, mapping C makes the process searched as before
        expected = _search_all(synthetic["directory"], patterns, memory_filter)
        assert [text for _, _, text, _, _ in expected].count(b"RUN_EDGE_MARK") == 2  # literal and regex
        opened.clear()
        screen = PagesScreen(patterns, 9)
        assert _search_all(archive, patterns, memory_filter, screen) == expected
        pages = [name for name in screen._images if name.endswith(".img")]
        assert pages and all(screen.stretches(name) is not None for name in pages)
        # read once when every region is one stretch of the image; else decompressed again for the search
        assert len(opened) == 1 if memory_filter is ONE_PIECE else len(opened) > 1
    # cut marks lie next to each other in the pages image: the screen keeps them, the search does not join them
    assert any(b"HOLE_XMARK" in stretch.data for name in pages for stretch in screen.stretches(name) or [])


def test_a_pattern_found_everywhere_is_searched_the_usual_way(
    synthetic: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from checkforensics.archive import compressed
    from checkforensics.model.scan.prescan import PagesScreen

    monkeypatch.setattr(compressed, "SMALL_PAGES_LIMIT", 0)
    opened = []
    real = compressed.decompressing_reader
    monkeypatch.setattr(compressed, "decompressing_reader", lambda raw, k: opened.append(k) or real(raw, k))
    patterns = [SearchPattern.from_literal(b"\x00\x00\x00\x00", name="zeros")]
    screen = PagesScreen(patterns, 0, keep_limit=1000)
    found = _search_all(synthetic["tar.zst"], patterns, ONE_PIECE, screen)
    assert found == _search_all(synthetic["directory"], patterns, ONE_PIECE)
    assert screen.kept_bytes == 0 and all(screen.stretches(name) is None for name in screen._images)
    assert len(opened) == 2  # listed, then read again for the search


def test_patterns_reading_past_their_match_are_not_screened() -> None:
    from checkforensics.model.scan.prescan import PagesScreen, reads_only_its_match

    plain = [b"[A-Z_]{8,20}", b"SECRET=(RANDOM_\\d+_KEY)", b"a|bc*", b"(?:ab)+?", b"(?>x+)y", b"(a)\\1"]
    reading = [b"\\bkey", b"^key", b"key$", b"(?<=a)b", b"a(?!b)", b"(a)?(?(1)b|c)", b"(?:x|\\Bz)", b"(?:a(?=b))+"]
    for source in plain:
        assert reads_only_its_match(SearchPattern.from_regex(source)), source
    for source in reading:
        assert not reads_only_its_match(SearchPattern.from_regex(source)), source
    assert PagesScreen([SearchPattern.from_literal(b"x"), SearchPattern.from_regex(b"\\bx")], 0).usable is False


@pytest.mark.parametrize("seed", range(40))
def test_every_raw_match_start_is_kept_with_room_around_it(seed: int) -> None:
    """Fed in blocks of any size, the screen keeps every place a pattern starts matching, with its
    whole match and context, and the bytes it keeps are the image's."""
    import random

    from checkforensics.model.scan.prescan import PagesScreen

    rng = random.Random(seed)
    data = bytes(rng.choice(b"abcx") for _ in range(rng.randrange(1, 3000)))
    patterns = [SearchPattern.from_literal(b"abca"), SearchPattern.from_regex(b"x[ab]{2,5}c", name="r")]
    context = rng.choice([0, 3, 40])
    screen = PagesScreen(patterns, context)
    from checkforensics.archive import MemberInfo

    reader = screen(MemberInfo("checkpoint/pages-1.img", len(data), "file", 0o644, 0, 0, 0.0))
    assert reader is not None
    position = 0
    while position < len(data):
        size = rng.choice([1, 2, 5, 17, 64, 300, 4096])
        chunk = bytearray(data[position : position + size]) + bytearray(b"?" * 3)  # the buffer is longer
        assert reader.feed(chunk, min(size, len(data) - position))
        position += size
    reader.end(True)
    stretches = screen.stretches("checkpoint/pages-1.img")
    assert stretches is not None
    for stretch in stretches:
        assert data[stretch.start : stretch.start + len(stretch.data)] == stretch.data
    for a, b in itertools.pairwise(stretches):
        assert a.own_to < b.own_from
    starts = {s for s in range(len(data)) if data.startswith(b"abca", s)}
    starts |= {s for s in range(len(data)) if re.compile(b"x[ab]{2,5}c").match(data, s)}
    for start in starts:
        holder = [st for st in stretches if st.own_from <= start < st.own_to]
        assert holder, (start, [(st.own_from, st.own_to) for st in stretches])
        stretch = holder[0]
        assert stretch.start <= max(0, start - context)
        assert stretch.start + len(stretch.data) >= min(len(data), start + 7 + context)
