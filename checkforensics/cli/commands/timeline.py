"""Everything dated in one or more checkpoints, as one stream in time order.

When the engine created and started the container and when it was checkpointed (with how
long CRIU froze it), each line of the container's log, each file written in rootfs-diff.tar
and the tmpfs archives at its mtime (with --all, also what the runtime made there: mount
points, /dev), the deleted files still open that CRIU kept (at their modification and access
times), each line typed into bash or another readline program still in memory (at the time
the shell stored; --no-memory leaves them out), and the deleted files (undated: listed after
the rest). Each event names its source and how sure its time is (exact: the runtime's own
record; file-mtime and file-atime: times whoever wrote the file can set; shell: the time the
shell stored; file-name; none). Several checkpoints of
one container are merged into one timeline, a fact found in several shown once with each
checkpoint named. csv and jsonl carry Timesketch's fields (message, datetime,
timestamp_desc); bodyfile is The Sleuth Kit's body file, for mactime. Nothing is redacted.

\b
Examples:
  checkforensics timeline checkpoint.tar
  checkforensics timeline before.tar after.tar.zst --format jsonl
  checkforensics timeline checkpoint.tar --format bodyfile > body && mactime -b body -d -y
  checkforensics timeline checkpoint.tar --format csv --dated > timesketch.csv
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.declare import command
from checkforensics.render import FORMATS
from checkforensics.render.exports import CSV, Export

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer


BODYFILE = Export("bodyfile", "bodyfile: The Sleuth Kit's body file, for mactime -b",
                  "checkforensics.analysis.timeline.event:write_bodyfile")


def _reads(no_memory: bool = False, **_: Any) -> tuple[str, ...]:
    """What the registered sources read together (process memory for shell history, unless
    --no-memory)."""
    from checkforensics.analysis.timeline import sources_reads

    return sources_reads(memory=not no_memory)


def _merged(answers: list[Answer], dated: bool, with_runtime: bool, **_: Any) -> Answer:
    from checkforensics.analysis.timeline import merged_answer

    return merged_answer(answers, dated_only=dated, runtime=with_runtime)


@command(
    takes="checkpoints",
    reads=_reads,
    options=[
        click.option("--dated", is_flag=True, help="Leave out the events without a time (deleted files)."),
        click.option("--no-memory", is_flag=True,
                     help="Leave out what only process memory holds (shell history): no pages image is read."),
        click.option("--all", "with_runtime", is_flag=True,
                     help="Also the files the container runtime made (mount points, /dev), as diff --all."),
    ],
    formats=(*FORMATS, CSV, BODYFILE),
    merge=_merged,
    samples=[(), ("--format", "csv"), ("--format", "bodyfile")],
    records=["checkforensics.analysis.timeline:EVENT"],
)
def timeline(model: CheckpointModel, dated: bool, with_runtime: bool, no_memory: bool) -> Answer:
    from checkforensics.analysis.timeline import timeline as events

    return events(model, memory=not no_memory)
