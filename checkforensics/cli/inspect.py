"""``checkforensics inspect``: a checkpoint as a tree, part by part."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.tree import Tree

from checkforensics.analysis.mounts import KernelMount, SpecMount, kernel_mounts, spec_mounts
from checkforensics.analysis.overview import SPEC_DUMP, Overview, overview, read_json_member
from checkforensics.archive import Checkpoint
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.cli.show import STATS_COLUMNS, overview_json
from checkforensics.render import JSON, TREE, cell, human_size, print_json, print_tree


def _metadata_tree(parent: Tree, view: Overview) -> None:
    info = view.container
    branch = parent.add("[bold]Metadata[/]")
    rows = [
        ("Container", info.name),
        ("Image", info.image),
        ("ID", info.id),
        ("Runtime", info.runtime),
        ("Engine", info.engine),
        ("Created", info.created),
        ("Checkpointed", info.checkpointed),
        ("Pod", info.pod),
        ("Namespace", info.namespace),
        ("Hostname (spec)", info.hostname),
        ("Hostname (UTS namespace)", view.hostname),
        ("IP", info.ips),
        ("MAC", info.macs),
        ("Processes", view.process_count),
        ("Checkpoint size", human_size(view.checkpoint_size)),
        ("Memory pages size", human_size(view.memory_size)),
        ("Root FS diff size", human_size(view.rootfs_diff_size)),
    ]
    for label, value in rows:
        branch.add(f"{label}: {escape(cell(value))}")
    if info.annotations:
        notes = branch.add("Annotations")
        for key, value in sorted(info.annotations.items()):
            notes.add(escape(f"{key}: {value}"))


def _mounts_tree(parent: Tree, spec: list[SpecMount], kernel: list[KernelMount]) -> None:
    branch = parent.add("[bold]Mounts[/] (spec.dump)")
    for mount in spec:
        node = branch.add(escape(cell(mount.destination)))
        node.add(escape(f"type: {cell(mount.type)}"))
        node.add(escape(f"source: {cell(mount.source)}"))
        node.add(escape(f"options: {cell(list(mount.options))}"))
    if kernel:
        branch = parent.add("[bold]Mounts at checkpoint time[/] (CRIU mountpoints)")
        for km in kernel:
            label = escape(km.mountpoint) + (" [yellow](external bind mount)[/]" if km.external else "")
            node = branch.add(label)
            node.add(escape(f"type: {km.fstype}"))
            node.add(escape(f"source: {km.source or '-'}"))
            node.add(escape(f"root: {km.root}"))
            node.add(escape(f"options: {km.options or '-'}"))


def _stats_tree(parent: Tree, stats: dict[str, int] | None) -> None:
    branch = parent.add("[bold]CRIU dump statistics[/]")
    if not stats:
        branch.add("- (no stats-dump)")
        return
    shown = {key for _, key, _ in STATS_COLUMNS}
    for label, key, unit in STATS_COLUMNS:
        value = stats.get(key)
        branch.add(f"{label.capitalize()}: {cell(value)}{' ' + unit if unit and value is not None else ''}")
    for key, value in stats.items():
        if key not in shown:
            branch.add(escape(f"{key}: {value}"))


def _mounts_json(spec: list[SpecMount], kernel: list[KernelMount]) -> dict[str, Any]:
    return {
        "spec": [
            {"destination": m.destination, "type": m.type, "source": m.source, "options": list(m.options)} for m in spec
        ],
        "checkpoint": [
            {
                "mnt_id": m.mnt_id,
                "parent_mnt_id": m.parent_mnt_id,
                "mountpoint": m.mountpoint,
                "type": m.fstype,
                "source": m.source,
                "root": m.root,
                "options": m.options,
                "external": m.external,
            }
            for m in kernel
        ],
    }


@click.command()
@checkpoint_argument(multiple=True)
@click.option("--metadata", is_flag=True, help="Container metadata and annotations.")
@click.option("--mounts", is_flag=True, help="Mounts from spec.dump and from CRIU's mountpoints image.")
@click.option("--stats", is_flag=True, help="CRIU dump statistics.")
@click.option("--all", "everything", is_flag=True, help="Every part.")
@output_options(formats=(TREE, JSON), default=TREE)
def inspect(
    checkpoints: tuple[str, ...], metadata: bool, mounts: bool, stats: bool, everything: bool, fmt: str, no_color: bool
) -> None:
    """Inspect checkpoints in depth, as a tree (metadata, mounts, dump statistics).

    With no part named, the metadata is shown.

    \b
    Examples:
      checkforensics inspect checkpoint.tar --metadata --mounts
      checkforensics inspect checkpoint.tar.zst --all --format json
    """
    if everything:
        metadata = mounts = stats = True
    if not (metadata or mounts or stats):
        metadata = True
    documents = []
    for path in checkpoints:
        with Checkpoint.open(path) as checkpoint:
            view = overview(checkpoint)
            warnings = view.warnings
            spec = spec_mounts(read_json_member(checkpoint, SPEC_DUMP, warnings)) if mounts else []
            kernel = kernel_mounts(checkpoint, warnings) if mounts else []
            if fmt == JSON:
                document: dict[str, Any] = {"archive": str(checkpoint.path)}
                if metadata:
                    document["metadata"] = overview_json(view, sha256=checkpoint.sha256(), with_stats=False)
                    document["metadata"]["annotations"] = view.container.annotations
                if mounts:
                    document["mounts"] = _mounts_json(spec, kernel)
                if stats:
                    document["stats"] = view.stats
                document["warnings"] = warnings
                documents.append(document)
                continue
            tree = Tree(f"[bold]{escape(checkpoint.path.name)}[/] ({checkpoint.kind})")
            if metadata:
                _metadata_tree(tree, view)
            if mounts:
                _mounts_tree(tree, spec, kernel)
            if stats:
                _stats_tree(tree, view.stats)
            print_tree(tree, no_color=no_color)
            for warning in warnings:
                click.echo(f"checkforensics: warning: {checkpoint.path.name}: {warning}", err=True)
    if fmt == JSON:
        print_json(documents)
