"""Process tree, command lines and environments against the independent decoder's truth files."""

from __future__ import annotations

import pytest

from checkforensics.images.flags import PagemapFlags
from checkforensics.model import CheckpointModel
from checkforensics.model.memory import AddressSpace, MemoryUnavailableError, PageRun, Vma, normalise_pagemap

from conftest import FIXTURES, truth

CASES = [
    ("counters-blog", FIXTURES / "counters-blog.tar"),
    ("counters-blog-later", FIXTURES / "counters-blog-later.tar.zst"),
    ("busybox-counter-criu41", FIXTURES / "busybox-counter-criu41.tar"),
    ("bare-bash-sleep", FIXTURES / "bare-bash-sleep"),
    ("inflight", FIXTURES / "inflight.tar.zst"),
]


@pytest.mark.parametrize(("fixture", "path"), CASES)
def test_tree_cmdline_and_env_equal_the_truth(fixture: str, path) -> None:
    with CheckpointModel.open(path) as checkpoint:
        tree = checkpoint.tree
        checkpoint.command_lines(env=True)
    expected = truth(fixture)["processes"]
    assert [p.pid for p in tree.processes] == [p["pid"] for p in expected]
    for process, facts in zip(tree.processes, expected, strict=True):
        assert (process.ppid, process.pgid, process.sid) == (facts["ppid"], facts["pgid"], facts["sid"])
        assert process.comm == facts["comm"]
        assert process.tids == facts["threads"]
        assert process.cmdline == facts["cmdline"]
        assert process.env == facts["env"]
        assert process.state == "Alive"
    assert tree.warnings == []


@pytest.mark.parametrize(("fixture", "path"), CASES)
def test_dumped_memory_size_equals_the_truth(fixture: str, path) -> None:
    with CheckpointModel.open(path) as checkpoint:
        for facts in truth(fixture)["processes"]:
            space = checkpoint.memory(facts["pid"]).space
            assert space.dumped_bytes == facts["memory_pages"] * 4096


def test_secret_addresses_read_back() -> None:
    """Every address where the truth file saw a planted secret holds that secret for us too."""
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as checkpoint:
        for facts in truth("counters-blog")["processes"]:
            space = checkpoint.memory(facts["pid"]).space
            for secret, addresses in facts["secret_addresses"].items():
                for address in addresses:
                    assert space.read(address, len(secret)) == secret.encode()
                    assert space.vma_at(address) is not None


def test_threads_have_names_and_credentials() -> None:
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as checkpoint:
        tree = checkpoint.tree
    python = tree.by_pid(7)
    assert python is not None
    assert [t.tid for t in python.threads] == [7, 9]
    assert [(t.uid, t.gid, t.comm) for t in python.threads] == [(0, 0, "counter.py")] * 2
    assert python.threads[0].seccomp == "filter"  # Podman's default seccomp profile
    assert [c.pid for c in tree.by_pid(1).children] == [7, 8]


def test_criu41_and_42_pagemaps_normalise_alike() -> None:
    with CheckpointModel.open(FIXTURES / "busybox-counter-criu41.tar") as old:
        old_entries = old.store.image("pagemap-1.img").messages()[1:]
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as new:
        new_entries = new.store.image("pagemap-1.img").messages()[1:]
    assert all(e.compat_nr_pages and not e.HasField("nr_pages") for e in old_entries)
    assert all(e.nr_pages and e.compat_nr_pages == 0 for e in new_entries)
    for entries in (old_entries, new_entries):
        runs = normalise_pagemap(entries)
        assert all(run.nr_pages > 0 for run in runs)
        offsets = [run.file_offset for run in runs if run.file_offset is not None]
        assert offsets == sorted(offsets) and offsets[0] == 0


def _space(runs: list[PageRun], data: bytes) -> AddressSpace:
    vma = Vma(0x10000, 0x20000, 3, 0x22, 0x201, 0, 0)
    return AddressSpace([vma], runs, lambda offset, size: data[offset : offset + size], len(data))


def test_reads_across_runs_and_gaps() -> None:
    data = bytes(range(256)) * 48  # three pages
    runs = [
        PageRun(0x10000, 2, PagemapFlags.PE_PRESENT, 0),
        PageRun(0x12000, 1, PagemapFlags.PE_PARENT, None),
        PageRun(0x13000, 1, PagemapFlags.PE_PRESENT, 0x2000),
    ]
    space = _space(runs, data)
    assert space.read(0x10ffe, 4) == data[0xFFE:0x1002]  # across a page boundary inside one run
    with pytest.raises(MemoryUnavailableError, match="parent"):
        space.read(0x11ffe, 4)  # runs into the page kept in a parent image
    with pytest.raises(MemoryUnavailableError, match="not dumped"):
        space.read(0x14000, 1)
    assert space.read_available(0x11ffe, 8) == (data[0x1FFE:0x2000], 2)
    assert list(space.present_extents()) == [(0x10000, 0, 0x2000), (0x13000, 0x2000, 0x1000)]


def test_pagemap_pointing_past_the_pages_image() -> None:
    space = _space([PageRun(0x10000, 4, PagemapFlags.PE_PRESENT, 0)], b"\0" * 4096)
    assert space.read(0x10000, 16) == b"\0" * 16
    with pytest.raises(MemoryUnavailableError, match="past the end"):
        space.read(0x11000, 16)
