"""Memory that looks like injected or hidden code, per process.

Anonymous memory that is executable (worse: writable too), executable mappings of memfds
and deleted files, ELF or PE headers at the start of anonymous memory, and processes
whose executable is a memfd (fileless) or was deleted; each with its addresses,
protections, why it was flagged, its ATT&CK techniques and its first bytes (disassembled
too where capstone is installed). [vdso] and code of files on disk are never flagged; the
anonymous code of JIT runtimes (Java, Node.js, .NET, ...) is, at low severity, with the
runtime named. Exit code 1 when nothing is flagged.

\b
Examples:
  checkforensics malfind checkpoint.tar
  checkforensics malfind checkpoint.tar --pid 7 --dump found/
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
    output=Output(
        "Write each flagged mapping's dumped bytes to this directory, with manifest.json (sha256 of each).",
        required=False,
        flags=("--dump",),
        force_help="With --dump: write into a directory that is not empty.",
    ),
    samples=[(), ("--dump", "OUT")],
    records=["checkforensics.analysis.malfind:REGION"],
)
def malfind(model: CheckpointModel, pids: tuple[int, ...], output: Destination | None) -> Answer:
    from checkforensics.analysis.malfind import flagged_regions

    return flagged_regions(model, pids, output)
