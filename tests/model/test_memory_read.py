"""Memory views reading what programs keep by address (pointers, C strings, structures) and
scanning themselves: on the real fixtures against their truth files and the memgrep command,
and on small made-up address spaces for the edges real dumps rarely show."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from checkforensics.analysis.memsearch.matches import MATCH, SHARED_MATCH, SharedMatch
from checkforensics.cli import run
from checkforensics.images.flags import PAGE_SIZE, PagemapFlags
from checkforensics.model import CheckpointModel
from checkforensics.model.architecture import ARCHITECTURES, X86_64
from checkforensics.model.memory import AddressSpace, MemoryUnavailableError, PageRun, Vma
from checkforensics.model.regions import MemoryFilter
from checkforensics.model.scan import PagesScreen, SearchPattern
from checkforensics.model.view import ProcessMemory

from conftest import FIXTURES, SCENARIOS, truth

WITH_ARGUMENTS = [
    ("counters-blog", FIXTURES / "counters-blog.tar"),
    ("counters-blog-later", FIXTURES / "counters-blog-later.tar.zst"),
    ("busybox-counter-criu41", FIXTURES / "busybox-counter-criu41.tar"),
    ("bare-bash-sleep", FIXTURES / "bare-bash-sleep"),
]
AT_PLATFORM, AT_EXECFN = 15, 31  # auxv keys (include/uapi/linux/auxvec.h)


@pytest.mark.parametrize(("fixture", "path"), WITH_ARGUMENTS, ids=[case[0] for case in WITH_ARGUMENTS])
def test_argv0_is_the_c_string_at_the_start_of_the_argument_area(fixture: str, path: Path) -> None:
    with CheckpointModel.open(path) as model:
        for process in truth(fixture)["processes"]:
            mm = model.mm(process["pid"])
            memory = model.memory(process["pid"])
            assert memory.read_cstring(mm.mm_arg_start) == process["cmdline"][0].encode()
            assert memory.space.read_cstring(mm.mm_arg_start) == process["cmdline"][0].encode()


@pytest.mark.parametrize(("fixture", "path"), WITH_ARGUMENTS, ids=[case[0] for case in WITH_ARGUMENTS])
def test_the_initial_stack_read_pointer_by_pointer(fixture: str, path: Path) -> None:
    """At ``mm_start_stack`` the kernel left argc, argv[], NULL, envp[], NULL and the auxiliary
    vector: each pointer lands on the string /proc showed, and the auxv on the stack is the one
    CRIU saved in the mm image."""
    with CheckpointModel.open(path) as model:
        for process in truth(fixture)["processes"]:
            mm = model.mm(process["pid"])
            memory = model.memory(process["pid"])
            top = mm.mm_start_stack
            argc = memory.read_u64(top)
            assert argc == len(process["cmdline"])
            argv = memory.read_pointers(top + 8, argc + 1)
            assert argv[-1] == 0
            if process["comm"] == "tee":  # tee points argv[0] at its own name, in a page of /usr/bin/tee
                assert argv[0] != mm.mm_arg_start
                with pytest.raises(MemoryUnavailableError, match=f"address {argv[0]:#x} was not dumped"):
                    memory.read_cstring(argv[0])
                argv[0] = mm.mm_arg_start
            assert [memory.read_cstring(p).decode() for p in argv[:-1]] == process["cmdline"]
            envp = top + 8 * (argc + 2)
            environ = []
            while pointer := memory.read_pointer(envp + 8 * len(environ)):
                environ.append(memory.read_cstring(pointer).decode())
            assert environ == process["env"]
            auxv_at = envp + 8 * (len(environ) + 1)
            saved = list(mm.mm_saved_auxv)
            assert memory.read_pointers(auxv_at, len(saved)) == saved
            auxv = dict(zip(saved[::2], saved[1::2], strict=True))
            assert memory.read_cstring(auxv[AT_PLATFORM]) == b"x86_64"
            assert memory.read_struct(auxv_at, "2P") == tuple(saved[:2])
            assert memory.read_struct(auxv_at, struct.Struct("<QQ")) == tuple(saved[:2])


def _memgrep_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    """memgrep's JSON document, each record without the checkpoint it names."""
    assert run(["memgrep", *argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for field in ("matches", "shared_matches"):
        doc[field] = [{k: v for k, v in record.items() if k != "archive"} for record in doc[field]]
    return doc


def test_a_process_scans_itself_as_memgrep_searches_it(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "counters-blog.tar"
    texts = ["hunter2-blog", "[A-Z_]{6,}=[^\\x00]{4}"]
    doc = _memgrep_json(capsys, str(path), "--regex", "-e", texts[0], "-e", texts[1], "--context", "8")
    patterns = [SearchPattern.from_regex(text.encode(), name=text) for text in texts]
    with CheckpointModel.open(path) as model:
        scanned = [
            MATCH.json(match)
            for memory in model.memories()
            for match in memory.scan(patterns, context=8, chunk_size=4096, workers=2)
        ]
    assert len(scanned) > 20
    assert [{k: v for k, v in m.items() if k != "archive"} for m in scanned] == doc["matches"]
    processes = truth("counters-blog")["processes"]
    planted = {(p["pid"], a) for p in processes for a in p["secret_addresses"]["hunter2-blog"]}
    assert {(m["pid"], m["address"]) for m in scanned if m["pattern"] == texts[0]} == planted


def test_a_scan_takes_a_filter_and_a_limit() -> None:
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as model:
        memory = model.memory(1)
        pattern = [SearchPattern.from_literal(b"hunter2-blog")]
        everywhere = [m.address for m in memory.scan(pattern)]
        assert everywhere == truth("counters-blog")["processes"][0]["secret_addresses"]["hunter2-blog"]
        assert [m.address for m in memory.scan(pattern, max_count=2)] == everywhere[:2]
        on_stack = list(memory.scan(pattern, MemoryFilter(kinds=frozenset({"stack"}))))
        assert [m.address for m in on_stack] == everywhere[3:] and on_stack[0].mapping.kind == "stack"
        stack = on_stack[0].mapping
        size = stack.end - stack.start
        assert list(memory.scan(pattern, MemoryFilter(kinds=frozenset({"stack"}), largest=size - 1))) == []
        assert len(list(memory.scan(pattern, MemoryFilter(kinds=frozenset({"stack"}), largest=size)))) == len(on_stack)


def test_a_shared_object_scans_and_reads_itself_as_memgrep_does(capsys: pytest.CaptureFixture[str]) -> None:
    path = SCENARIOS / "proc"
    markers = truth("scenarios/proc")["markers_in_shared_memory"]
    image, found = next(iter(markers.items()))
    shmid = int(image.removeprefix("pagemap-shmem-").removesuffix(".img"))
    marker, facts = next(iter(found.items()))
    offsets = sorted(int(offset, 16) for offset in facts["addresses"])
    doc = _memgrep_json(capsys, str(path), marker)
    with CheckpointModel.open(path) as model:
        shared = model.shared_object(shmid)
        assert shared is not None
        matches = list(shared.scan([SearchPattern.from_literal(marker.encode())]))
        assert [m.address for m in matches] == offsets
        assert [{k: v for k, v in SHARED_MATCH.json(SharedMatch(shared, m)).items() if k != "archive"}
                for m in matches] == [
            m for m in doc["shared_matches"] if m["object"]["shmid"] == shmid
        ]
        assert shared.read_cstring(offsets[0], limit=len(marker)) == marker.encode()
        assert shared.architecture is model.architecture is X86_64
        for pid, _, address in shared.mapped_at(offsets[0], len(marker)):  # the same bytes, where a process maps them
            view = model.memory(pid)
            assert view.read_cstring(address, limit=len(marker)) == marker.encode()
            assert view.read_u64(address) == shared.read_u64(offsets[0])


def test_a_scan_uses_a_screen_only_when_it_was_made_for_its_patterns() -> None:
    pattern = [SearchPattern.from_literal(b"hunter2-blog")]
    other = PagesScreen([SearchPattern.from_literal(b"something else")], 16)
    assert PagesScreen(pattern, 16).serves(pattern, 16) and not PagesScreen(pattern, 8).serves(pattern, 16)
    with CheckpointModel.open(FIXTURES / "counters-blog.tar.zst", tap=other) as model:
        found = [m.address for m in model.memory(7).scan(pattern, screen=other)]  # ignored: read again
    with CheckpointModel.open(FIXTURES / "counters-blog.tar.zst") as model:
        assert found == [m.address for m in model.memory(7).scan(pattern)] and found


# -- made-up address spaces: the edges -------------------------------------------------------

BASE = 0x10000


def _space(pages: dict[int, bytes], architecture=X86_64) -> AddressSpace:
    """Pages (page number from BASE -> content) dumped back to back, one run each; a page left
    out is a gap. One mapping covers them all."""
    data = bytearray()
    runs = []
    for number in sorted(pages):
        runs.append(PageRun(BASE + number * PAGE_SIZE, 1, PagemapFlags.PE_PRESENT, len(data)))
        data += pages[number].ljust(PAGE_SIZE, b"\x00")
    vma = Vma(BASE, BASE + 16 * PAGE_SIZE, 3, 0x22, 0x201, 0, 0)
    return AddressSpace([vma], runs, lambda offset, size: bytes(data[offset : offset + size]), len(data), architecture)


def test_a_c_string_reads_across_pages_and_runs() -> None:
    text = b"A" * 100 + b"B" * 100
    space = _space({0: b"\x00" * (PAGE_SIZE - 100) + text[:100], 1: text[100:] + b"\x00tail"})
    assert space.read_cstring(BASE + PAGE_SIZE - 100) == text
    assert space.read_cstring(BASE + PAGE_SIZE + 101) == b"tail"
    assert space.read_cstring(BASE) == b""


def test_a_c_string_longer_than_its_limit_is_cut_to_it() -> None:
    space = _space({0: b"x" * PAGE_SIZE, 1: b"y" * 10})
    assert space.read_cstring(BASE + 10, limit=5) == b"xxxxx"
    assert space.read_cstring(BASE + PAGE_SIZE - 3, limit=8) == b"xxxyyyyy"  # across the page edge
    assert space.read_cstring(BASE, limit=0) == b""
    assert space.read_cstring(BASE + 100, limit=1 << 20) == b"x" * (PAGE_SIZE - 100) + b"y" * 10
    with pytest.raises(ValueError):
        space.read_cstring(BASE, limit=-1)


def test_reading_into_a_gap_raises_the_typed_error_with_its_address() -> None:
    space = _space({0: b"z" * PAGE_SIZE, 2: b"ok\x00"})  # page 1 was not dumped
    gap = BASE + PAGE_SIZE
    with pytest.raises(MemoryUnavailableError, match=f"address {gap:#x} was not dumped"):
        space.read_cstring(BASE + 8)  # runs into the gap without meeting a NUL
    with pytest.raises(MemoryUnavailableError, match=f"{gap:#x}"):
        space.read_pointer(gap - 4)  # half of it in the gap
    with pytest.raises(MemoryUnavailableError, match=f"{gap:#x}"):
        space.read_struct(gap - 8, "PI")
    assert space.read_cstring(BASE + 8, limit=16) == b"z" * 16  # stops before the gap: reads
    assert space.read_cstring(BASE + 2 * PAGE_SIZE) == b"ok"
    assert space.read_pointer(gap - 8) == int.from_bytes(b"z" * 8, "little")


def test_integers_pointers_and_layouts_in_the_machines_terms() -> None:
    page = struct.pack("<QIHBx", 0x1122334455667788, 0xAABBCCDD, 0xEEFF, 0x7F) + struct.pack("<q", -2)
    little = _space({0: page})
    big = _space({0: page}, ARCHITECTURES[5])  # s390x
    arm = _space({0: page}, ARCHITECTURES[2])  # 32-bit
    assert little.read_u64(BASE) == little.read_pointer(BASE) == 0x1122334455667788
    assert big.read_u64(BASE) == big.read_pointer(BASE) == 0x8877665544332211
    assert arm.read_pointer(BASE) == 0x55667788 and arm.read_pointers(BASE, 2) == [0x55667788, 0x11223344]
    assert little.read_u32(BASE + 8) == 0xAABBCCDD and big.read_u32(BASE + 8) == 0xDDCCBBAA
    assert little.read_u16(BASE + 12) == 0xEEFF and little.read_int(BASE + 14, 1) == 0x7F
    assert little.read_int(BASE + 16, 8, signed=True) == -2
    assert little.read_struct(BASE, "PIHBx") == (0x1122334455667788, 0xAABBCCDD, 0xEEFF, 0x7F)
    assert big.read_struct(BASE, "Q") == (0x8877665544332211,)
    assert arm.read_struct(BASE, "PN") == (0x55667788, 0x11223344) and arm.struct_layout("Pn").size == 8
    assert big.read_struct(BASE, "<Q") == (0x1122334455667788,)  # a layout's own order wins
    assert little.read_pointers(BASE, 0) == []
    for wrong in ("@P", "=Q"):
        with pytest.raises(ValueError, match="native"):
            little.read_struct(BASE, wrong)
    with pytest.raises(ValueError):
        little.read_int(BASE, 3)
    with pytest.raises(ValueError, match="layout"):
        little.read_struct(BASE, "Z")


def test_a_view_without_its_pages_images_says_so_when_scanned() -> None:
    space = _space({0: b"hello"})
    memory = ProcessMemory(1, "x", space, [], "pages-1.img", space.pages_size or 0)
    assert memory.read_cstring(BASE) == b"hello"  # reading needs only the space
    with pytest.raises(ValueError, match="pages images"):
        memory.open_pages()
