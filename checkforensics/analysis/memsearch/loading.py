"""Loading the memory layout of checkpointed processes: mappings, their files and pages image.

No page is read here; the pages image is only named and sized.

References: criu/include/image.h (VMA status), images/mm.proto, images/pagemap.proto,
images/regfile.proto and images/memfd.proto (file names).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from checkforensics.analysis.memory import AddressSpace, Vma, normalise_pagemap, vmas_from_mm
from checkforensics.analysis.memsearch.regions import Mapping, ProcessMemory
from checkforensics.analysis.processes import load_mm, load_tree
from checkforensics.archive import Checkpoint
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.images.flags import MapFlags
from checkforensics.images.load import load_image, text


class ProcessNotFoundError(CheckforensicsError):
    """A process asked for by PID is not in the checkpoint."""

    exit_code = ExitCode.USAGE


def file_names(checkpoint: Checkpoint, warnings: list[str]) -> dict[int, str]:
    """File id -> path, from files.img (or the older reg-files.img); memfds as ``memfd:NAME``."""
    names: dict[int, str] = {}
    memfds: dict[int, int] = {}  # file id -> memfd inode id
    try:
        if checkpoint.has_image("files.img"):
            for entry in load_image(checkpoint, "files.img").messages():
                if entry.HasField("reg"):
                    names[entry.id] = text(entry.reg.name)
                elif entry.HasField("memfd"):
                    memfds[entry.id] = entry.memfd.inode_id
        elif checkpoint.has_image("reg-files.img"):
            names.update((entry.id, text(entry.name)) for entry in load_image(checkpoint, "reg-files.img").messages())
        if memfds and checkpoint.has_image("memfd.img"):
            inodes = {inode.inode_id: text(inode.name) for inode in load_image(checkpoint, "memfd.img").messages()}
            names.update((file_id, f"memfd:{inodes[inode]}") for file_id, inode in memfds.items() if inode in inodes)
    except CheckforensicsError as exc:
        warnings.append(f"file names of mappings unknown: {exc}")
    return names


def describe_mappings(vmas: Iterable[Vma], mm: Any, names: dict[int, str]) -> list[Mapping]:
    """Each VMA with its kind and backing file; the main stack is told apart as /proc/PID/maps does."""
    start_stack = mm.mm_start_stack if mm is not None and mm.HasField("mm_start_stack") else None
    mappings = []
    for vma in sorted(vmas, key=lambda v: v.start):
        kind = vma.kind
        growsdown = vma.flags & MapFlags.MAP_GROWSDOWN
        if kind == "anon" and (growsdown or (start_stack is not None and vma.start <= start_stack < vma.end)):
            kind = "stack"
        path = names.get(vma.shmid) if vma.file_backed or kind == "memfd" else None
        mappings.append(Mapping(vma, kind, path))
    return mappings


def load_memories(
    checkpoint: Checkpoint,
    pids: Iterable[int] = (),
    warnings: list[str] | None = None,
    listed: list[tuple[int, str | None]] | None = None,
) -> list[ProcessMemory]:
    """The memory layout of every process (or of ``pids``), in process-tree order; no page is read.

    A process whose images are missing or damaged is left out with a warning; ``listed``
    receives ``(pid, comm)`` of every process asked for, readable or not, in the same order.
    Raises ProcessNotFoundError for a PID the checkpoint does not have.
    """
    warnings = warnings if warnings is not None else []
    tree = load_tree(checkpoint)
    warnings.extend(tree.warnings)
    wanted = set(pids)
    missing = sorted(wanted - {process.pid for process in tree.processes})
    if missing:
        raise ProcessNotFoundError(
            f"no process {', '.join(map(str, missing))} in the checkpoint (see 'checkforensics ps')",
            where=str(checkpoint.path),
        )
    names = file_names(checkpoint, warnings)
    memories = []
    for process in tree.processes:
        if wanted and process.pid not in wanted:
            continue
        if listed is not None:
            listed.append((process.pid, process.comm))
        if process.zombie:  # no memory left to dump
            if wanted:
                warnings.append(f"pid {process.pid} is a zombie (exited, not reaped): it has no memory")
            continue
        try:
            memories.append(_load_memory(checkpoint, process.pid, process.comm, names))
        except CheckforensicsError as exc:
            warnings.append(f"pid {process.pid}: memory not readable: {exc}")
    return memories


def _load_memory(checkpoint: Checkpoint, pid: int, comm: str | None, names: dict[int, str]) -> ProcessMemory:
    mm = load_mm(checkpoint, pid)
    pagemap = load_image(checkpoint, f"pagemap-{pid}.img").messages()
    if not pagemap:
        raise CheckforensicsError(f"pagemap-{pid}.img has no header entry")
    member = f"{checkpoint.images_prefix}pages-{pagemap[0].pages_id}.img"
    read_at, size = checkpoint.page_reader(member)
    vmas = vmas_from_mm(mm)
    space = AddressSpace(vmas, normalise_pagemap(pagemap[1:]), read_at, size)
    return ProcessMemory(pid, comm, space, describe_mappings(vmas, mm, names), member, size)
