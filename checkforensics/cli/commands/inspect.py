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

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import click

from checkforensics.analysis.overview import INTERFACE, OVERVIEW, STATS_COLUMNS, Overview, overview
from checkforensics.analysis.processes import PROCESS, command_text, state_note
from checkforensics.cli.declare import declared
from checkforensics.cli.options import TREE_ALIAS, checkpoint_argument, output_options, pid_option
from checkforensics.model import CheckpointModel, Process, Reads
from checkforensics.model.descriptions import descriptor_record, what
from checkforensics.model.files import SOCKET_TYPES, Descriptor, FileTable, ProcessFiles
from checkforensics.model.mounts import KernelMount, SpecMount
from checkforensics.model.tree import DEPTH_LIMIT
from checkforensics.render import JSON, JSONL, Result, Table, Tree, View, cell, human_size, render, tree_text


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


@dataclass
class Parts:
    """Which parts to show."""

    metadata: bool
    mounts: bool
    stats: bool
    processes: ProcessView


@dataclass
class Inspection:
    """What was found in one checkpoint, for the parts asked; ``model`` is open while it is
    being written (JSON reads the hash and the command lines from it only then)."""

    model: CheckpointModel
    parts: Parts
    summary: Overview
    spec: list[SpecMount] = field(default_factory=list)
    kernel: list[KernelMount] = field(default_factory=list)
    files: FileTable | None = None
    warnings: list[str] = field(default_factory=list)
    _files_by_pid: dict[int, ProcessFiles] | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.model.path.name

    def placed(self) -> list[tuple[Process, int]]:
        """The processes shown, each with its depth in the tree."""
        return list(self.model.tree.walk(self.parts.processes.pids or None))

    def descriptors(self, process: Process, sockets: bool) -> list[Descriptor] | None:
        """The process's files or sockets; None when --files/--sockets were not asked for, or
        the process has no descriptor table (a zombie)."""
        if self.files is None:
            return None
        if self._files_by_pid is None:  # asked for every process: indexed once
            self._files_by_pid = {p.pid: p for p in self.files.processes}
        entry = self._files_by_pid.get(process.pid)
        return [d for d in entry.descriptors if (d.type in SOCKET_TYPES) == sockets] if entry else None

    def settle(self, command_lines: bool) -> None:
        """Read what the output needs from memory (``command_lines``: for every process, as
        JSON gives them; otherwise only when asked for), and take in the process warnings."""
        view = self.parts.processes
        if view.wanted:
            if command_lines or view.cmd or view.env:
                self.model.command_lines(env=view.env)
            self.warnings += self.model.tree.warnings


def _inspect(model: CheckpointModel, parts: Parts) -> Inspection:
    found = Inspection(model, parts, overview(model))
    found.warnings = found.summary.warnings  # the same list: metadata's warnings in JSON hold them all
    view = parts.processes
    if parts.mounts:
        mounts = model.mounts
        found.spec, found.kernel = mounts.spec, mounts.kernel
        found.warnings += mounts.warnings
    if view.wanted:
        model.processes(view.pids)  # an unknown --pid is an error, as in every command
        if view.files or view.sockets:
            found.files = model.files()
            found.warnings += found.files.warnings
    return found


def _metadata_rows(view: Overview) -> list[tuple[str, Any]]:
    info = view.container
    return [
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
        *([("AMD GPU memory pages size", human_size(view.amdgpu_pages_size))] if view.amdgpu_pages else []),
        ("Root FS diff size", human_size(view.rootfs_diff_size)),
    ]


def _metadata_maps(view: Overview) -> list[tuple[str, dict[str, str]]]:
    """The key-value parts of the metadata that hold anything: the CRI's labels and annotations,
    the OCI spec's annotations."""
    info = view.container
    maps = [("Labels (CRI)", info.labels), ("Annotations (CRI)", info.cri_annotations)]
    return [(title, values) for title, values in [*maps, ("Annotations", info.annotations)] if values]


def _stats_rows(stats: dict[str, int]) -> list[tuple[str, str]]:
    shown = {key for _, key, _ in STATS_COLUMNS}
    rows = []
    for label, key, unit in STATS_COLUMNS:
        value = stats.get(key)
        rows.append((label.capitalize(), f"{cell(value)}{' ' + unit if unit and value is not None else ''}"))
    return rows + [(key, str(value)) for key, value in stats.items() if key not in shown]


def _identity_rows(process: Process) -> list[tuple[str, Any]]:
    """Credentials, capabilities, seccomp; the cgroup paths once each."""
    identity = process.identity.items()
    return [(key, sorted(set(value.values())) if key == "cgroups" else value) for key, value in identity]


def _process_label(process: Process, view: ProcessView) -> str:
    """What names a process in the tree: its command line when asked for, else its comm."""
    return cell(command_text(process)) if view.cmd or view.env else cell(process.comm)


