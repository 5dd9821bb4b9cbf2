"""Turn each checkpointed process into an ELF core file (DIR/core.PID) for gdb.

Registers of every thread, the dumped memory of every mapping, the command line and the
auxiliary vector; open them with `gdb -c core.7 /usr/bin/python3` (or `gdb -c core.7`
alone for registers and raw memory). x86_64 only.

\b
Examples:
  checkforensics coredump checkpoint.tar -o cores/
  checkforensics coredump checkpoint.tar.zst --pid 7 -o /tmp
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checkforensics.cli.declare import Output, command
from checkforensics.cli.options import pid_option

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer


@command(
    reads=("memory",),
    options=[pid_option()],
    output=Output("Directory for the core.PID files.", force_help="Overwrite existing core files."),
    samples=[("-o", "OUT")],
    records=["checkforensics.analysis.coredump:CORE"],
)
def coredump(model: CheckpointModel, pids: tuple[int, ...], output: Destination) -> Answer:
    from checkforensics.analysis.coredump import write_cores

    return write_cores(model, pids, output)
