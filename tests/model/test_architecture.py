"""The machine a checkpoint was taken on, from its core images, and pointers read in its terms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checkforensics.images.codec import encode_image
from checkforensics.model import CheckpointModel
from checkforensics.model.architecture import (
    ARCHITECTURES,
    ArchitectureError,
    architecture_of,
    common_architecture,
)

from conftest import FIXTURES, GOLDEN_SOURCES

EVERY_CHECKPOINT = sorted(
    {
        *GOLDEN_SOURCES.values(),
        *FIXTURES.glob("*.tar"),
        *FIXTURES.glob("*.tar.gz"),
        *FIXTURES.glob("*.tar.zst"),
    }
)
BARE = FIXTURES / "bare-bash-sleep"  # pids 16120 (bash) and 16122 (sleep)


@pytest.mark.parametrize("path", EVERY_CHECKPOINT, ids=lambda path: path.name)
def test_every_fixture_was_taken_on_x86_64(path: Path) -> None:
    with CheckpointModel.open(path) as model:
        arch = model.architecture
        assert (arch.name, arch.pointer_size, arch.byte_order, arch.mtype, arch.known) == (
            "x86_64", 8, "little", 1, True
        )  # fmt: skip
        assert {process.core.mtype for process in model.processes()} == {1}  # what the core images say
        memory = model.memories()[0]
        assert memory.architecture is arch and memory.space.architecture is arch
        assert all(obj.architecture is arch for obj in model.shared_memory)


def test_every_machine_criu_knows_is_named() -> None:
    named = {mtype: (a.name, a.pointer_size, a.byte_order) for mtype, a in ARCHITECTURES.items()}
    assert named == {
        1: ("x86_64", 8, "little"),
        2: ("arm", 4, "little"),
        3: ("aarch64", 8, "little"),
        4: ("ppc64le", 8, "little"),
        5: ("s390x", 8, "big"),
        6: ("mips64el", 8, "little"),
        7: ("loongarch64", 8, "little"),
        8: ("riscv64", 8, "little"),
    }
    # the numbers are CoreEntry.March's, as our generated protobuf module has them
    from checkforensics.images.pb import core_pb2

    march = core_pb2.CoreEntry.March
    assert {number: name for name, number in march.items()} == {
        0: "UNKNOWN", 1: "X86_64", 2: "ARM", 3: "AARCH64", 4: "PPC64", 5: "S390", 6: "MIPS", 7: "LOONGARCH64",
        8: "RISCV64",
    }  # fmt: skip


def test_unknown_and_mixed_machines_say_why_only_when_a_pointer_is_read() -> None:
    for arch, why in (
        (architecture_of(0), "UNKNOWN"),
        (architecture_of(42), "machine 42"),
        (common_architecture([]), "no core image"),
        (common_architecture([1, 5, 1]), "several machines (x86_64, s390x)"),
    ):
        assert not arch.known and arch.pointer_size is None
        with pytest.raises(ArchitectureError, match=why.replace("(", r"\(").replace(")", r"\)")):
            arch.require()
    assert common_architecture([3, 3]) is ARCHITECTURES[3]


def _with_machines(tmp_path: Path, machines: dict[int, int]) -> Path:
    """bare-bash-sleep with the core image of each pid in ``machines`` naming that machine."""
    images = tmp_path / "images"
    shutil.copytree(BARE, images)
    with CheckpointModel.open(images) as model:
        cores = {pid: model.store.image(f"core-{pid}.img") for pid in machines}
    for pid, mtype in machines.items():
        cores[pid].entries[0].message.mtype = mtype
        (images / f"core-{pid}.img").write_bytes(encode_image(cores[pid]))
    return images


def test_a_big_endian_machine_reads_pointers_and_structures_big_endian(tmp_path: Path) -> None:
    """The same bytes, read as the s390x the core images now name: most significant byte first."""
    with CheckpointModel.open(BARE) as model:
        mm = model.mm(16120)
        memory = model.memory(16120)
        raw = memory.read(mm.mm_start_stack, 24)
        little = memory.read_struct(mm.mm_start_stack, "3P")
    with CheckpointModel.open(_with_machines(tmp_path, {16120: 5, 16122: 5})) as model:
        assert model.architecture.name == "s390x"
        memory = model.memory(16120)
        words = [int.from_bytes(raw[i : i + 8], "big") for i in (0, 8, 16)]
        assert memory.read_pointer(mm.mm_start_stack) == words[0]
        assert list(memory.read_struct(mm.mm_start_stack, "3P")) == words
        assert memory.read_struct(mm.mm_start_stack, "<3Q") == little  # a layout's own byte order wins
        assert memory.read_u32(mm.mm_start_stack) == int.from_bytes(raw[:4], "big")
        assert memory.space.read_pointer(mm.mm_start_stack + 8) == words[1]
        # bytes and C strings do not depend on the machine
        assert memory.read_cstring(mm.mm_arg_start) == b"bash"


def test_a_checkpoint_of_two_machines_reads_bytes_but_no_pointer(tmp_path: Path) -> None:
    with CheckpointModel.open(_with_machines(tmp_path, {16122: 3})) as model:
        assert model.architecture.name == "mixed"
        memory = model.memory(16120)
        mm = model.mm(16120)
        assert memory.read_cstring(mm.mm_arg_start) == b"bash"
        assert len(memory.read(mm.mm_start_stack, 8)) == 8
        with pytest.raises(ArchitectureError, match=r"several machines \(x86_64, aarch64\)"):
            memory.read_pointer(mm.mm_start_stack)
        with pytest.raises(ArchitectureError):
            memory.read_struct(mm.mm_start_stack, "QQ")
        assert [p.pid for p in model.command_lines().processes if p.cmdline] == [16120, 16122]  # the rest answers