def _buffers_text(d: Descriptor) -> str:
    """A socket's buffer sizes, after what it is in the tree."""
    sizes = [f"{name} {human_size(d.details[key])}" for name, key in (("send", "send_buffer"),
             ("receive", "recv_buffer")) if key in d.details]  # fmt: skip
    return f"  [dim](buffers: {', '.join(sizes)})[/]" if sizes else ""


# --- text: one tree per checkpoint -------------------------------------------------------------


def _tree(found: Inspection) -> Tree:
    found.settle(command_lines=False)
    model = found.model
    tree = Tree(f"[bold]{tree_text(model.path.name)}[/] ({model.kind})")
    if found.parts.metadata:
        branch = tree.add("[bold]Metadata[/]")
        for label, value in _metadata_rows(found.summary):
            branch.add(f"{label}: {tree_text(cell(value))}")
        _interfaces_tree(branch, found.summary)
        for title, values in _metadata_maps(found.summary):
            notes = branch.add(title)
            for key, value in sorted(values.items()):
                notes.add(tree_text(f"{key}: {value}"))
    if found.parts.mounts:
        _mounts_tree(tree, found.spec, found.kernel)
    if found.parts.stats:
        branch = tree.add("[bold]CRIU dump statistics[/]")
        if not found.summary.stats:
            branch.add("- (no stats-dump)")
        for label, value in _stats_rows(found.summary.stats) if found.summary.stats else []:
            branch.add(tree_text(f"{label}: {value}"))
    if found.parts.processes.wanted:
        _process_tree(tree, found)
    return tree


def _interfaces_tree(parent: Tree, view: Overview) -> None:
    if not view.container.interfaces:
        return
    branch = parent.add("Network interfaces")
    for iface in view.container.interfaces:
        node = branch.add(tree_text(f"{cell(iface.network)} ({cell(iface.name)})"))
        node.add(tree_text(f"IP: {cell(list(iface.addresses))}"))
        node.add(tree_text(f"Gateway: {cell(list(iface.gateways))}"))
        node.add(tree_text(f"MAC: {cell(iface.mac)}"))


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


def _process_tree(parent: Tree, found: Inspection) -> None:
    view = found.parts.processes
    parents = [parent.add("[bold]Process tree[/]")]
    for process, depth in found.placed():
        label = f"[bold]\\[{process.pid}][/]  {tree_text(_process_label(process, view))}"
        note = state_note(process)
        if note:
            label += f"  [{'red' if process.zombie else 'yellow'}]({note})[/]"
        if depth == DEPTH_LIMIT:  # a tree deeper than that is drawn flat there: say whose child it is
            label += f"  [dim]parent {process.ppid}[/]"
        if not process.dumped:
            label += "  [dim](not dumped: no core image)[/]"
        node = parents[depth].add(label)
        del parents[depth + 1 :]
        parents.append(node)
        if not process.dumped:  # nothing more is known of it
            continue
        if view.identity and process.identity:
            ident = node.add("Identity")
            for key, value in _identity_rows(process):
                ident.add(tree_text(f"{key}: {cell(value)}"))
        if view.env:
            env = node.add("Environment variables")
            for variable in process.env or ["-"]:
                env.add(tree_text(variable))
        files = found.descriptors(process, sockets=False) if view.files else None
        if files is not None:
            opened = node.add("Open files")
            for d in files:
                text = tree_text(f"[{d.type} {d.fd}]  {what(d)}")
                opened.add(f"[red]{text}[/]" if d.deleted else text)
        sockets = found.descriptors(process, sockets=True) if view.sockets else None
        if sockets:
            socks = node.add("Open sockets")
            for d in sockets:
                text = tree_text(f"[{d.type} {d.fd}]  {what(d)}")
                label = f"[green]{text}[/]" if d.state == "LISTEN" else text
                socks.add(label + _buffers_text(d))


# --- table: each part a table -------------------------------------------------------------------


def _tables(found: Inspection) -> list[Table]:
    found.settle(command_lines=False)
    model = found.model
    where = f"{model.path.name} ({model.kind})"
    tables = []
    if found.parts.metadata:
        tables.append(Table(["KEY", "VALUE"], _metadata_rows(found.summary), title=f"{where}: Metadata"))
        if found.summary.container.interfaces:
            rows = [INTERFACE.row(iface) for iface in found.summary.container.interfaces]
            tables.append(Table(INTERFACE.headers, rows, title=f"{where}: Network interfaces"))
        for title, values in _metadata_maps(found.summary):
            tables.append(Table(["KEY", "VALUE"], sorted(values.items()), title=f"{where}: {title}"))
    if found.parts.mounts:
        rows = [[m.destination, m.type, m.source, list(m.options)] for m in found.spec]
        tables.append(Table(["DESTINATION", "TYPE", "SOURCE", "OPTIONS"], rows, title=f"{where}: Mounts (spec.dump)"))
        if found.kernel:
            rows = [[m.mountpoint, m.fstype, m.source, m.root, m.options, m.external] for m in found.kernel]
            columns = ["MOUNTPOINT", "TYPE", "SOURCE", "ROOT", "OPTIONS", "EXTERNAL"]
            tables.append(Table(columns, rows, title=f"{where}: Mounts at checkpoint time (CRIU mountpoints)"))
    if found.parts.stats:
        rows = _stats_rows(found.summary.stats) if found.summary.stats else [("-", "no stats-dump")]
        tables.append(Table(["KEY", "VALUE"], rows, title=f"{where}: CRIU dump statistics"))
    if found.parts.processes.wanted:
        tables += _process_tables(found, where)
    return tables


