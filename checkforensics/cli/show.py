"""``checkforensics show``: the overview of one or more checkpoints."""

from __future__ import annotations

import re
from typing import Any

import click

from checkforensics.analysis.overview import Overview, overview
from checkforensics.archive import Checkpoint
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.render import JSON, Table, human_size, print_json, print_table

_FRACTION = re.compile(r"(T\d\d:\d\d:\d\d)\.\d+")

STATS_COLUMNS = (
    ("FREEZING TIME", "freezing_time", "us"),
    ("FROZEN TIME", "frozen_time", "us"),
    ("MEMDUMP TIME", "memdump_time", "us"),
    ("MEMWRITE TIME", "memwrite_time", "us"),
    ("PAGES SCANNED", "pages_scanned", ""),
    ("PAGES WRITTEN", "pages_written", ""),
)


def short_time(value: str | None) -> str | None:
    """An RFC 3339 time without its fraction of a second, for tables."""
    return _FRACTION.sub(r"\1", value) if value else value


def overview_json(view: Overview, *, sha256: str | None, with_stats: bool) -> dict[str, Any]:
    info = view.container
    document: dict[str, Any] = {
        "archive": str(view.checkpoint.path),
        "kind": view.checkpoint.kind,
        "sha256": sha256,
        "engine": info.engine,
        "container": {
            "name": info.name,
            "image": info.image,
            "image_id": info.image_id,
            "id": info.id,
            "runtime": info.runtime,
            "created": info.created,
            "checkpointed": info.checkpointed,
            "pod": info.pod,
            "namespace": info.namespace,
            "hostname": info.hostname,
            "ip": info.ips[0] if info.ips else None,
            "mac": info.macs[0] if info.macs else None,
            "interfaces": [
                {
                    "network": iface.network,
                    "name": iface.name,
                    "addresses": list(iface.addresses),
                    "gateways": list(iface.gateways),
                    "mac": iface.mac,
                }
                for iface in info.interfaces
            ],
        },
        "hostname": view.hostname,
        "processes": view.process_count,
        "archive_size": view.archive_size,
        "checkpoint_size": view.checkpoint_size,
        "memory_size": view.memory_size,
        "rootfs_diff_size": view.rootfs_diff_size,
        "warnings": view.warnings,
    }
    if with_stats:
        document["stats"] = view.stats
    return document


def overview_row(view: Overview) -> list[Any]:
    info = view.container
    return [
        info.name,
        info.image,
        info.id[:12] if info.id else None,
        info.runtime,
        short_time(info.created),
        short_time(info.checkpointed),
        info.engine,
        info.ips,
        info.macs,
        human_size(view.checkpoint_size),
        human_size(view.rootfs_diff_size),
    ]


def stats_row(view: Overview) -> list[Any]:
    stats = view.stats or {}
    return [
        None if stats.get(key) is None else f"{stats[key]} {unit}".rstrip() for _, key, unit in STATS_COLUMNS
    ]


@click.command()
@checkpoint_argument(multiple=True)
@click.option("--print-stats", is_flag=True, help="Add CRIU's dump statistics (stats-dump).")
@click.option("--no-hash", is_flag=True, help="Leave out the archive's SHA-256 in JSON (saves reading it whole).")
@output_options()
def show(checkpoints: tuple[str, ...], print_stats: bool, no_hash: bool, fmt: str, no_color: bool) -> None:
    """Show what was checkpointed: container, image, engine, network, sizes.

    \b
    Examples:
      checkforensics show checkpoint.tar --print-stats
      checkforensics show /var/lib/kubelet/checkpoints/*.tar --format json
    """
    views: list[Overview] = []
    documents = []
    for path in checkpoints:
        with Checkpoint.open(path) as checkpoint:
            view = overview(checkpoint)
            views.append(view)
            if fmt == JSON:
                digest = None if no_hash else checkpoint.sha256()
                documents.append(overview_json(view, sha256=digest, with_stats=print_stats))
    if fmt == JSON:
        print_json(documents)
        return
    columns = ["CONTAINER", "IMAGE", "ID", "RUNTIME", "CREATED", "CHECKPOINTED", "ENGINE", "IP", "MAC",
               "CHKPT SIZE", "ROOT FS DIFF SIZE"]
    rows = [overview_row(view) for view in views]
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
        for warning in view.warnings:
            click.echo(f"checkforensics: warning: {view.checkpoint.path.name}: {warning}", err=True)
