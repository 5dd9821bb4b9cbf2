"""The memory view of a process: its own pages and the shared objects it maps, read alike."""

from __future__ import annotations

import pytest

from checkforensics.model import CheckpointModel
from checkforensics.model.memory import MemoryUnavailableError

from conftest import SCENARIOS, truth


def _shared_markers(name: str) -> list[tuple[int, int, str]]:
    """(shmid, offset, marker) of the truth file's markers in shared memory."""
    found = []
    for image, markers in truth(f"scenarios/{name}")["markers_in_shared_memory"].items():
        shmid = int(image.removeprefix("pagemap-shmem-").removesuffix(".img"))
        for marker, facts in markers.items():
            found += [(shmid, int(offset, 16), marker) for offset in facts["addresses"]]
    return found


@pytest.mark.parametrize("name", ["ns", "proc", "files"])
def test_a_process_reads_shared_memory_at_the_address_it_maps_it(name: str) -> None:
    checked = 0
    with CheckpointModel.open(SCENARIOS / name) as model:
        for shmid, offset, marker in _shared_markers(name):
            shared = model.shared_object(shmid)
            assert shared is not None
            assert shared.read(offset, len(marker)) == marker.encode()
            for pid, _, address in shared.mapped_at(offset):
                assert model.memory(pid).read(address, len(marker)) == marker.encode()
                checked += 1
    if name != "files":  # the files dump's memfds are held by descriptors only, mapped by no one
        assert checked


def test_shared_regions_are_listed_only_when_asked_for() -> None:
    with CheckpointModel.open(SCENARIOS / "proc") as model:
        memory = model.memory(17385)
        (attachment,) = memory.attachments
        assert attachment.shared.kind == "memfd" and attachment.shared.name == "/dev/zero"
        own = memory.regions()
        every = memory.regions(shared=True)
        added = [region for region in every if region not in own]
        assert added and all(region.mapping == attachment.mapping for region in added)
        assert {region.member for region in added} == {attachment.shared.pages_member}
        assert sum(region.length for region in added) == attachment.shared.space.dumped_bytes


def test_a_read_across_a_gap_names_the_address() -> None:
    with CheckpointModel.open(SCENARIOS / "proc") as model:
        memory = model.memory(17385)
        mapping = memory.attachments[0].mapping
        dumped = {region.start for region in memory.regions(shared=True) if region.mapping == mapping}
        missing = next(a for a in range(mapping.start, mapping.end, 4096) if a not in dumped)
        with pytest.raises(MemoryUnavailableError, match=f"{missing:#x}"):
            memory.read(missing, 16)
        data, got = memory.read_available(missing - 16, 64)
        assert got == 16 and len(data) == 16


def test_each_process_memory_is_built_once() -> None:
    with CheckpointModel.open(SCENARIOS / "proc") as model:
        assert model.memory(17385) is model.memory(17385)
        assert model.memories() == model.memories()
        assert model.shared_memory is model.shared_memory
