"""The memory view of a process: its own pages and the shared objects it maps, read alike."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools

import pytest

from checkforensics.images.flags import PagemapFlags
from checkforensics.model import CheckpointModel
from checkforensics.model.memory import AddressSpace, MemoryUnavailableError, PageRun

from conftest import COW, GOLDEN_SOURCES, SCENARIOS, cow_pages, truth


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


# -- private (copy-on-write) mappings of a memfd: the cow scenario (scripts/dump-scenarios/cow.py)

PAGE = 4096


def test_the_cow_truth_holds_both_kinds_of_page() -> None:
    """The dump is worth testing on: in the private mappings, pages the processes wrote and pages
    they did not; the child's view differs from its parent's; no page of the shared one is own."""
    pages = cow_pages()
    private = [page for page in pages if page.label != "S"]
    assert {page.own for page in private} == {True, False}
    assert not any(page.own for page in pages if page.label == "S")
    own_by_pid = {pid: {p.address for p in private if p.pid == pid and p.own} for pid in {p.pid for p in pages}}
    assert len({frozenset(addresses) for addresses in own_by_pid.values()}) == 2


def test_a_private_memfd_mapping_reads_the_process_copy_where_it_wrote_and_the_memfd_elsewhere() -> None:
    with CheckpointModel.open(COW) as model:
        for page in cow_pages():
            data = model.memory(page.pid).read(page.address, PAGE)
            assert hashlib.sha256(data).hexdigest() == page.sha256, (page.pid, page.label, hex(page.address))
            assert data.startswith(page.head.encode())
        for pid in {page.pid for page in cow_pages()}:  # a read across pages of both kinds
            for label in "AB":
                mapping = next(p for p in cow_pages() if p.pid == pid and p.label == label)
                whole = model.memory(pid).read(mapping.start, mapping.end - mapping.start)
                wanted = [p.sha256 for p in cow_pages() if p.pid == pid and p.label == label]
                assert [hashlib.sha256(whole[i : i + PAGE]).hexdigest() for i in range(0, len(whole), PAGE)] == wanted


def test_every_address_is_shown_once_the_process_page_first() -> None:
    """regions(shared=True) covers each page of the memfd's mappings exactly once, from the
    process's own pages image exactly where /proc/PID/pagemap showed a page of its own; without
    ``shared``, only those."""
    with CheckpointModel.open(COW) as model:
        for pid in {page.pid for page in cow_pages()}:
            memory = model.memory(pid)
            pages = {page.address: page for page in cow_pages() if page.pid == pid}
            shown: list[tuple[int, str]] = []
            for region in memory.regions(shared=True):
                shown += [(address, region.member) for address in range(region.start, region.end, PAGE)]
            addresses = [address for address, _ in shown]
            assert len(addresses) == len(set(addresses))  # no address twice, anywhere in the process
            assert sorted(addresses) == addresses
            members = {address: member for address, member in shown if address in pages}
            assert members.keys() == pages.keys()
            for address, page in pages.items():
                assert (members[address] == memory.pages_member) == page.own, hex(address)
            own = {a for r in memory.regions() for a in range(r.start, r.end, PAGE) if a in pages}
            assert own == {address for address, page in pages.items() if page.own}


def test_a_memfd_match_is_placed_only_where_the_process_sees_the_memfd() -> None:
    """mapped_at: every (pid, address) whose page shows that offset of the memfd, by the truth
    file (the mapping covers the offset, and the process has no page of its own there)."""
    pages = cow_pages()
    with CheckpointModel.open(COW) as model:
        (memfd,) = model.shared_memory
        assert memfd.kind == "memfd" and memfd.name == "cfw-cow"
        for offset in range(0, 8 * PAGE, PAGE):
            wanted = {
                (page.pid, page.address)
                for page in pages
                if page.address - page.start + page.pgoff == offset and not page.own
            }
            assert {(pid, address) for pid, _, address in memfd.mapped_at(offset + 100, 24)} == {
                (pid, address + 100) for pid, address in wanted
            }
        # a match running from a page the process sees into one it wrote is not placed there
        page_3 = next(p for p in pages if p.label == "A" and p.own and p.address - p.start == 3 * PAGE)
        places = {address for pid, _, address in memfd.mapped_at(3 * PAGE - 8, 16) if pid == page_3.pid}
        assert page_3.address - 8 not in places and page_3.address - 8 in {
            address for pid, _, address in memfd.mapped_at(3 * PAGE - 8, 8) if pid == page_3.pid
        }
        assert places  # still placed in the shared mapping


@pytest.mark.parametrize("name", sorted(GOLDEN_SOURCES))
def test_regions_and_reads_agree_and_never_repeat_an_address(name: str) -> None:
    """On every real dump: no two regions of a process share an address; each region reads as
    the process does at its address; in a MAP_SHARED mapping of a shared object (nginx's zones,
    PostgreSQL's SysV segments) every byte comes from the object."""
    with CheckpointModel.open(GOLDEN_SOURCES[name]) as model:
        for memory in model.memories():
            regions = memory.regions(shared=True)
            for before, after in itertools.pairwise(regions):
                assert before.end <= after.start, (memory.pid, hex(after.start))
            shared = {a.mapping.start: a for a in memory.attachments if not a.private}
            attached = {a.mapping.start for a in memory.attachments}
            # every region of a shared object's mapping, and a few others (reads from a
            # compressed archive are slow)
            for region in [r for r in regions if r.mapping.start in attached] + regions[:8]:
                for position in {0, max(0, region.length - 64)}:
                    size = min(64, region.length - position)
                    assert region.read(position, size) == memory.read(region.start + position, size)
                if region.mapping.start in shared:
                    assert region.member == shared[region.mapping.start].shared.pages_member


def test_a_copied_page_kept_in_a_parent_image_still_hides_the_memfd() -> None:
    """Where the process's pagemap has a page of its own that this checkpoint does not hold (a
    pre-dump's), the memfd's page is not what it saw: reading there says so, and no region
    shows the memfd's page in its place."""
    page = next(p for p in cow_pages() if p.label == "A" and p.own)
    with CheckpointModel.open(COW) as model:
        memory = model.memory(page.pid)
        runs = [
            PageRun(run.vaddr, run.nr_pages, PagemapFlags.PE_PARENT, None) if run.vaddr == page.address else run
            for run in memory.space.runs
        ]
        assert runs != memory.space.runs and memory.space.run_at(page.address).nr_pages == 1
        space = AddressSpace(memory.space.vmas, runs, memory.space.read_dumped, memory.space.pages_size)
        parented = dataclasses.replace(memory, space=space)
        with pytest.raises(MemoryUnavailableError, match="parent"):
            parented.read(page.address, 16)
        shown = {a for r in parented.regions(shared=True) for a in range(r.start, r.end, PAGE)}
        assert page.address not in shown
        assert {page.address - PAGE, page.address + PAGE} <= shown  # the memfd's pages beside it
