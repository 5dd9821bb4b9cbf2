"""``memparse`` and ``memdump``: memory sizes, hexdumps and raw copies of process memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from checkforensics.analysis.memsearch import DumpedRegion, dump_memory, hexdump, memory_sizes
from checkforensics.analysis.memsearch.selection import one_memory, shared_objects
from checkforensics.cli.options import (
    checkpoint_argument,
    emit_warnings,
    make_memory_filter,
    memory_filter_options,
    output_options,
)
from checkforensics.errors import ExitCode
from checkforensics.model import CheckpointModel
from checkforensics.model.regions import MemoryFilter, ProcessMemory
from checkforensics.model.shared import SharedMemory
from checkforensics.output import OutputGuard
from checkforensics.render import JSON, Table, human_size, print_json, print_table


def _dump(
    model: CheckpointModel, memory: ProcessMemory, out: Path, force: bool, checkpoint: str, chosen: MemoryFilter
) -> list[DumpedRegion]:
    if not memory.regions(chosen, shared=True):
        return []
    with OutputGuard(checkpoint).new_file(out, force=force) as handle:
        return dump_memory(model, memory, handle, chosen)


def _print_dump(memory: ProcessMemory, out: Path | None, placed: list[DumpedRegion], fmt: str, no_color: bool) -> None:
    if fmt == JSON:
        print_json(
            {
                "pid": memory.pid,
                "comm": memory.comm,
                **({"shared": memory.as_json()} if isinstance(memory, SharedMemory) else {}),
                "output": str(out) if out is not None else None,
                "size": sum(region.size for region in placed),
                "regions": [
                    {"vaddr": r.vaddr, "size": r.size, "offset": r.offset, "vma": r.mapping.as_json()} for r in placed
                ],
            }
        )
        return
    rows = [[f"{r.vaddr:#x}", r.size, r.offset, r.mapping.describe()] for r in placed]
    title = f"{out}: {sum(r.size for r in placed)} bytes of {memory.label}" if out is not None else None
    print_table(Table(["VADDR", "SIZE", "OFFSET", "VMA"], rows, title=title), fmt, no_color=no_color)


def _print_sizes(model: CheckpointModel, chosen: MemoryFilter, warnings: list[str], fmt: str, no_color: bool) -> None:
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
    if fmt == JSON:
        print_json({"processes": records, "shared": shared, "warnings": warnings})
        return
    rows = [[r["pid"], r["comm"], human_size(r["memory_size"]), human_size(r["shared_memory_size"])] for r in records]
    columns = ["PID", "PROCESS NAME", "MEMORY SIZE", "SHARED MEMORY SIZE"]
    print_table(Table(columns, rows), fmt, no_color=no_color)
    if shared:
        click.echo()
        rows = [
            [s["shmid"], s["kind"], obj.describe(), human_size(s["size"]), human_size(s["dumped_size"]), s["mapped_by"]]
            for s, obj in zip(shared, objects, strict=True)
        ]
        columns = ["SHMID", "KIND", "SHARED MEMORY", "SIZE", "DUMPED", "MAPPED BY"]
        print_table(Table(columns, rows), fmt, no_color=no_color)


def _placements(memory: ProcessMemory, chosen: MemoryFilter) -> list[DumpedRegion]:
    """Where each region would go in a dump, without writing one."""
    placed, offset = [], 0
    for region in memory.regions(chosen, shared=True):
        placed.append(DumpedRegion(region.start, region.length, offset, region.mapping))
        offset += region.length
    return placed


def _write_hexdump(lines: Iterator[str]) -> None:
    stdout = click.get_text_stream("stdout")
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= 4096:
            stdout.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        stdout.write("\n".join(batch) + "\n")


@click.command()
@checkpoint_argument()
@click.option("--pid", type=int, help="Hex-dump this process's memory (or write it with -o).")
@click.option("--shmid", type=int, help="Hex-dump this shared memory object instead (memparse lists their ids).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="With --pid: write raw memory here.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@memory_filter_options
@output_options()
def memparse(
    checkpoint: str,
    pid: int | None,
    shmid: int | None,
    out: Path | None,
    force: bool,
    perms: str | None,
    kinds: tuple[str, ...],
    address: str | None,
    file_glob: str | None,
    fmt: str,
    no_color: bool,
) -> int:
    """Memory sizes of every process; with --pid, a hexdump of its memory (checkpointctl memparse).

    MEMORY SIZE counts the pages the pagemap describes, SHARED MEMORY SIZE the MAP_SHARED
    mappings; shared memory objects (memfds, SysV segments), dumped once for all the processes
    that map them, are listed after the processes. With --pid (or --shmid) the dumped memory is
    printed like `hexdump -C` (virtual addresses, or offsets in the object; `*` for repeated
    lines); with -o FILE it is written raw, laid out as memdump does.

    \b
    Examples:
      checkforensics memparse checkpoint.tar
      checkforensics memparse checkpoint.tar --pid 7 --vma-type heap | less
      checkforensics memparse checkpoint.tar --pid 7 -o pid7.raw
      checkforensics memparse checkpoint.tar --shmid 8708
    """
    if pid is not None and shmid is not None:
        raise click.UsageError("give --pid or --shmid, not both")
    if out is not None and pid is None and shmid is None:
        raise click.UsageError("-o/--output writes one process's memory: give --pid (or --shmid) too")
    chosen = make_memory_filter(perms, kinds, address, file_glob)
    warnings: list[str] = []
    with CheckpointModel.open(checkpoint) as model:
        if pid is None and shmid is None:
            _print_sizes(model, chosen, warnings, fmt, no_color)
        else:
            memory = _one_memory(model, pid, shmid, warnings)
            if out is not None:
                placed = _dump(model, memory, out, force, checkpoint, chosen)
                if not placed:
                    warnings.append(f"{memory.label}: no dumped memory matches; {out} not written")
                    emit_warnings(warnings)
                    return ExitCode.NOTHING_FOUND
                _print_dump(memory, out, placed, fmt, no_color)
            elif fmt == JSON:
                _print_dump(memory, None, _placements(memory, chosen), fmt, no_color)
            else:
                _write_hexdump(hexdump(model, memory, chosen))
    emit_warnings(warnings)
    return ExitCode.OK


@click.command()
@checkpoint_argument()
@click.option("--pid", type=int, help="The process whose memory to write.")
@click.option("--shmid", type=int, help="Or the shared memory object to write (ids: memparse lists them).")
@click.option("--vma", metavar="ADDR", help="Only the mapping holding this address (hexadecimal).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="The file to write.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@memory_filter_options
@output_options()
def memdump(
    checkpoint: str,
    pid: int | None,
    shmid: int | None,
    vma: str | None,
    out: Path,
    force: bool,
    perms: str | None,
    kinds: tuple[str, ...],
    address: str | None,
    file_glob: str | None,
    fmt: str,
    no_color: bool,
) -> int:
    """Write a process's dumped memory, or one mapping of it, to a file (exit 1 when there is none).

    The file holds the dumped regions back to back in address order; the listing printed
    says where each one went (VADDR, SIZE, OFFSET in the file). Pages that were not dumped
    take no space. An existing file is only replaced with --force; the checkpoint never.
    --shmid writes a shared memory object (a memfd, a SysV segment) instead: its offsets take
    the place of addresses.

    \b
    Examples:
      checkforensics memdump checkpoint.tar --pid 7 -o pid7.mem
      checkforensics memdump checkpoint.tar --pid 7 --vma 0x2ccf3000 -o heap.bin --format json
      checkforensics memdump checkpoint.tar --shmid 8708 -o shared.bin
    """
    if (pid is None) == (shmid is None):
        raise click.UsageError("give --pid (a process) or --shmid (a shared memory object)")
    chosen = make_memory_filter(perms, kinds, address, file_glob)
    warnings: list[str] = []
    with CheckpointModel.open(checkpoint) as model:
        memory = _one_memory(model, pid, shmid, warnings)
        if vma is not None:
            chosen = _only_mapping(memory, vma, chosen)
        placed = _dump(model, memory, out, force, checkpoint, chosen)
    if not placed:
        warnings.append(f"{memory.label}: no dumped memory matches; {out} not written")
    else:
        _print_dump(memory, out, placed, fmt, no_color)
    emit_warnings(warnings)
    return ExitCode.OK if placed else ExitCode.NOTHING_FOUND


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
