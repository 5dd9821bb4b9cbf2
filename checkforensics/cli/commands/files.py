"""List every open descriptor: files (deleted ones marked), pipes, sockets, and more.

\b
Examples:
  checkforensics files checkpoint.tar
  checkforensics files checkpoint.tar.zst --pid 7 --data
  checkforensics files checkpoint.tar --format jsonl | jq -c 'select(.deleted)'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from checkforensics.cli.declare import command
from checkforensics.cli.options import pid_option

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer


@command(
    reads=lambda with_data, **_: ("memory", "images") if with_data else (),
    options=[
        pid_option(),
        click.option("--data", "with_data", is_flag=True, help="Show a preview of unread data beside its descriptor."),
    ],
    samples=[("--data",)],
    records=["checkforensics.analysis.descriptors:FILES", "checkforensics.analysis.descriptors:FILES_WITH_DATA"],
)
def files(model: CheckpointModel, pids: tuple[int, ...], with_data: bool) -> Answer:
    from checkforensics.analysis.descriptors import descriptors

    return descriptors(model, pids, with_data=with_data)
