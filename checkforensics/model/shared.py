"""Shared memory objects: memory that belongs to no single process.

CRIU dumps the content of shared memory once, not with each process that maps it: every
``pagemap-shmem-<shmid>.img`` describes one object (offsets into the object play the part of
virtual addresses) whose pages lie in ``pages-<pages_id>.img``. Three kinds exist:

- ``memfd``: a memfd (``memfd.img`` names it; CRIU 4 also dumps a ``MAP_SHARED|MAP_ANONYMOUS``
  mapping this way, as the memfd ``/dev/zero``). Mappings of it have ``VMA_AREA_MEMFD`` and the
  memfd's *file id* in ``shmid``. In a ``MAP_PRIVATE`` one (a program run from a memfd), the
  pages the process wrote are its own copies, dumped with its pages (``pagemap-PID``).
- ``sysvipc``: a System V shared memory segment (``ipcns-shm`` entries with ``in_pagemaps``);
  attachments have ``VMA_AREA_SYSVIPC`` and the segment id in ``shmid``.
- ``shared``: anonymous shared memory as older CRIU dumped it (``VMA_ANON_SHARED``, ``shmid``
  the shmem inode).

Each object is searched once; a match is then placed in every process that maps that offset,
at ``vma.start + offset - vma.pgoff``, unless the mapping is ``MAP_PRIVATE`` (a memfd mapped
copy-on-write) and the process has a page of its own there, which is what it saw instead. An
object no process maps (a SysV segment nobody has attached, a memfd only held by a descriptor)
is searched too: its content is still evidence.

References: criu/shmem.c, criu/memfd.c, criu/ipc_sysvipc.c, images/pagemap.proto, images/memfd.proto.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.images.flags import PAGE_SIZE, Prot, VmaStatus
from checkforensics.images.load import text
from checkforensics.model.mappings import pages_image
from checkforensics.model.memory import AddressSpace, Vma, normalise_pagemap
from checkforensics.model.regions import Mapping
from checkforensics.model.store import ImageStore
from checkforensics.model.view import Attachment, ProcessMemory
from checkforensics.records.declare import Field, RecordType
from checkforensics.records.values import INTEGER, SIZE, TEXT

if TYPE_CHECKING:
    from checkforensics.model.architecture import Architecture
    from checkforensics.model.pages import PagesImages

SHARED_KINDS = ("memfd", "sysvipc", "shared")
_PREFIX = "pagemap-shmem-"


@dataclass(frozen=True)
class SharedUse:
    """One process's mapping of (part of) a shared object. ``own``: for a ``MAP_PRIVATE``
    mapping, the process's own pages, which hide the object's wherever it has one."""

    pid: int
    comm: str | None
    start: int
    end: int
    pgoff: int  # the object offset mapped at ``start``
    own: AddressSpace | None = field(default=None, compare=False, repr=False)

    def address(self, offset: int, length: int = 1) -> int | None:
        """Where ``offset`` of the object is in this process, if this mapping covers it and the
        process sees the object's bytes there (``length`` of them), not pages of its own."""
        if not self.pgoff <= offset < self.pgoff + (self.end - self.start):
            return None
        address = self.start + offset - self.pgoff
        if self.own is not None:
            stop = min(self.end, address + max(length, 1))
            if next(self.own.gaps(address, stop), None) != (address, stop):
                return None
        return address


