"""List the checkpointed processes with their command lines (read from memory).

\b
Examples:
  checkforensics ps checkpoint.tar
  checkforensics ps checkpoint.tar.zst --tree --env
  checkforensics ps checkpoint.tar --hash     # SHA-256 of programs run from a memfd, deleted or dropped
  checkforensics ps checkpoint.tar --format json | jq '.processes[].cmdline'
  checkforensics ps checkpoint.tar --format jsonl | jq -c 'select(.uid == 0)'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from checkforensics.cli.declare import command
from checkforensics.cli.options import pid_option

if TYPE_CHECKING:  # the model is imported when the command runs: 'ps --help' reads none of it
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer


@command(
    reads=("memory",),  # command lines
    options=[
        click.option("--tree", "as_tree", is_flag=True, help="Draw the parent/child tree."),
        click.option("--env", "with_env", is_flag=True, help="Add each process's environment, read from its memory."),
        click.option("--hash", "with_hash", is_flag=True,
                     help="Add the SHA-256 of each program whose bytes the checkpoint holds (a memfd, a deleted "
                     "file CRIU saved, a file of rootfs-diff.tar)."),
        pid_option(),
    ],
    samples=[("--tree", "--env"), ("--hash",)],
    records=["checkforensics.analysis.processes:PROCESS"],
)
def ps(model: CheckpointModel, as_tree: bool, with_env: bool, with_hash: bool, pids: tuple[int, ...]) -> Answer:
    from checkforensics.analysis.processes import process_list

    return process_list(model, pids, env=with_env, tree=as_tree, hashes=with_hash)
