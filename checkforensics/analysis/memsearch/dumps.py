"""memparse and memdump as records: the memory sizes of every process and shared object, and
one process's (or object's) dumped regions, hex-dumped or copied into a file.

A copy is the regions back to back in address order (``memparse.dump_memory``); each region
record says where its bytes went. The file is written through the output guard (``cli.declare``'s
``Destination``) and only when some dumped memory matches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from checkforensics.analysis.memsearch.memparse import (
    DumpedRegion,
    MemorySize,
    dump_memory,
    hexdump_regions,
    memory_sizes,
    placements,
)
from checkforensics.analysis.memsearch.selection import one_memory, shared_objects
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.model import CheckpointModel
from checkforensics.model.regions import VMA, MemoryFilter
from checkforensics.model.shared import SHARED_OBJECT, SharedMemory
from checkforensics.model.view import ProcessMemory
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import ADDRESS, INTEGER, LIST, OBJECT, SIZE, TEXT

if TYPE_CHECKING:
    from checkforensics.output import Destination

PROCESS_MEMORY = RecordType(
    "process",
    "processes",
    (
        Field("pid", INTEGER),
        Field("comm", TEXT),
        Field("memory_size", SIZE, "the memory the pagemap describes; null when the memory images cannot be read"),
        Field("dumped_size", SIZE, "the part of it in the checkpoint's pages image"),
        Field("shared_memory_size", SIZE, "the size of the MAP_SHARED mappings"),
    ),
    (
        "pid", Column("PROCESS NAME", "comm"), Column("MEMORY SIZE", "memory_size"),
        Column("SHARED MEMORY SIZE", "shared_memory_size"),
    ),
    "The memory sizes of a process, within the memory filters (memparse).",
)  # fmt: skip

SHARED_MEMORY = RecordType(
    "shared",
    "shared",
    (
        *SHARED_OBJECT.fields,
        Field("dumped_size", SIZE, "how much of it the checkpoint holds", get=lambda obj: obj.space.dumped_bytes),
        Field("mapped_by", LIST, "the pids that map it", get=lambda obj: sorted({use.pid for use in obj.users})),
    ),
    (
        "shmid", "kind", Column("SHARED MEMORY", get=lambda obj: obj.describe()), "size",
        Column("DUMPED", "dumped_size"), Column("MAPPED BY", "mapped_by"),
    ),
    "A shared memory object (memgrep's object), how much of it was dumped and who maps it (memparse).",
)  # fmt: skip

REGION = RecordType(
    "region",
    "regions",
    (
        Field("vaddr", ADDRESS, "where the region starts (in a shared object: its offset)"),
        Field("size", SIZE),
        Field("offset", INTEGER, "where its bytes are in the file written"),
        Field("vma", OBJECT, "the mapping it lies in (as memgrep's vma)", get=lambda r: VMA.json(r.mapping)),
    ),
    ("vaddr", "size", "offset", Column("VMA", get=lambda r: r.mapping.describe())),
    "A dumped region of one process's (or shared object's) memory, as memdump lays it out.",
)
# the same records for a shared object (memdump --shmid), its table saying what the numbers are
OBJECT_REGION = dataclasses.replace(
    REGION,
    columns=(Column("OFFSET IN OBJECT", "vaddr"), "size", Column("OFFSET IN FILE", "offset"),
             Column("VMA", get=lambda r: r.mapping.describe())),
)  # fmt: skip
INDEX = ".index.json"  # memdump -o FILE writes where each region went to FILE.index.json


class MappingNotFoundError(CheckforensicsError):
    """``memdump --vma ADDRESS`` names an address no mapping (within the filters) holds."""

    exit_code = ExitCode.USAGE


def sizes(model: CheckpointModel, memory_filter: MemoryFilter | None = None) -> Answer:
    """The sizes of every process (none for one whose memory images cannot be read: null,
    ``-``), then of every shared memory object."""
    warnings = list(model.tree.warnings)  # the archive's and the tree's: a listing cut at a limit says so
    found = {memory.pid: memory_sizes(memory, memory_filter) for memory in model.memories()}
    processes = [found.get(p.pid) or MemorySize(p.pid, p.comm, None, None, None) for p in model.processes()]
    objects = shared_objects(model, (), memory_filter)
    return Answer(
        [Section(PROCESS_MEMORY, processes), Section(SHARED_MEMORY, objects)], nothing="no process", warnings=warnings
    )


def memory_dump(
    model: CheckpointModel,
    pid: int | None,
    shmid: int | None,
    memory_filter: MemoryFilter,
    output: Destination | None = None,
    vma: int | None = None,
) -> Answer:
    """The dumped regions of process ``pid`` (or shared object ``shmid``) that the filter keeps
    (``vma``: only the mapping holding that address), written to ``output`` when given (only
    when there are some), else hex-dumped in text."""
    warnings = list(model.tree.warnings)
    if pid is not None:
        model.processes([pid])  # an unknown PID is the usual error
    memory = one_memory(model, pid, shmid)
    if vma is not None:
        memory_filter = _only_mapping(memory, vma, memory_filter)
    regions = memory.regions(memory_filter, shared=True)
    shared = isinstance(memory, SharedMemory)
    owner = {"pid": memory.pid, "comm": memory.comm, **({"shared": SHARED_OBJECT.json(memory)} if shared else {})}
    # each JSON line stands alone: it names its process or object (line_head)
    if output is None or not regions:
        placed = placements(regions)
    else:  # the dump, and beside it where each region went: both written whole, or neither
        with output.new_file() as handle, output.beside(INDEX).new_file() as index:
            placed = dump_memory(model, memory, handle, memory_filter)
            index.write(_index(owner, str(output.path), placed).encode())
    written = str(output.path) if output is not None and placed else None  # null: nothing written
    indexed = written + INDEX if written else None
    size = sum(region.size for region in placed)
    nothing = f"no dumped memory of {memory.label} matches" + (f"; {output.path} not written" if output else "")
    view = None if output is not None else lambda regions: _hexdump_view(memory, regions)
    title = f"{written}: {size} bytes of {memory.label}; where each region went: {indexed}" if written else None
    return Answer(
        [Section(OBJECT_REGION if shared else REGION, placed, title=title)],
        nothing=nothing,
        head={**owner, "output": written, "index": indexed, "size": size},
        line_head={"pid": memory.pid, "comm": memory.comm, **({"shmid": memory.shmid} if shared else {}),
                   "output": written},
        text=view,
        table=view,  # a hexdump in either text format
        warnings=warnings,
        about=frozenset({pid}) if pid is not None else frozenset(),
    )


def _index(owner: dict[str, Any], written: str, placed: list[DumpedRegion]) -> str:
    """The index written beside a memory dump: memdump's JSON document, without its warnings."""
    from checkforensics.render import json_text

    size = sum(region.size for region in placed)
    document = {**owner, "output": written, "size": size, "regions": [REGION.json(region) for region in placed]}
    return json_text(document, indent=2) + "\n"


def _hexdump_view(memory: ProcessMemory, placed: Iterable[DumpedRegion]) -> Any:
    """The regions as ``hexdump -C`` lines, written as they are made."""
    from checkforensics.render import Lines

    return Lines(hexdump_regions(memory, (region.region for region in placed if region.region is not None)))


def _only_mapping(memory: ProcessMemory, wanted: int, memory_filter: MemoryFilter) -> MemoryFilter:
    """``memory_filter`` narrowed to the mapping that holds address ``wanted``."""
    mapping = next((m for m in memory.mappings if m.start <= wanted < m.end), None)
    if mapping is None:
        raise MappingNotFoundError(f"--vma: no mapping of pid {memory.pid} holds {wanted:#x}")
    span = memory_filter.clip(mapping.start, mapping.end)
    if span is None:
        raise MappingNotFoundError(f"--vma: {wanted:#x} is outside --address")
    return MemoryFilter(memory_filter.perms, memory_filter.kinds, span, memory_filter.file_glob)
