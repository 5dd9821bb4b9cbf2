"""``checkforensics show``: the overview of one or more checkpoints."""

from __future__ import annotations

import click

from checkforensics.analysis.overview import Overview, overview
from checkforensics.cli.options import checkpoint_argument, emit_warnings, output_options
from checkforensics.model import CheckpointModel
from checkforensics.records import (
    POD_COLUMNS,
    STATS_COLUMNS,
    in_a_pod,
    overview_record,
    overview_row,
    pod_row,
    stats_row,
)
from checkforensics.render import JSON, Table, print_json, print_table


@click.command()
@checkpoint_argument(multiple=True)
@click.option("--print-stats", is_flag=True, help="Add CRIU's dump statistics (stats-dump).")
@click.option("--no-hash", is_flag=True, help="Leave out the archive's SHA-256 in JSON (saves reading it whole).")
@output_options()
def show(checkpoints: tuple[str, ...], print_stats: bool, no_hash: bool, fmt: str, no_color: bool) -> None:
    """Show what was checkpointed: container, image, engine, network, sizes; for a Kubernetes
    checkpoint also the pod, its namespace and UID and the sandbox.

    \b
    Examples:
      checkforensics show checkpoint.tar --print-stats
      checkforensics show /var/lib/kubelet/checkpoints/*.tar --format json
    """
    views: list[Overview] = []
    documents = []
    for path in checkpoints:
        with CheckpointModel.open(path) as model:
            view = overview(model)
            views.append(view)
            if fmt == JSON:
                digest = None if no_hash else model.archive.sha256()
                documents.append(overview_record(view, sha256=digest, with_stats=print_stats))
    if fmt == JSON:
        print_json(documents)
        return
    columns = ["CONTAINER", "IMAGE", "ID", "RUNTIME", "CREATED", "CHECKPOINTED", "ENGINE", "IP", "MAC",
               "CHKPT SIZE", "ROOT FS DIFF SIZE"]
    rows = [overview_row(view) for view in views]
    if any(in_a_pod(view) for view in views):
        columns += POD_COLUMNS
        rows = [[*row, *pod_row(view)] for row, view in zip(rows, views, strict=True)]
    if any(view.container.engine is None for view in views):
        columns += ["HOSTNAME", "PROCESSES"]
        rows = [[*row, view.hostname, view.process_count] for row, view in zip(rows, views, strict=True)]
    print_table(Table(columns, rows), fmt, no_color=no_color)
    if print_stats:
        click.echo()
        stats = Table([name for name, _, _ in STATS_COLUMNS], [stats_row(view) for view in views],
                      title="CRIU dump statistics")
        print_table(stats, fmt, no_color=no_color)
    for view in views:
        emit_warnings(view.warnings, view.checkpoint.path.name)
