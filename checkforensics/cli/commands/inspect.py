"""Inspect checkpoints in depth, as a tree: metadata, mounts, statistics, processes, files.

With no part named, the metadata is shown. The process parts read command lines and
environments from the dumped memory. --format table prints each part as a table.

\b
Examples:
  checkforensics inspect checkpoint.tar --metadata --mounts
  checkforensics inspect checkpoint.tar --ps-tree-cmd --files --sockets
  checkforensics inspect checkpoint.tar.zst --all --format json
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.declare import command
from checkforensics.cli.options import TREE_ALIAS, pid_option

if TYPE_CHECKING:
    from checkforensics.analysis.inspection import Parts
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer


def _parts(metadata: bool, mounts: bool, stats: bool, ps_tree: bool, ps_tree_cmd: bool, ps_tree_env: bool,
           with_files: bool, with_sockets: bool, pids: tuple[int, ...], everything: bool, **_: Any) -> Parts:
    """The parts the options ask for."""
    from checkforensics.analysis.inspection import Parts, ProcessView

    view = ProcessView(ps_tree, ps_tree_cmd, ps_tree_env, with_files, with_sockets, frozenset(pids))
    return Parts.asked(metadata, mounts, stats, view, everything)


@command(
    takes="checkpoints",
    reads=lambda fmt, **options: ("memory",) if _parts(**options).memory(fmt) else (),
    options=[
        click.option("--metadata", is_flag=True, help="Container metadata and annotations."),
        click.option("--mounts", is_flag=True, help="Mounts from spec.dump and from CRIU's mountpoints image."),
        click.option("--stats", is_flag=True, help="CRIU dump statistics."),
        click.option("--ps-tree", is_flag=True, help="The process tree."),
        click.option("--ps-tree-cmd", is_flag=True, help="The process tree with command lines (read from memory)."),
        click.option("--ps-tree-env", is_flag=True, help="The process tree with environments (read from memory)."),
        click.option("--files", "with_files", is_flag=True, help="Open files of each process."),
        click.option("--sockets", "with_sockets", is_flag=True, help="Open sockets of each process."),
        pid_option("Only this process in the process parts (repeatable)."),
        click.option("--all", "everything", is_flag=True, help="Every part."),
    ],
    hash_for_json=True,
    with_format=True,
    format_aliases=TREE_ALIAS,
    samples=[("--all",)],
    records=["checkforensics.analysis.inspection:INSPECTION"],
)
def inspect(model: CheckpointModel, fmt: str, **options: Any) -> Answer:
    from checkforensics.analysis.inspection import inspect

    return inspect(model, _parts(**options), fmt)
