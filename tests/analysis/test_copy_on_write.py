"""Every reader of the memory view on private (copy-on-write) mappings of a memfd: core files,
memdump, memparse's hexdump, memgrep, the report's memory map and malfind show, at each address,
what /proc/PID/mem read there before the dump (the process's own copy where it wrote, the memfd's
page elsewhere), once.

The cow dump (scripts/dump-scenarios/cow.py) records, page by page, the sha256 and first words of
what /proc/PID/mem read, and whether /proc/PID/pagemap showed a page of the process's own.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from checkforensics.analysis.coredump import write_core
from checkforensics.analysis.malfind import malfind
from checkforensics.cli import run
from checkforensics.model import CheckpointModel
from checkforensics.report import memory_map_svg

from conftest import COW, SCENARIOS, cow_pages, truth

PAGE = 4096
PIDS = sorted({page.pid for page in cow_pages()})


def _mappings(pid: int) -> dict[str, tuple[int, int]]:
    """S, A, B of ``pid``: (start, end)."""
    return {page.label: (page.start, page.end) for page in cow_pages() if page.pid == pid}


def _loads(core: Path) -> list[tuple[int, int, int, int]]:
    """(p_offset, p_vaddr, p_filesz, p_memsz) of each PT_LOAD of an ELF64 core file."""
    data = core.read_bytes()
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from("<HH", data, 54)
    loads = []
    for index in range(phnum):
        kind, _, offset, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + index * phentsize)
        if kind == 1:  # PT_LOAD
            loads.append((offset, vaddr, filesz, memsz))
    return loads


def _cores(tmp_path: Path) -> dict[int, Path]:
    cores = {}
    with CheckpointModel.open(COW) as model:
        for process in model.tree.processes:
            cores[process.pid] = tmp_path / f"core.{process.pid}"
            with open(cores[process.pid], "wb") as handle:
                write_core(model, process, handle)
    return cores


def test_a_core_file_holds_each_page_as_the_process_saw_it(tmp_path: Path) -> None:
    cores = _cores(tmp_path)
    assert sorted(cores) == PIDS
    for pid, core in cores.items():
        data = core.read_bytes()
        loads = _loads(core)
        for start, end in _mappings(pid).values():  # one PT_LOAD per mapping, its whole size in the file
            assert [(v, f, m) for _, v, f, m in loads if start <= v < end] == [(start, end - start, end - start)]
        for page in (page for page in cow_pages() if page.pid == pid):
            offset, vaddr, _, _ = next(load for load in loads if load[1] <= page.address < load[1] + load[2])
            at = offset + page.address - vaddr
            assert hashlib.sha256(data[at : at + PAGE]).hexdigest() == page.sha256, (pid, page.label, page.head)


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
def test_gdb_reads_the_process_copy_and_the_memfd_page(tmp_path: Path) -> None:
    for pid, core in _cores(tmp_path).items():
        pages = [page for page in cow_pages() if page.pid == pid]
        argv = ["gdb", "-batch", "-nx", "-c", str(core)]
        for page in pages:
            argv += ["-ex", f"x/s {page.address:#x}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        for page in pages:
            shown = re.search(rf'^{page.address:#x}:\s+"([^"]*)', done.stdout, re.MULTILINE)
            assert shown is not None and shown[1].startswith(page.head), (pid, page.head, done.stdout[-500:])


def test_memdump_writes_each_address_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for pid in PIDS:
        out = tmp_path / f"pid{pid}.mem"
        assert run(["memdump", str(COW), "--pid", str(pid), "-o", str(out), "--format", "json"]) == 0
        document = json.loads(capsys.readouterr().out)
        regions = document["regions"]
        spans = sorted((r["vaddr"], r["vaddr"] + r["size"]) for r in regions)
        assert all(before[1] <= after[0] for before, after in itertools.pairwise(spans))
        assert document["size"] == out.stat().st_size == sum(r["size"] for r in regions)
        data = out.read_bytes()
        for page in (page for page in cow_pages() if page.pid == pid):
            region = next(r for r in regions if r["vaddr"] <= page.address < r["vaddr"] + r["size"])
            at = region["offset"] + page.address - region["vaddr"]
            assert hashlib.sha256(data[at : at + PAGE]).hexdigest() == page.sha256
        # the memfd's three mappings: 20 pages shown, 20 pages written (8 + 8 + 4), whoever's they are
        inside = [(r, start, end) for r in regions for start, end in _mappings(pid).values()]
        assert sum(r["size"] for r, start, end in inside if start <= r["vaddr"] < end) == 20 * PAGE


def test_the_hexdump_shows_each_address_once_with_the_process_copy(capsys: pytest.CaptureFixture[str]) -> None:
    for pid in PIDS:
        start, end = _mappings(pid)["A"]
        assert run(["memparse", str(COW), "--pid", str(pid), "--address", f"{start:x}-{end:x}"]) == 0
        rows: dict[int, str] = {}  # address -> the row's text column, "*" lines expanded
        previous, starred = None, False
        for line in capsys.readouterr().out.splitlines():
            if line == "*":
                starred = True
                continue
            address, text = int(line.split()[0], 16), line[line.index("|") :]
            assert previous is None or address > previous  # never an address twice, never back
            if starred and previous is not None:
                rows.update(dict.fromkeys(range(previous + 16, address, 16), rows[previous]))
            rows[address], previous, starred = text, address, False
        assert sorted(rows) == list(range(start, end, 16))
        for page in (page for page in cow_pages() if page.pid == pid and page.label == "A"):
            assert rows[page.address] == f"|{page.head[:16]}|"


def test_memgrep_finds_each_page_where_the_process_saw_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Each page's first words, searched: found at the page's start exactly in the processes
    and mappings where /proc/PID/mem read them (the process's copies among its matches, the
    memfd's pages among the shared matches, placed only where a process sees them)."""
    pages = cow_pages()
    heads = sorted({page.head for page in pages})
    argv = ["memgrep", str(COW), "--format", "json"]
    for head in heads:
        argv += ["-e", head]
    assert run(argv) == 0
    document = json.loads(capsys.readouterr().out)
    inside = {pid: list(_mappings(pid).values()) for pid in PIDS}

    def at_page_start(pid: int, address: int) -> bool:
        return address % PAGE == 0 and any(start <= address < end for start, end in inside.get(pid, []))

    for head in heads:
        wanted = {(page.pid, page.address) for page in pages if page.head == head}
        own = {(m["pid"], m["address"]) for m in document["matches"] if m["pattern"] == head}
        placed = {
            (place["pid"], place["address"])
            for m in document["shared_matches"]
            if m["pattern"] == head
            for place in m["mapped"]
        }
        assert not own & placed  # never the same address twice
        assert {place for place in own | placed if at_page_start(*place)} == wanted, head
        assert {place for place in own if at_page_start(*place)} == {
            (p.pid, p.address) for p in pages if p.head == head and p.own
        }


