"""What was typed into bash and other readline programs, recovered from memory.

For every process with memory, whatever its name (bash, python3 -i, psql, sqlite3, ...), the
readline history list found by its structure in the heap: each entry with its pid, comm,
terminal, position, the command and its time when the program stamped one (bash's "#<epoch>");
state "live" for the list's entries, "remnant" for text left in freed heap blocks of the same
heap (after "history -c", say): only the end of the line survives there, and remnants are
never mixed into the list. Then the variables each bash set or exported after it started
(not in its initial environment). Exit code 1 when no history is found.

\b
Examples:
  checkforensics history checkpoint.tar
  checkforensics history checkpoint.tar --pid 7 --format jsonl
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checkforensics.cli.declare import command
from checkforensics.cli.options import pid_option

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer


@command(
    reads=("memory",),
    options=[pid_option()],
    samples=[()],
    records=["checkforensics.analysis.history:HISTORY_ENTRY", "checkforensics.analysis.history:SHELL_VARIABLE"],
)
def history(model: CheckpointModel, pids: tuple[int, ...]) -> Answer:
    from checkforensics.analysis.history import history_answer

    return history_answer(model, pids)
