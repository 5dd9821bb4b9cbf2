"""Memory sizes of every process; with --pid, a hexdump of its memory (checkpointctl memparse).

MEMORY SIZE counts the pages the pagemap describes, SHARED MEMORY SIZE the MAP_SHARED
mappings; shared memory objects (memfds, SysV segments), dumped once for all the processes
that map them, are listed after the processes. With --pid (or --shmid) the dumped memory is
printed like `hexdump -C` (virtual addresses, or offsets in the object; `*` for repeated
lines); with -o FILE it is written raw, laid out as memdump does. To search memory
(checkpointctl's memparse --search), use memgrep.

\b
Examples:
  checkforensics memparse checkpoint.tar
  checkforensics memparse checkpoint.tar --pid 7 --vma-type heap | less
  checkforensics memparse checkpoint.tar --pid 7 -o pid7.raw
  checkforensics memparse checkpoint.tar --shmid 8708
"""

from __future__ import annotations

from pathlib import Path

import click

from checkforensics.analysis.memsearch import DumpedRegion, dump_memory, hexdump, memory_sizes
from checkforensics.analysis.memsearch.selection import one_memory, shared_objects
from checkforensics.cli.declare import declared
from checkforensics.cli.options import (
    checkpoint_argument,
    emit_warnings,
    make_memory_filter,
    memory_filter_options,
    output_options,
)
from checkforensics.errors import ExitCode
from checkforensics.model import CheckpointModel, Reads
from checkforensics.model.regions import MemoryFilter, ProcessMemory
from checkforensics.model.shared import SharedMemory
from checkforensics.output import OutputGuard
from checkforensics.render import Lines, Result, Table, human_size, render


def _dump(
    model: CheckpointModel, memory: ProcessMemory, out: Path, force: bool, checkpoint: str, chosen: MemoryFilter
) -> list[DumpedRegion]:
    if not memory.regions(chosen, shared=True):
        return []
    with OutputGuard(checkpoint).new_file(out, force=force) as handle:
        return dump_memory(model, memory, handle, chosen)


def _dump_result(memory: ProcessMemory, out: Path | None, placed: list[DumpedRegion], warnings: list[str]) -> Result:
    """Where each region went in the file ``out`` (or would go, when ``out`` is None)."""
    is_shared = isinstance(memory, SharedMemory)
    regions = [{"vaddr": r.vaddr, "size": r.size, "offset": r.offset, "vma": r.mapping.as_json()} for r in placed]
    document = {
        "pid": memory.pid,
        "comm": memory.comm,
        **({"shared": memory.as_json()} if is_shared else {}),
        "output": str(out) if out is not None else None,
        "size": sum(region.size for region in placed),
        "regions": regions,
    }
    owner = {"pid": memory.pid, "comm": memory.comm, **({"shmid": memory.shmid} if is_shared else {})}
    lines = [{**owner, "output": document["output"], **region} for region in regions]
    rows = [[f"{r.vaddr:#x}", r.size, r.offset, r.mapping.describe()] for r in placed]
    title = f"{out}: {document['size']} bytes of {memory.label}" if out is not None else None
    table = Table(["VADDR", "SIZE", "OFFSET", "VMA"], rows, title=title)
    return Result(json=document, jsonl=lines, text=[table], warnings=warnings)


def _sizes_result(model: CheckpointModel, chosen: MemoryFilter, warnings: list[str]) -> Result:
    """One row per process; one whose memory images cannot be read has no sizes (``-``, null)."""
    sizes = {m.pid: memory_sizes(m, chosen) for m in model.memories((), warnings)}
    records = []
    for process in model.processes():
        size = sizes.get(process.pid)
        records.append(
            {
                "pid": process.pid,
                "comm": process.comm,
                "memory_size": size.memory_size if size else None,
                "dumped_size": size.dumped_size if size else None,
                "shared_memory_size": size.shared_memory_size if size else None,
            }
        )
    objects = shared_objects(model, (), chosen)
    shared = [
        {
            **obj.as_json(),
            "dumped_size": obj.space.dumped_bytes,
            "mapped_by": sorted({use.pid for use in obj.users}),
        }
        for obj in objects
    ]
    rows = [[r["pid"], r["comm"], human_size(r["memory_size"]), human_size(r["shared_memory_size"])] for r in records]
    tables = [Table(["PID", "PROCESS NAME", "MEMORY SIZE", "SHARED MEMORY SIZE"], rows)]
    if shared:
        rows = [
            [s["shmid"], s["kind"], obj.describe(), human_size(s["size"]), human_size(s["dumped_size"]), s["mapped_by"]]
            for s, obj in zip(shared, objects, strict=True)
        ]
        tables.append(Table(["SHMID", "KIND", "SHARED MEMORY", "SIZE", "DUMPED", "MAPPED BY"], rows))
    lines = [{"record": "process", **r} for r in records] + [{"record": "shared", **s} for s in shared]
    document = {"processes": records, "shared": shared, "warnings": warnings}
    return Result(json=document, jsonl=lines, text=tables, warnings=warnings)


