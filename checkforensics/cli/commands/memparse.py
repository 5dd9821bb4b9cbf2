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

from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.declare import Output, command
from checkforensics.cli.options import make_memory_filter, memory_filter_options

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.model.regions import MemoryFilter
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer


def _checked(
    checkpoint: str, pid: int | None, shmid: int | None, output: str | None, force: bool, search: str | None,
    search_regex: str | None, search_context: int | None, perms: str | None, kinds: tuple[str, ...],
    address: str | None, file_glob: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The options, checked before the checkpoint is read."""
    if search is not None or search_regex is not None:
        _point_to_memgrep(checkpoint, search, search_regex, search_context, pid)
    if pid is not None and shmid is not None:
        raise click.UsageError("give --pid or --shmid, not both")
    if output is not None and pid is None and shmid is None:
        raise click.UsageError("-o/--output writes one process's memory: give --pid (or --shmid) too")
    memory_filter = make_memory_filter(perms, kinds, address, file_glob)
    return {"checkpoint": checkpoint, "pid": pid, "shmid": shmid, "output": output, "force": force,
            "memory_filter": memory_filter}  # fmt: skip


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


@command(
    prepare=_checked,
    reads=lambda pid, shmid, **_: ("memory",) if pid is not None or shmid is not None else (),  # a hexdump, or sizes
    options=[
        click.option("--pid", type=int, help="Hex-dump this process's memory (or write it with -o)."),
        click.option("--shmid", type=int,
                     help="Hex-dump this shared memory object instead (memparse lists their ids)."),
        # checkpointctl's memparse searches; here memgrep does (every process at once): these only say so
        click.option("--search", "search", metavar="PATTERN", hidden=True),
        click.option("--search-regex", "search_regex", metavar="REGEX", hidden=True),
        click.option("--context", "search_context", type=int, hidden=True),
        memory_filter_options,
    ],
    output=Output("With --pid: write raw memory here.", directory=False, required=False,
                  force_help="Overwrite FILE if it exists."),
    records=[
        "checkforensics.analysis.memsearch.dumps:PROCESS_MEMORY",
        "checkforensics.analysis.memsearch.dumps:SHARED_MEMORY",
        "checkforensics.analysis.memsearch.dumps:REGION",
    ],
)  # fmt: skip
def memparse(
    model: CheckpointModel, pid: int | None, shmid: int | None, output: Destination | None, memory_filter: MemoryFilter
) -> Answer:
    from checkforensics.analysis.memsearch.dumps import memory_dump, sizes

    if pid is None and shmid is None:
        return sizes(model, memory_filter)
    return memory_dump(model, pid, shmid, memory_filter, output)
