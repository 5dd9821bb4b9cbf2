"""``checkforensics inspect``: a checkpoint as a tree, part by part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from rich.tree import Tree

from checkforensics.analysis.mounts import KernelMount, SpecMount, kernel_mounts, spec_mounts
from checkforensics.analysis.overview import SPEC_DUMP, Overview, overview
from checkforensics.cli.options import checkpoint_argument, emit_warnings, output_options, pid_option
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.descriptions import what
from checkforensics.model.files import SOCKET_TYPES, FileTable
from checkforensics.records import STATS_COLUMNS, command_text, descriptor_record, overview_record, process_record
from checkforensics.render import JSON, TREE, cell, human_size, print_json, print_tree, tree_text


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
        ("Pod UID", info.pod_uid),
        ("Sandbox", info.sandbox_id),
        ("Started", info.started),
        ("Host PID", info.host_pid),
        ("Log path", info.log_path),
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
        branch.add(f"{label}: {tree_text(cell(value))}")
    for title, values in (
        ("Labels (CRI)", info.labels),
        ("Annotations (CRI)", info.cri_annotations),
        ("Annotations", info.annotations),
    ):
        if values:
            notes = branch.add(title)
            for key, value in sorted(values.items()):
                notes.add(tree_text(f"{key}: {value}"))


def _mounts_tree(parent: Tree, spec: list[SpecMount], kernel: list[KernelMount]) -> None:
    branch = parent.add("[bold]Mounts[/] (spec.dump)")
    for mount in spec:
        node = branch.add(tree_text(cell(mount.destination)))
        node.add(tree_text(f"type: {cell(mount.type)}"))
        node.add(tree_text(f"source: {cell(mount.source)}"))
        node.add(tree_text(f"options: {cell(list(mount.options))}"))
    if kernel:
        branch = parent.add("[bold]Mounts at checkpoint time[/] (CRIU mountpoints)")
        for km in kernel:
            label = tree_text(km.mountpoint) + (" [yellow](external bind mount)[/]" if km.external else "")
            node = branch.add(label)
            node.add(tree_text(f"type: {km.fstype}"))
            node.add(tree_text(f"source: {km.source or '-'}"))
            node.add(tree_text(f"root: {km.root}"))
            node.add(tree_text(f"options: {km.options or '-'}"))


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
            branch.add(tree_text(f"{key}: {value}"))


@dataclass
class ProcessView:
    """Which process parts to show."""

    tree: bool = False
    cmd: bool = False
    env: bool = False
    files: bool = False
    sockets: bool = False
    pids: frozenset[int] = frozenset()
    identity: bool = False

    @property
    def wanted(self) -> bool:
        return self.tree or self.cmd or self.env or self.files or self.sockets


def _process_label(process: Process, view: ProcessView) -> str:
    label = f"[bold]\\[{process.pid}][/]  {tree_text(cell(process.comm))}"
    if view.cmd or view.env:
        label = f"[bold]\\[{process.pid}][/]  {tree_text(cell(command_text(process)))}"
    return label


def _process_tree(parent: Tree, tree: ProcessTree, table: FileTable | None, view: ProcessView) -> None:
    files_by_pid = {p.pid: p for p in table.processes} if table is not None else {}
    branch = parent.add("[bold]Process tree[/]")

    def add(node: Tree, process: Process, seen: set[int]) -> None:
        if process.pid in seen:
            return
        seen.add(process.pid)
        if view.pids and process.pid not in view.pids:
            for child in process.children:
                add(node, child, seen)
            return
        child_node = node.add(_process_label(process, view))
        if view.identity and process.identity:
            ident = child_node.add("Identity")
            for key, value in process.identity.items():
                if key == "cgroups":
                    value = sorted(set(value.values()))
                ident.add(tree_text(f"{key}: {cell(value)}"))
        if view.env:
            env = child_node.add("Environment variables")
            for variable in process.env or ["-"]:
                env.add(tree_text(variable))
        entry = files_by_pid.get(process.pid)
        if entry is not None and view.files:
            opened = child_node.add("Open files")
            for d in entry.descriptors:
                if d.type not in SOCKET_TYPES:
                    style = "red" if d.deleted else ""
                    text = tree_text(f"[{d.type} {d.fd}]  {what(d)}")
                    opened.add(f"[{style}]{text}[/]" if style else text)
        if entry is not None and view.sockets and any(d.type in SOCKET_TYPES for d in entry.descriptors):
            socks = child_node.add("Open sockets")
            for d in entry.descriptors:
                if d.type in SOCKET_TYPES:
                    text = tree_text(f"[{d.type} {d.fd}]  {what(d)}")
                    socks.add(f"[green]{text}[/]" if d.state == "LISTEN" else text)
        for child in process.children:
            add(child_node, child, seen)

    seen: set[int] = set()
    for root in tree.roots():
        add(branch, root, seen)


def _processes_json(tree: ProcessTree, table: FileTable | None, view: ProcessView) -> list[dict[str, Any]]:
    files_by_pid = {p.pid: p for p in table.processes} if table is not None else {}
    documents = []
    for process in tree.processes:
        if view.pids and process.pid not in view.pids:
            continue
        document = process_record(process, view.env)
        entry = files_by_pid.get(process.pid)
        if entry is not None and view.files:
            document["fds"] = [descriptor_record(d, False) for d in entry.descriptors if d.type not in SOCKET_TYPES]
        if entry is not None and view.sockets:
            document["sockets"] = [descriptor_record(d, False) for d in entry.descriptors if d.type in SOCKET_TYPES]
        documents.append(document)
    return documents


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
@click.option("--ps-tree", is_flag=True, help="The process tree.")
@click.option("--ps-tree-cmd", is_flag=True, help="The process tree with command lines (read from memory).")
@click.option("--ps-tree-env", is_flag=True, help="The process tree with environments (read from memory).")
@click.option("--files", "with_files", is_flag=True, help="Open files of each process.")
@click.option("--sockets", "with_sockets", is_flag=True, help="Open sockets of each process.")
@pid_option("Only this process in the process parts (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Every part.")
@output_options(formats=(TREE, JSON), default=TREE)
def inspect(
    checkpoints: tuple[str, ...],
    metadata: bool,
    mounts: bool,
    stats: bool,
    ps_tree: bool,
    ps_tree_cmd: bool,
    ps_tree_env: bool,
    with_files: bool,
    with_sockets: bool,
    pids: tuple[int, ...],
    everything: bool,
    fmt: str,
    no_color: bool,
) -> None:
    """Inspect checkpoints in depth, as a tree: metadata, mounts, statistics, processes, files.

    With no part named, the metadata is shown. The process parts read command lines and
    environments from the dumped memory.

    \b
    Examples:
      checkforensics inspect checkpoint.tar --metadata --mounts
      checkforensics inspect checkpoint.tar --ps-tree-cmd --files --sockets
      checkforensics inspect checkpoint.tar.zst --all --format json
    """
    process_view = ProcessView(ps_tree, ps_tree_cmd, ps_tree_env, with_files, with_sockets, frozenset(pids))
    if everything:
        metadata = mounts = stats = True
        process_view = ProcessView(True, True, True, True, True, frozenset(pids), identity=True)
    if not (metadata or mounts or stats or process_view.wanted):
        metadata = True
    documents = []
    for path in checkpoints:
        with CheckpointModel.open(path) as model:
            checkpoint = model.archive
            summary = overview(model)
            warnings = summary.warnings
            spec = spec_mounts(model.store.json_member(SPEC_DUMP, warnings)) if mounts else []
            kernel = kernel_mounts(model, warnings) if mounts else []
            process_tree = table = None
            if process_view.wanted:
                model.processes(pids)  # an unknown --pid is an error, as in every command
                process_tree = model.tree
                if process_view.cmd or process_view.env or fmt == JSON:
                    model.command_lines(env=process_view.env)
                if process_view.files or process_view.sockets:
                    table = model.files()
                    warnings += table.warnings
                warnings += process_tree.warnings
            if fmt == JSON:
                document: dict[str, Any] = {"archive": str(checkpoint.path)}
                if metadata:
                    document["metadata"] = overview_record(summary, sha256=checkpoint.sha256(), with_stats=False)
                    document["metadata"]["annotations"] = summary.container.annotations
                if mounts:
                    document["mounts"] = _mounts_json(spec, kernel)
                if stats:
                    document["stats"] = summary.stats
                if process_tree is not None:
                    document["processes"] = _processes_json(process_tree, table, process_view)
                document["warnings"] = warnings
                documents.append(document)
                continue
            tree = Tree(f"[bold]{tree_text(checkpoint.path.name)}[/] ({checkpoint.kind})")
            if metadata:
                _metadata_tree(tree, summary)
            if mounts:
                _mounts_tree(tree, spec, kernel)
            if stats:
                _stats_tree(tree, summary.stats)
            if process_tree is not None:
                _process_tree(tree, process_tree, table, process_view)
            print_tree(tree, no_color=no_color)
            emit_warnings(warnings, checkpoint.path.name)
    if fmt == JSON:
        print_json(documents)
