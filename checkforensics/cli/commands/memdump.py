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

from __future__ import annotations

from pathlib import Path

import click

from checkforensics.cli.commands.memparse import _dump, _dump_result, _one_memory, _only_mapping
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
from checkforensics.render import render


@click.command(name="memdump", help=__doc__)
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
    if (pid is None) == (shmid is None):
        raise click.UsageError("give --pid (a process) or --shmid (a shared memory object)")
    chosen = make_memory_filter(perms, kinds, address, file_glob)
    warnings: list[str] = []
    with CheckpointModel.open(checkpoint, reads=Reads.MEMORY) as model:
        warnings += model.tree.warnings
        memory = _one_memory(model, pid, shmid, warnings)
        if vma is not None:
            chosen = _only_mapping(memory, vma, chosen)
        placed = _dump(model, memory, out, force, checkpoint, chosen)
    if not placed:
        warnings.append(f"{memory.label}: no dumped memory matches; {out} not written")
        emit_warnings(warnings)
        return ExitCode.NOTHING_FOUND
    render(_dump_result(memory, out, placed, warnings), fmt, no_color=no_color)
    return ExitCode.OK


declared(memdump, reads=("memory",), takes="checkpoint", samples=[])