def _process_tables(found: Inspection, where: str) -> list[Table]:
    view = found.parts.processes
    placed = found.placed()
    processes = [process for process, _ in placed]
    named = "COMMAND" if view.cmd or view.env else "COMM"
    rows = [[p.pid, p.ppid, p.state, "  " * depth + _process_label(p, view)] for p, depth in placed]
    tables = [Table(["PID", "PPID", "STATE", named], rows, title=f"{where}: Process tree")]
    parts: list[tuple[bool, str, list[str], list[list[Any]]]] = [
        (view.identity, "Identity", ["PID", "KEY", "VALUE"],
         [[p.pid, key, value] for p in processes for key, value in _identity_rows(p)]),
        (view.env, "Environment variables", ["PID", "VARIABLE"],
         [[p.pid, variable] for p in processes for variable in p.env or [None]]),
        (view.files, "Open files", ["PID", "FD", "TYPE", "WHAT"],
         [[p.pid, d.fd, d.type, what(d)] for p in processes for d in found.descriptors(p, sockets=False) or []]),
        (view.sockets, "Open sockets", ["PID", "FD", "TYPE", "WHAT", "RCVBUF", "SNDBUF"],
         [[p.pid, d.fd, d.type, what(d), human_size(d.details.get("recv_buffer")),
           human_size(d.details.get("send_buffer"))]
          for p in processes for d in found.descriptors(p, sockets=True) or []]),
    ]  # fmt: skip
    tables += [Table(columns, rows, title=f"{where}: {title}") for wanted, title, columns, rows in parts if wanted]
    return tables


# --- json: one document per checkpoint ----------------------------------------------------------


def _document(found: Inspection) -> dict[str, Any]:
    found.settle(command_lines=True)  # every process record has its command line
    model, parts = found.model, found.parts
    document: dict[str, Any] = {"archive": str(model.path)}
    if parts.metadata:
        found.summary.sha256 = model.sha256()
        document["metadata"] = OVERVIEW.json(found.summary)
        document["metadata"]["annotations"] = found.summary.container.annotations
    if parts.mounts:
        document["mounts"] = _mounts_json(found.spec, found.kernel)
    if parts.stats:
        document["stats"] = found.summary.stats
    if parts.processes.wanted:
        document["processes"] = _processes_json(found)
    document["warnings"] = found.warnings
    return document


def _processes_json(found: Inspection) -> list[dict[str, Any]]:
    view = found.parts.processes
    documents = []
    for process in found.model.tree.processes:
        if view.pids and process.pid not in view.pids:
            continue
        document = PROCESS.json(process, {"env"} if view.env else ())
        files = found.descriptors(process, sockets=False)
        if files is not None and view.files:
            document["fds"] = [descriptor_record(d, False) for d in files]
        sockets = found.descriptors(process, sockets=True)
        if sockets is not None and view.sockets:
            document["sockets"] = [descriptor_record(d, False) for d in sockets]
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


def _view(found: Inspection) -> View:
    return View(text=lambda: _tree(found), table=lambda: _tables(found))


@click.command(name="inspect", help=__doc__)
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
@output_options(aliases=TREE_ALIAS)
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
    process_view = ProcessView(ps_tree, ps_tree_cmd, ps_tree_env, with_files, with_sockets, frozenset(pids))
    if everything:
        metadata = mounts = stats = True
        process_view = ProcessView(True, True, True, True, True, frozenset(pids), identity=True)
    if not (metadata or mounts or stats or process_view.wanted):
        metadata = True
    parts = Parts(metadata, mounts, stats, process_view)
    warnings: list[str] = []

    def inspections() -> Iterator[Inspection]:
        """Each checkpoint in turn, written while its model is open."""
        for path in checkpoints:
            view = parts.processes  # command lines come from memory (JSON has them in every record)
            reads_memory = view.cmd or view.env or (view.wanted and fmt in (JSON, JSONL))
            reads = Reads.MEMORY if reads_memory else Reads.NOTHING
            reads |= Reads.SHA256 if parts.metadata and fmt in (JSON, JSONL) else Reads.NOTHING  # in its metadata
            with CheckpointModel.open(path, reads=reads) as model:
                found = _inspect(model, parts)
                yield found
                warnings.extend(f"{found.name}: {warning}" for warning in found.warnings)

    result = Result(
        json=lambda: [_document(found) for found in inspections()],  # whole: a failure leaves no half document
        jsonl=lambda: (_document(found) for found in inspections()),
        text=lambda: (_view(found) for found in inspections()),
        warnings=warnings,
    )
    render(result, fmt, no_color=no_color)


declared(inspect, reads=(), takes="checkpoint", samples=[("--all",)])