def _placements(memory: ProcessMemory, chosen: MemoryFilter) -> list[DumpedRegion]:
    """Where each region would go in a dump, without writing one."""
    placed, offset = [], 0
    for region in memory.regions(chosen, shared=True):
        placed.append(DumpedRegion(region.start, region.length, offset, region.mapping))
        offset += region.length
    return placed


def _point_to_memgrep(
    checkpoint: str, search: str | None, search_regex: str | None, context: int | None, pid: int | None
) -> None:
    """checkpointctl's ``memparse --search`` is memgrep here: the usage error names the command."""
    import shlex

    argv = ["checkforensics", "memgrep", checkpoint]
    argv += ["-e", search] if search is not None else ["--regex", "-e", search_regex or ""]
    argv += ["--pid", str(pid)] if pid is not None else []
    argv += ["--context", str(context)] if context is not None else []
    raise click.UsageError(f"memparse does not search; memgrep does (every process at once): {shlex.join(argv)}")


@click.command(name="memparse", help=__doc__)
@checkpoint_argument()
@click.option("--pid", type=int, help="Hex-dump this process's memory (or write it with -o).")
@click.option("--shmid", type=int, help="Hex-dump this shared memory object instead (memparse lists their ids).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="With --pid: write raw memory here.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
# checkpointctl's memparse searches; here memgrep does (every process at once): these only say so
@click.option("--search", "search", metavar="PATTERN", hidden=True)
@click.option("--search-regex", "search_regex", metavar="REGEX", hidden=True)
@click.option("--context", "search_context", type=int, hidden=True)
@memory_filter_options
@output_options()
def memparse(
    checkpoint: str,
    pid: int | None,
    shmid: int | None,
    out: Path | None,
    force: bool,
    search: str | None,
    search_regex: str | None,
    search_context: int | None,
    perms: str | None,
    kinds: tuple[str, ...],
    address: str | None,
    file_glob: str | None,
    fmt: str,
    no_color: bool,
) -> int:
    if search is not None or search_regex is not None:
        _point_to_memgrep(checkpoint, search, search_regex, search_context, pid)
    if pid is not None and shmid is not None:
        raise click.UsageError("give --pid or --shmid, not both")
    if out is not None and pid is None and shmid is None:
        raise click.UsageError("-o/--output writes one process's memory: give --pid (or --shmid) too")
    chosen = make_memory_filter(perms, kinds, address, file_glob)
    warnings: list[str] = []
    reads = Reads.MEMORY if pid is not None or shmid is not None else Reads.NOTHING  # a hexdump, or sizes
    with CheckpointModel.open(checkpoint, reads=reads) as model:
        warnings += model.tree.warnings  # the archive's and the tree's: a listing cut at a limit says so
        if pid is None and shmid is None:
            render(_sizes_result(model, chosen, warnings), fmt, no_color=no_color)
            return ExitCode.OK
        memory = _one_memory(model, pid, shmid, warnings)
        if out is None:
            result = _dump_result(memory, None, _placements(memory, chosen), warnings)
            result.text = lambda: [Lines(hexdump(model, memory, chosen))]
            render(result, fmt, no_color=no_color)
            return ExitCode.OK
        placed = _dump(model, memory, out, force, checkpoint, chosen)
    if not placed:
        warnings.append(f"{memory.label}: no dumped memory matches; {out} not written")
        emit_warnings(warnings)
        return ExitCode.NOTHING_FOUND
    render(_dump_result(memory, out, placed, warnings), fmt, no_color=no_color)
    return ExitCode.OK


def _one_memory(model: CheckpointModel, pid: int | None, shmid: int | None, warnings: list[str]) -> ProcessMemory:
    """The process ``pid``'s memory (an unknown PID is the usual error), or the object ``shmid``."""
    if pid is not None:
        model.processes([pid])
    return one_memory(model, pid, shmid, warnings)


def _only_mapping(memory: ProcessMemory, text: str, memory_filter: MemoryFilter) -> MemoryFilter:
    """``memory_filter`` narrowed to the mapping that holds address ``text``."""
    try:
        wanted = int(text, 16)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a hexadecimal address", param_hint="--vma") from None
    mapping = next((m for m in memory.mappings if m.start <= wanted < m.end), None)
    if mapping is None:
        raise click.BadParameter(f"no mapping of pid {memory.pid} holds {wanted:#x}", param_hint="--vma")
    span = memory_filter.clip(mapping.start, mapping.end)
    if span is None:
        raise click.BadParameter(f"{wanted:#x} is outside --address", param_hint="--vma")
    return MemoryFilter(memory_filter.perms, memory_filter.kinds, span, memory_filter.file_glob)


declared(memparse, reads=(), takes="checkpoint", samples=[()])