@dataclass
class SharedMemory(ProcessMemory):
    """One shared memory object, searchable like a process (offsets stand for addresses)."""

    shmid: int = 0
    kind: str = "shared"
    name: str | None = None  # a memfd's name
    key: int | None = None  # a SysV segment's key
    size: int = 0
    users: list[SharedUse] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"shared memory {self.shmid}"

    def describe(self) -> str:
        """``memfd:/dev/zero (shmem 8708)``, ``sysv shm 1 key 0xcf0001``, ``shmem 2055``."""
        if self.kind == "memfd":
            return f"memfd:{self.name} (shmem {self.shmid})"
        if self.kind == "sysvipc":
            return f"sysv shm {self.shmid}" + (f" key {self.key:#x}" if self.key else "")
        return f"shmem {self.shmid}"

    def mapped_at(self, offset: int, length: int = 1) -> list[tuple[int, str | None, int]]:
        """``(pid, comm, address)`` of every process that sees ``length`` bytes from ``offset``
        of the object: that maps it there, and (in a ``MAP_PRIVATE`` mapping) has no page of
        its own there."""
        places = []
        for use in self.users:
            address = use.address(offset, length)
            if address is not None:
                places.append((use.pid, use.comm, address))
        return places

    def mapped_json(self, offset: int, length: int = 1) -> list[dict[str, Any]]:
        """``mapped_at`` as JSON: ``[{"pid", "comm", "address"}]``."""
        return [{"pid": pid, "comm": comm, "address": address} for pid, comm, address in self.mapped_at(offset, length)]


SHARED_OBJECT = RecordType(
    "shared_object",
    "shared_objects",
    (
        Field("shmid", INTEGER, "the pagemap-shmem-<shmid>.img it comes from"),
        Field("kind", TEXT, "memfd, sysvipc (a System V segment) or shared (older CRIU's shared anonymous memory)"),
        Field("name", TEXT, "a memfd's name"),
        Field("key", INTEGER, "a System V segment's key"),
        Field("size", SIZE),
    ),
    doc="A shared memory object (memgrep's object, memdump's shared).",
)


def load_shared_memories(
    store: ImageStore,
    processes: list[ProcessMemory],
    images: PagesImages | None = None,
    architecture: Architecture | None = None,
) -> list[SharedMemory]:
    """Every shared memory object the checkpoint holds pages of, with the processes (of
    ``processes``) that map it, by shmid; no page is read. A damaged one is left out with a
    warning (said to the checkpoint's diagnostics). Each reads from the pages ``images``,
    pointers as ``architecture`` has them."""
    shmids = sorted(
        int(name[len(_PREFIX) : -4])
        for name in store.image_names()
        if name.startswith(_PREFIX) and name.endswith(".img") and name[len(_PREFIX) : -4].isdigit()
    )
    if not shmids:
        return []
    memfds = _memfds(store)  # shmid -> (name, size, file ids)
    sysv = _sysv_segments(store)  # id -> (key, size)
    # every mapping by the shmid it carries (a file id for memfds), numbered in process order
    by_shmid: dict[int, list[tuple[int, ProcessMemory, Mapping]]] = {}
    every = ((process, mapping) for process in processes for mapping in process.mappings)
    for number, (process, mapping) in enumerate(every):
        by_shmid.setdefault(mapping.vma.shmid, []).append((number, process, mapping))
    objects = []
    for shmid in shmids:
        try:
            found = _load_object(store, shmid, memfds, sysv, by_shmid)
            found.images = images
            if architecture is not None:
                found.architecture = found.space.architecture = architecture
            objects.append(found)
        except CheckforensicsError as exc:
            where = f"{_PREFIX}{shmid}.img"
            store.diagnostics.warn(f"shared memory not readable: {exc}", where=where, part=Part.MEMORY)
    return objects


def attach(processes: list[ProcessMemory], objects: list[SharedMemory]) -> None:
    """Give each process the shared objects its mappings show (``ProcessMemory.attachments``)."""
    by_place = {(use.pid, use.start): obj for obj in objects for use in obj.users}
    for process in processes:
        process.attachments = [
            Attachment(mapping, by_place[(process.pid, mapping.start)])
            for mapping in process.mappings
            if (process.pid, mapping.start) in by_place
        ]


