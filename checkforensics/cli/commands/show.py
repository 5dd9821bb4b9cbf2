"""Show what was checkpointed: container, image, engine, network, sizes; for a Kubernetes
checkpoint also the pod, its namespace and UID and the sandbox.

\b
Examples:
  checkforensics show checkpoint.tar --print-stats
  checkforensics show /var/lib/kubelet/checkpoints/*.tar --format json
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from checkforensics.cli.declare import command

# What answers the question is imported when the command runs: 'show --help' reads none of it
# (tests/cli/test_startup.py).
if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer


@command(
    takes="checkpoints",
    hash_for_json=True,
    options=[
        click.option("--print-stats", is_flag=True, help="Add CRIU's dump statistics (stats-dump)."),
        click.option(
            "--no-hash", is_flag=True, help="Leave out the archive's SHA-256 in JSON (saves reading it whole)."
        ),
    ],
    samples=[("--print-stats",)],
    records=["checkforensics.analysis.overview:OVERVIEW", "checkforensics.analysis.overview:CONTAINER"],
)
def show(model: CheckpointModel, print_stats: bool, no_hash: bool) -> Answer:
    from checkforensics.analysis.overview import overviews

    return overviews(model, hashed=not no_hash, stats=print_stats)
