"""The container's log (stdout and stderr) as the checkpoint kept it.

containerd keeps it as container.log, Podman as ctr.log, both in the CRI logging format:
one line per write with its time, stream and tag (F a full line, P a piece of a longer
one). Text output prints those four fields, control characters escaped; json and jsonl
give each line as a record (docs/json.md). Nothing is redacted: this is the evidence.

\b
Examples:
  checkforensics logs checkpoint.tar
  checkforensics logs checkpoint.tar --stream stderr --join
  checkforensics logs checkpoint.tar --format jsonl | jq -r .message
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from checkforensics.analysis.containerlog import STREAMS
from checkforensics.cli.declare import command
from checkforensics.render import JSON, JSONL, TEXT

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer



@command(
    reads=("container",),
    options=[
        click.option("--join", is_flag=True, help="Put lines the runtime cut (tag P) back together with their end."),
        click.option(
            "--stream", "streams", type=click.Choice(STREAMS), multiple=True, help="Only this stream (repeatable)."
        ),
    ],
    formats=(TEXT, JSON, JSONL),
    records=["checkforensics.analysis.containerlog:LOG_ENTRY"],
)
def logs(model: CheckpointModel, join: bool, streams: tuple[str, ...]) -> Iterator[Answer]:
    from checkforensics.analysis.containerlog import container_log

    return container_log(model, join=join, streams=streams)