def _memfds(store: ImageStore) -> dict[int, tuple[str, int, set[int]]]:
    found: dict[int, tuple[str, int, set[int]]] = {}
    try:
        if not store.has("memfd.img"):
            return found
        inodes = {inode.inode_id: inode for inode in store.messages("memfd.img")}
        file_ids: dict[int, set[int]] = {}
        if store.has("files.img"):
            for entry in store.messages("files.img"):
                if entry.HasField("memfd"):
                    file_ids.setdefault(entry.memfd.inode_id, set()).add(entry.id)
        for inode_id, inode in inodes.items():
            found[inode.shmid] = (text(inode.name), inode.size, file_ids.get(inode_id, set()))
    except CheckforensicsError as exc:
        store.diagnostics.warn(f"memfds unknown: {exc}", part=Part.MEMORY)
    return found


def _sysv_segments(store: ImageStore) -> dict[int, tuple[int, int]]:
    found: dict[int, tuple[int, int]] = {}
    for name in store.image_names():
        if not (name.startswith("ipcns-shm-") and name.endswith(".img")):
            continue
        try:
            for entry in store.messages(name):
                found[entry.desc.id] = (entry.desc.key, entry.size)
        except CheckforensicsError as exc:
            store.diagnostics.warn(f"System V shared memory unknown: {exc}", part=Part.MEMORY)
    return found


def _load_object(
    store: ImageStore,
    shmid: int,
    memfds: dict[int, tuple[str, int, set[int]]],
    sysv: dict[int, tuple[int, int]],
    by_shmid: dict[int, list[tuple[int, ProcessMemory, Mapping]]],
) -> SharedMemory:
    entries, member, read_at, pages_size = pages_image(store, f"{_PREFIX}{shmid}.img")
    notes: list[str] = []
    runs = normalise_pagemap(entries, pages_size, notes)
    for note in notes:
        store.diagnostics.warn(note, where=f"{_PREFIX}{shmid}.img", part=Part.MEMORY)

    def is_use(vma: Vma) -> bool:
        if shmid in memfds:
            return bool(vma.status & VmaStatus.VMA_AREA_MEMFD) and vma.shmid in memfds[shmid][2]
        if shmid in sysv:
            return bool(vma.status & VmaStatus.VMA_AREA_SYSVIPC) and vma.shmid == shmid
        return bool(vma.status & VmaStatus.VMA_ANON_SHARED) and vma.shmid == shmid

    candidates = memfds[shmid][2] if shmid in memfds else {shmid}  # the shmids its mappings carry
    users = [
        SharedUse(
            process.pid, process.comm, m.vma.start, m.vma.end, m.vma.pgoff, process.space if m.vma.private else None
        )
        for _, process, m in sorted((use for key in candidates for use in by_shmid.get(key, [])), key=lambda u: u[0])
        if is_use(m.vma)
    ]
    kind, name, key, size = "shared", None, None, 0
    if shmid in memfds:
        kind, (name, size, _) = "memfd", memfds[shmid]
    elif shmid in sysv:
        kind, (key, size) = "sysvipc", sysv[shmid]
    ends = [use.pgoff + use.end - use.start for use in users] + [run.end for run in runs]
    size = max([size, *ends]) if size == 0 else size
    extent = max([size, *(run.end for run in runs)])  # what the search may read: every dumped page
    extent = -(-max(extent, 1) // PAGE_SIZE) * PAGE_SIZE
    status = VmaStatus.VMA_ANON_SHARED | (VmaStatus.VMA_AREA_MEMFD if kind == "memfd" else 0)
    if kind == "sysvipc":
        status |= VmaStatus.VMA_AREA_SYSVIPC
    whole = Vma(0, extent, Prot.PROT_READ | Prot.PROT_WRITE, 0, int(status), 0, shmid)
    label = f"memfd:{name}" if kind == "memfd" else None
    space = AddressSpace([whole], runs, read_at, pages_size)
    return SharedMemory(
        None,  # type: ignore[arg-type]  # no process: see ``label``
        None,
        space,
        [Mapping(whole, kind, label)],
        member,
        pages_size,
        shmid=shmid,
        kind=kind,
        name=name,
        key=key,
        size=size,
        users=users,
    )
