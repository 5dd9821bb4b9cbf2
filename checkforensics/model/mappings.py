"""The memory layout of one process: its mappings with their kind and file, and its pages image.

No page is read here; the pages image is only named and sized.

References: criu/include/image.h (VMA status), images/mm.proto, images/pagemap.proto,
images/regfile.proto and images/memfd.proto (file names).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.images.flags import MapFlags
from checkforensics.images.load import text
from checkforensics.model.architecture import UNKNOWN_ARCHITECTURE, Architecture
from checkforensics.model.fdnames import DELETED_REMAPS, remap_kind
from checkforensics.model.memory import AddressSpace, PageRun, Vma, normalise_pagemap, vmas_from_mm
from checkforensics.model.regions import UNKNOWN, Mapping
from checkforensics.model.store import ImageStore
from checkforensics.model.view import ProcessMemory

if TYPE_CHECKING:
    from checkforensics.model.pages import PagesImages

_GROWSDOWN = int(MapFlags.MAP_GROWSDOWN)


def file_names(store: ImageStore) -> dict[int, str]:
    """File id -> path, from files.img (or the older reg-files.img); memfds as ``memfd:NAME``."""
    names: dict[int, str] = {}
    memfds: dict[int, int] = {}  # file id -> memfd inode id
    try:
        if store.has("files.img"):
            for entry in store.messages("files.img"):
                if entry.HasField("reg"):
                    names[entry.id] = text(entry.reg.name)
                elif entry.HasField("memfd"):
                    memfds[entry.id] = entry.memfd.inode_id
        elif store.has("reg-files.img"):
            names.update((entry.id, text(entry.name)) for entry in store.messages("reg-files.img"))
        if memfds and store.has("memfd.img"):
            inodes = {inode.inode_id: text(inode.name) for inode in store.messages("memfd.img")}
            names.update((file_id, f"memfd:{inodes[inode]}") for file_id, inode in memfds.items() if inode in inodes)
    except CheckforensicsError as exc:
        store.diagnostics.warn(f"file names of mappings unknown: {exc}", part=Part.MEMORY)
    return names


def deleted_files(store: ImageStore) -> frozenset[int]:
    """The ids of the files that were deleted while mapped or open (remap-fpath.img: ghost and
    linked remaps), as /proc/PID/maps marks them ``(deleted)``."""
    if not store.has("remap-fpath.img"):
        return frozenset()
    try:
        return frozenset(r.orig_id for r in store.messages("remap-fpath.img") if remap_kind(r) in DELETED_REMAPS)
    except CheckforensicsError as exc:
        store.diagnostics.warn(f"deleted files among mappings unknown: {exc}", part=Part.MEMORY)
        return frozenset()


def describe_mappings(
    vmas: Iterable[Vma], mm: Any, names: dict[int, str], deleted: frozenset[int] = frozenset()
) -> list[Mapping]:
    """Each VMA with its kind and backing file (``deleted`` holds the ids of deleted files); the
    main stack is told apart as /proc/PID/maps does."""
    start_stack = mm.mm_start_stack if mm is not None and mm.HasField("mm_start_stack") else None
    mappings = []
    for vma in sorted(vmas, key=lambda v: v.start):
        kind = vma.kind
        growsdown = vma.flags & _GROWSDOWN
        if kind == "anon" and (growsdown or (start_stack is not None and vma.start <= start_stack < vma.end)):
            kind = "stack"
        path = names.get(vma.shmid) if vma.file_backed or kind == "memfd" else None
        mappings.append(Mapping(vma, kind, path, vma.file_backed and vma.shmid in deleted))
    return mappings


def pages_image(store: ImageStore, pagemap_name: str) -> tuple[list[Any], str, Any, int]:
    """A pagemap's entries after its head, the pages image member it points to, and that
    member's reader and size; a CheckforensicsError when the head is missing."""
    pagemap = store.messages(pagemap_name)
    if not pagemap:
        raise CheckforensicsError(f"{pagemap_name} has no header entry")
    checkpoint = store.checkpoint
    member = f"{checkpoint.images_prefix}pages-{pagemap[0].pages_id}.img"
    read_at, size = checkpoint.page_reader(member)
    return pagemap[1:], member, read_at, size


def address_space(
    store: ImageStore,
    pid: int,
    mm: Any,
    architecture: Architecture = UNKNOWN_ARCHITECTURE,
) -> tuple[AddressSpace, str]:
    """The process's own dumped pages, by address (pointers read as ``architecture`` has them),
    and the pages image member holding them; what of its mm and pagemap images could not be
    taken as it is is said to the checkpoint's diagnostics, about ``pid``. With ``mm`` None (no
    mm-PID.img), each stretch of pages the pagemap lists stands for a mapping of its own."""
    entries, member, read_at, size = pages_image(store, f"pagemap-{pid}.img")
    notes: list[str] = []
    runs = normalise_pagemap(entries, size, notes)
    if mm is None:
        vmas = unknown_vmas(runs)
        notes.append(
            f"mm-{pid}.img missing: its mappings are unknown; the pages the pagemap lists are read as "
            f"{len(vmas)} [unknown] mapping(s)"
        )
    else:
        vmas = vmas_from_mm(mm, notes)
    space = AddressSpace(vmas, runs, read_at, size, architecture)
    for note in notes:
        store.diagnostics.of_process(pid, note, part=Part.MEMORY)
    return space, member


def unknown_vmas(runs: Iterable[PageRun]) -> list[Vma]:
    """Stand-in mappings for a process whose mm image is missing: one per stretch of contiguous
    dumped pages (the pages are there even if what they belonged to is not)."""
    spans: list[list[int]] = []
    for run in sorted(runs, key=lambda r: r.vaddr):
        if spans and run.vaddr <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], run.end)
        else:
            spans.append([run.vaddr, run.end])
    return [Vma(start, end, 0, 0, 0, 0, 0) for start, end in spans if start < end]


def process_memory(
    pid: int,
    comm: str | None,
    mm: Any,
    names: dict[int, str],
    space: AddressSpace,
    member: str,
    deleted: frozenset[int] = frozenset(),
    images: PagesImages | None = None,
) -> ProcessMemory:
    """The process's own mappings and dumped pages (shared objects are attached by the model),
    read from the checkpoint's pages ``images`` in the terms of the space's architecture;
    without ``mm``, the stand-ins of ``unknown_vmas``, of kind ``unknown``."""
    if mm is None:
        mappings = [Mapping(vma, UNKNOWN, None) for vma in space.vmas]
    else:
        mappings = describe_mappings(space.vmas, mm, names, deleted)
    return ProcessMemory(
        pid, comm, space, mappings, member, space.pages_size or 0, architecture=space.architecture, images=images
    )
