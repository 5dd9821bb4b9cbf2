"""Show what was checkpointed: container, image, engine, network, sizes; for a Kubernetes
checkpoint also the pod, its namespace and UID and the sandbox.

\b
Examples:
  checkforensics show checkpoint.tar --print-stats
  checkforensics show /var/lib/kubelet/checkpoints/*.tar --format json
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.declare import declared
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.render import JSON, JSONL, Result, Table, human_size, render

# What answers the question is imported when the command runs: 'show --help' reads none of it
# (tests/cli/test_startup.py).
if TYPE_CHECKING:
    from checkforensics.analysis.overview import Overview
    from checkforensics.model import CheckpointModel

COLUMNS = ["CONTAINER", "IMAGE", "ID", "RUNTIME", "CREATED", "CHECKPOINTED", "ENGINE", "IP", "MAC", "CHKPT SIZE",
           "ROOT FS DIFF SIZE"]  # fmt: skip


def _tables(views: list[Overview], print_stats: bool) -> list[Table]:
    from checkforensics.records.forms import POD_COLUMNS, STATS_COLUMNS, in_a_pod, overview_row, pod_row, stats_row

    columns, rows = list(COLUMNS), [overview_row(view) for view in views]
    if any(in_a_pod(view) for view in views):
        columns += POD_COLUMNS
        rows = [[*row, *pod_row(view)] for row, view in zip(rows, views, strict=True)]
    if any(view.amdgpu_pages for view in views):
        columns += ["AMD GPU PAGES"]
        rows = [[*row, human_size(view.amdgpu_pages_size)] for row, view in zip(rows, views, strict=True)]
    if any(view.container.engine is None for view in views):
        columns += ["HOSTNAME", "PROCESSES"]
        rows = [[*row, view.hostname, view.process_count] for row, view in zip(rows, views, strict=True)]
    stats_columns, stats = [name for name, _, _ in STATS_COLUMNS], [stats_row(view) for view in views]
    if len(views) > 1:  # which row is which file
        columns, stats_columns = ["FILE", *columns], ["FILE", *stats_columns]
        rows = [[str(view.path), *row] for row, view in zip(rows, views, strict=True)]
        stats = [[str(view.path), *row] for row, view in zip(stats, views, strict=True)]
    tables = [Table(columns, rows), *_interfaces_table(views)]
    if print_stats:
        tables.append(Table(stats_columns, stats, title="CRIU dump statistics"))
    return tables


def _interfaces_table(views: list[Overview]) -> list[Table]:
    """The network interfaces with their prefixes and gateways, when any checkpoint names one;
    with several checkpoints, each row names its file (two may be of one container)."""
    from checkforensics.records.forms import INTERFACE_COLUMNS, interface_rows

    several = len(views) > 1
    rows = [
        [str(view.path), *row] if several else row
        for view in views
        for row in interface_rows(view)
    ]
    if not rows:
        return []
    return [Table(["FILE", *INTERFACE_COLUMNS] if several else INTERFACE_COLUMNS, rows, title="Network interfaces")]


@click.command(name="show", help=__doc__)
@checkpoint_argument(multiple=True)
@click.option("--print-stats", is_flag=True, help="Add CRIU's dump statistics (stats-dump).")
@click.option("--no-hash", is_flag=True, help="Leave out the archive's SHA-256 in JSON (saves reading it whole).")
@output_options()
def show(checkpoints: tuple[str, ...], print_stats: bool, no_hash: bool, fmt: str, no_color: bool) -> None:
    from checkforensics.analysis.overview import overview
    from checkforensics.model import CheckpointModel, Reads
    from checkforensics.records.forms import overview_record

    warnings: list[str] = []
    reads = Reads.SHA256 if fmt in (JSON, JSONL) and not no_hash else Reads.NOTHING  # hashed in the one pass

    def overviews() -> Iterator[tuple[Overview, CheckpointModel]]:
        """Each checkpoint's overview, its model still open (the hash is read only for JSON)."""
        for path in checkpoints:
            with CheckpointModel.open(path, reads=reads) as model:
                view = overview(model)
                warnings.extend(f"{view.path.name}: {warning}" for warning in view.warnings)
                yield view, model

    def records() -> list[dict[str, Any]]:
        return [
            overview_record(view, sha256=None if no_hash else model.sha256(), with_stats=print_stats)
            for view, model in overviews()
        ]

    result = Result(
        json=records,
        jsonl=records,
        text=lambda: _tables([view for view, _ in overviews()], print_stats),
        warnings=warnings,
    )
    render(result, fmt, no_color=no_color)


declared(show, reads=(), takes="checkpoints", samples=[("--print-stats",)])
