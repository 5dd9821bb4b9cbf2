"""Write a process's dumped memory, or one mapping of it, to a file (exit 1 when there is none).

The file holds the dumped regions back to back in address order; the listing printed,
and FILE.index.json written beside FILE, say where each one went (VADDR, SIZE, OFFSET in
the file). Pages that were not dumped take no space. An existing file is only replaced
with --force; the checkpoint never. --shmid writes a shared memory object (a memfd, a
SysV segment) instead: its offsets (OFFSET IN OBJECT) take the place of addresses.

\b
Examples:
  checkforensics memdump checkpoint.tar --pid 7 -o pid7.mem
  checkforensics memdump checkpoint.tar --pid 7 --vma 0x2ccf3000 -o heap.bin --format json
  checkforensics memdump checkpoint.tar --shmid 8708 -o shared.bin
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.declare import Output, command
from checkforensics.cli.options import make_memory_filter, memory_filter_options

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.model.regions import MemoryFilter
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer


def _checked(pid: int | None, shmid: int | None, perms: str | None, kinds: tuple[str, ...], address: str | None,
             file_glob: str | None, **chosen: Any) -> dict[str, Any]:  # fmt: skip
    """The options, checked before the checkpoint is read."""
    if (pid is None) == (shmid is None):
        raise click.UsageError("give --pid (a process) or --shmid (a shared memory object)")
    return {**chosen, "pid": pid, "shmid": shmid, "memory_filter": make_memory_filter(perms, kinds, address, file_glob)}


def _address(context: click.Context, parameter: click.Parameter, text: str | None) -> int | None:
    try:
        return None if text is None else int(text, 16)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a hexadecimal address", param_hint="--vma") from None


@command(
    prepare=_checked,
    reads=("memory",),
    options=[
        click.option("--pid", type=int, help="The process whose memory to write."),
        click.option("--shmid", type=int, help="Or the shared memory object to write (ids: memparse lists them)."),
        click.option("--vma", metavar="ADDR", callback=_address,
                     help="Only the mapping holding this address (hexadecimal)."),
        memory_filter_options,
    ],
    output=Output("The file to write.", directory=False, force_help="Overwrite FILE if it exists."),
    samples=[("--pid", "PID", "-o", "OUT")],
    records=["checkforensics.analysis.memsearch.dumps:REGION"],
)  # fmt: skip
def memdump(
    model: CheckpointModel,
    pid: int | None,
    shmid: int | None,
    vma: int | None,
    output: Destination,
    memory_filter: MemoryFilter,
) -> Answer:
    from checkforensics.analysis.memsearch.dumps import memory_dump

    return memory_dump(model, pid, shmid, memory_filter, output, vma=vma)