def test_the_report_memory_map_counts_each_page_once() -> None:
    with CheckpointModel.open(COW) as model:
        for process in model.tree.processes:
            svg = memory_map_svg(model, process)
            for start, end in _mappings(process.pid).values():
                title = re.search(rf"{start:#x}-{end:#x} [^<]*", svg)
                assert title is not None
                assert title[0].endswith(f"dumped {(end - start) // 1024}.0 KiB"), title[0]


# -- the intrusion dump: a program run from a memfd (inj-fileless)


def test_a_program_run_from_a_memfd_is_read_with_its_relocated_pages(tmp_path: Path) -> None:
    """The dynamic loader wrote inj-fileless's RELRO and data pages (relocations), so those are
    the process's own copies: read through its view (and in its core file) they hold pointers
    into libc's code (where /proc/PID/maps put it before the dump), which the memfd's pages at
    the same offsets do not."""
    facts = truth("scenarios/intrusion")
    pid = next(p["pid"] for p in facts["processes"] if p["comm"] == "inj-fileless")
    libc = next(line for line in facts["executable_maps"][str(pid)] if "/libc.so" in line)
    low, high = (int(value, 16) for value in libc.split()[0].split("-"))

    def into_libc(data: bytes) -> int:
        return sum(low <= word < high for (word,) in struct.iter_unpack("<Q", data))

    with CheckpointModel.open(SCENARIOS / "intrusion.tar.zst") as model:
        memory = model.memory(pid)
        assert memory.attachments and all(a.private for a in memory.attachments)
        copied = [a for a in memory.attachments if memory.space.run_at(a.mapping.start) is not None]
        assert copied
        relocated = 0
        for attachment in memory.attachments:
            mapping = attachment.mapping
            seen = memory.read(mapping.start, mapping.end - mapping.start)
            in_memfd = attachment.shared.read(mapping.vma.pgoff, mapping.end - mapping.start)
            if attachment in copied:
                assert seen == memory.space.read(mapping.start, mapping.end - mapping.start)
                relocated += into_libc(seen) > 0 and into_libc(in_memfd) == 0
            else:
                assert seen == in_memfd
        assert relocated
        core = tmp_path / "core"
        with open(core, "wb") as handle:
            write_core(model, model.tree.by_pid(pid), handle)  # type: ignore[arg-type]
        data, loads = core.read_bytes(), _loads(core)
        for attachment in memory.attachments:
            mapping = attachment.mapping
            (offset,) = [offset for offset, vaddr, _, _ in loads if vaddr == mapping.start]
            assert data[offset : offset + mapping.end - mapping.start] == memory.read(
                mapping.start, mapping.end - mapping.start
            )
        regions = memory.regions(shared=True)
        assert all(before.end <= after.start for before, after in itertools.pairwise(regions))
        (suspect,) = (s for s in malfind(model, [pid]).suspects if "memfd-x" in s.reasons)
        assert suspect.dumped == suspect.mapping.end - suspect.mapping.start
        ((_, data),) = suspect.read_spans(memory)
        assert data == memory.space.read(suspect.mapping.start, len(data))  # its own copy
