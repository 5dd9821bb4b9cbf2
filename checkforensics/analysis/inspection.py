"""A checkpoint in depth, part by part (``inspect``): its metadata, its mounts, CRIU's dump
statistics and its processes with their files and sockets; and the record of each part.

Everything an output shows is read here, once, while the checkpoint is open: a command reading
several checkpoints writes each inspection after its model is closed. The tree and tables of the
text formats come last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkforensics.analysis.overview import DUMP_STATS, INTERFACE, STATS_COLUMNS, Overview, checkpointed_text, overview
from checkforensics.analysis.processes import PROCESS, command_text, state_note
from checkforensics.model import CheckpointModel, Process
from checkforensics.model.descriptions import DESCRIPTOR, what
from checkforensics.model.files import SOCKET_TYPES, Descriptor, FileTable, ProcessFiles
from checkforensics.model.mounts import KernelMount, SpecMount
from checkforensics.model.tree import DEPTH_LIMIT
from checkforensics.records.declare import Answer, Field, RecordType, Section
from checkforensics.records.values import FLAG, INTEGER, LIST, OBJECT, TEXT
from checkforensics.render import Table, Tree, cell, human_size, tree_text
from checkforensics.render.console import JSON, JSONL


@dataclass(frozen=True)
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

    @property
    def named(self) -> bool:
        """Whether processes are named by their command lines (else by their comm)."""
        return self.cmd or self.env


@dataclass(frozen=True)
class Parts:
    """Which parts to show."""

    metadata: bool
    mounts: bool
    stats: bool
    processes: ProcessView

    @classmethod
    def asked(cls, metadata: bool, mounts: bool, stats: bool, processes: ProcessView, everything: bool) -> Parts:
        """The parts the options name: every one with ``everything``, the metadata when none."""
        if everything:
            return cls(True, True, True, ProcessView(True, True, True, True, True, processes.pids, identity=True))
        return cls(metadata or not (mounts or stats or processes.wanted), mounts, stats, processes)

    @property
    def names(self) -> frozenset[str]:
        """The optional fields of ``INSPECTION`` these parts fill."""
        asked = {"metadata": self.metadata, "mounts": self.mounts, "stats": self.stats,
                 "processes": self.processes.wanted}  # fmt: skip
        return frozenset(name for name, wanted in asked.items() if wanted)

    def memory(self, fmt: str) -> bool:
        """Whether command lines are read: when a tree names processes by them, and for every
        process record of JSON."""
        view = self.processes
        return view.named or (view.wanted and fmt in (JSON, JSONL))


@dataclass
class InspectedProcess:
    """A process with the descriptors asked for (None: not asked, or it has no descriptor table)."""

    process: Process
    env: bool
    fds: list[Descriptor] | None = None
    sockets: list[Descriptor] | None = None


@dataclass
class Inspection:
    """What was found in one checkpoint, for the parts asked."""

    path: Path
    kind: str
    parts: Parts
    summary: Overview
    sha256: str | None = None
    spec: list[SpecMount] = field(default_factory=list)
    kernel: list[KernelMount] = field(default_factory=list)
    placed: list[tuple[InspectedProcess, int]] = field(default_factory=list)  # tree order, with depth
    processes: list[InspectedProcess] = field(default_factory=list)  # pstree order
    warnings: list[str] = field(default_factory=list)


def _descriptors(entry: ProcessFiles | None, sockets: bool) -> list[Descriptor] | None:
    """The process's files or sockets; None when it has no descriptor table (a zombie)."""
    return [d for d in entry.descriptors if (d.type in SOCKET_TYPES) == sockets] if entry else None


def _processes(model: CheckpointModel, found: Inspection, table: FileTable | None) -> None:
    view = found.parts.processes
    by_pid = {p.pid: p for p in table.processes} if table is not None else {}
    inspected = {}
    for process in model.tree.processes:
        files = _descriptors(by_pid.get(process.pid), sockets=False) if view.files else None
        sockets = _descriptors(by_pid.get(process.pid), sockets=True) if view.sockets else None
        inspected[process.pid] = InspectedProcess(process, view.env, files, sockets)
    found.processes = [inspected[p.pid] for p in model.tree.processes if not view.pids or p.pid in view.pids]
    found.placed = [(inspected[p.pid], depth) for p, depth in model.tree.walk(view.pids or None)]


def inspection(model: CheckpointModel, parts: Parts, fmt: str) -> Inspection:
    """The parts asked of ``model``, read now (command lines and the evidence hash only where
    ``fmt`` shows them)."""
    summary = overview(model)
    found = Inspection(model.path, model.kind, parts, summary)
    found.warnings = summary.warnings  # the same list: metadata's warnings in JSON hold them all
    view = parts.processes
    if parts.mounts:
        mounts = model.mounts
        found.spec, found.kernel = mounts.spec, mounts.kernel
        found.warnings += mounts.warnings
    if view.wanted:
        model.processes(view.pids)  # an unknown --pid is an error, as in every command
        table = model.files() if view.files or view.sockets else None
        found.warnings += table.warnings if table is not None else []
        if parts.memory(fmt):
            model.command_lines(env=view.env)
        found.warnings += model.tree.warnings
        model.executables()  # each process's program, for its record
        _processes(model, found, table)
    if parts.metadata and fmt in (JSON, JSONL):  # last: a directory hashes the members read, not again
        found.sha256 = model.sha256()
    return found


def inspect(model: CheckpointModel, parts: Parts, fmt: str) -> Answer:
    """The inspection of ``model`` as a record, with its tree (text) and tables (table)."""

    found = inspection(model, parts, fmt)
    return Answer(
        [Section(INSPECTION, [found], include=parts.names)],
        array=True,
        text=inspection_trees,
        table=inspection_tables,
        warnings=found.warnings,
    )


def _metadata(found: Inspection) -> dict[str, Any]:
    from checkforensics.analysis.overview import OVERVIEW

    record = OVERVIEW.json(dataclasses.replace(found.summary, sha256=found.sha256))
    return {**record, "annotations": found.summary.container.annotations}


def _descriptor_records(descriptors: list[Descriptor] | None) -> list[dict[str, Any]] | None:
    return None if descriptors is None else [DESCRIPTOR.json(d) for d in descriptors]


SPEC_MOUNT = RecordType(
    "spec_mount", "spec",
    (Field("destination", TEXT), Field("type", TEXT), Field("source", TEXT),
     Field("options", LIST, get=lambda m: list(m.options))),
    ("destination", "type", "source", "options"),
    "A mount the OCI spec (spec.dump) asked for.",
)  # fmt: skip
KERNEL_MOUNT = RecordType(
    "kernel_mount", "checkpoint",
    (Field("mnt_id", INTEGER), Field("parent_mnt_id", INTEGER), Field("mountpoint", TEXT),
     Field("type", TEXT, "the file system type", get=lambda m: m.fstype), Field("source", TEXT), Field("root", TEXT),
     Field("options", TEXT), Field("external", FLAG, "bind-mounted from outside the container")),
    ("mountpoint", "type", "source", "root", "options", "external"),
    "A mount at checkpoint time (CRIU's mountpoints image).",
)  # fmt: skip
MOUNTS = RecordType(
    "mounts", "mounts",
    (Field("spec", record=SPEC_MOUNT, get=lambda f: f.spec),
     Field("checkpoint", record=KERNEL_MOUNT, get=lambda f: f.kernel)),
    doc="The container's mounts, as the spec asked and as the kernel had them.",
)  # fmt: skip
INSPECTED_PROCESS = RecordType(
    "process", "processes",
    (Field("process", OBJECT, "the ps record (with env when asked)", spread=True,
           get=lambda i: PROCESS.json(i.process, {"env"} if i.env else ())),
     Field("fds", LIST, "the files record of each open file (--files)", sometimes=True,
           get=lambda i: _descriptor_records(i.fds)),
     Field("sockets", LIST, "the files record of each socket (--sockets)", sometimes=True,
           get=lambda i: _descriptor_records(i.sockets))),
    doc="A process with its files and sockets, as inspect lists it.",
)  # fmt: skip
INSPECTION = RecordType(
    "checkpoint", "checkpoints",
    (Field("archive", TEXT, get=lambda f: str(f.path)),
     Field("metadata", OBJECT, "the show record plus the OCI spec's annotations", optional=True, get=_metadata),
     Field("mounts", OBJECT, "spec and checkpoint: lists of mounts", optional=True, get=MOUNTS.json),
     Field("stats", OBJECT, "stats-dump's dump record", optional=True, get=lambda f: f.summary.stats),
     Field("processes", record=INSPECTED_PROCESS, optional=True),
     Field("warnings", LIST)),
    doc="One checkpoint inspected: the parts asked for.",
)  # fmt: skip


# --- how it reads to people (text and table forms)

def _metadata_rows(view: Overview) -> list[tuple[str, Any]]:
    info = view.container
    return [
        ("Container", info.name),
        ("Image", info.image),
        ("ID", info.id),
        ("Runtime", info.runtime),
        ("Engine", info.engine),
        ("Created", info.created),
        ("Checkpointed", checkpointed_text(view.checkpointed, whole=True)),
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
    """The dump statistics as ``show --print-stats`` shows them (``DUMP_STATS``: durations scaled),
    then CRIU's other counters by their names."""
    shown = {key for _, key, _ in STATS_COLUMNS}
    texts = DUMP_STATS.row(stats)
    rows = [(label.capitalize(), text) for (label, _, _), text in zip(STATS_COLUMNS, texts, strict=True)]
    return rows + [(key, str(value)) for key, value in stats.items() if key not in shown]


def _identity_rows(process: InspectedProcess) -> list[tuple[str, Any]]:
    """Credentials, capabilities, seccomp; the cgroup paths once each."""
    identity = process.process.identity.items()
    return [(key, sorted(set(value.values())) if key == "cgroups" else value) for key, value in identity]


def _process_label(inspected: InspectedProcess, view: ProcessView) -> str:
    """What names a process in the tree: its command line when asked for, else its comm."""
    process = inspected.process
    return cell(command_text(process)) if view.named else cell(process.comm)


def _buffers_text(d: Descriptor) -> str:
    """A socket's buffer sizes, after what it is in the tree."""
    sizes = [f"{name} {human_size(d.details[key])}" for name, key in (("send", "send_buffer"),
             ("receive", "recv_buffer")) if key in d.details]  # fmt: skip
    return f"  [dim](buffers: {', '.join(sizes)})[/]" if sizes else ""


# --- text: one tree per checkpoint -------------------------------------------------------------


def inspection_trees(inspections: Iterable[Inspection]) -> Iterator[Tree]:
    """A tree for each inspection, as it comes."""
    return (_tree(found) for found in inspections)


def _tree(found: Inspection) -> Tree:
    tree = Tree(f"[bold]{tree_text(found.path.name)}[/] ({found.kind})")
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
    rows = [(i.network, i.name, list(i.addresses), list(i.gateways), i.mac) for i in view.container.interfaces]
    if not rows:
        return
    branch = parent.add("Network interfaces")
    for network, name, addresses, gateways, mac in rows:
        node = branch.add(tree_text(f"{cell(network)} ({cell(name)})"))
        node.add(tree_text(f"IP: {cell(addresses)}"))
        node.add(tree_text(f"Gateway: {cell(gateways)}"))
        node.add(tree_text(f"MAC: {cell(mac)}"))


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


def _process_label_markup(inspected: InspectedProcess, depth: int, view: ProcessView) -> str:
    process = inspected.process
    label = f"[bold]\\[{process.pid}][/]  {tree_text(_process_label(inspected, view))}"
    note = state_note(process)
    if note:
        label += f"  [{'red' if process.zombie else 'yellow'}]({note})[/]"
    if depth == DEPTH_LIMIT:  # a tree deeper than that is drawn flat there: say whose child it is
        label += f"  [dim]parent {process.ppid}[/]"
    if not process.dumped:
        label += "  [dim](not dumped: no core image)[/]"
    return label


def _process_tree(parent: Tree, found: Inspection) -> None:
    view = found.parts.processes
    parents = [parent.add("[bold]Process tree[/]")]
    for inspected, depth in found.placed:
        process = inspected.process
        node = parents[depth].add(_process_label_markup(inspected, depth, view))
        del parents[depth + 1 :]
        parents.append(node)
        if not process.dumped:  # nothing more is known of it
            continue
        if view.identity and process.identity:
            ident = node.add("Identity")
            for key, value in _identity_rows(inspected):
                ident.add(tree_text(f"{key}: {cell(value)}"))
        if view.env:
            env = node.add("Environment variables")
            for variable in process.env or ["-"]:
                env.add(tree_text(variable))
        if inspected.fds is not None:
            opened = node.add("Open files")
            for d in inspected.fds:
                text = tree_text(f"[{d.type} {d.fd}]  {what(d)}")
                opened.add(f"[red]{text}[/]" if d.deleted else text)
        if inspected.sockets:
            socks = node.add("Open sockets")
            for d in inspected.sockets:
                text = tree_text(f"[{d.type} {d.fd}]  {what(d)}")
                label = f"[green]{text}[/]" if d.state == "LISTEN" else text
                socks.add(label + _buffers_text(d))


# --- table: each part a table -------------------------------------------------------------------


def inspection_tables(inspections: Iterable[Inspection]) -> Iterator[list[Table]]:
    """Each part of each inspection as a table, titled with its checkpoint."""
    return (_tables(found) for found in inspections)


def _tables(found: Inspection) -> list[Table]:
    where = f"{found.path.name} ({found.kind})"
    tables = []
    if found.parts.metadata:
        tables.append(Table(["KEY", "VALUE"], _metadata_rows(found.summary), title=f"{where}: Metadata"))
        if found.summary.container.interfaces:
            rows = [INTERFACE.row(i) for i in found.summary.container.interfaces]
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
    placed = [(inspected, inspected.process, depth) for inspected, depth in found.placed]
    named = "COMMAND" if view.named else "COMM"
    rows = [[p.pid, p.ppid, p.state, "  " * depth + _process_label(i, view)] for i, p, depth in placed]
    tables = [Table(["PID", "PPID", "STATE", named], rows, title=f"{where}: Process tree")]
    parts: list[tuple[bool, str, list[str], list[list[Any]]]] = [
        (view.identity, "Identity", ["PID", "KEY", "VALUE"],
         [[p.pid, key, value] for i, p, _ in placed for key, value in _identity_rows(i)]),
        (view.env, "Environment variables", ["PID", "VARIABLE"],
         [[p.pid, variable] for _, p, _ in placed for variable in p.env or [None]]),
        (view.files, "Open files", ["PID", "FD", "TYPE", "WHAT"],
         [[p.pid, d.fd, d.type, what(d)] for i, p, _ in placed for d in i.fds or []]),
        (view.sockets, "Open sockets", ["PID", "FD", "TYPE", "WHAT", "RCVBUF", "SNDBUF"],
         [[p.pid, d.fd, d.type, what(d), human_size(d.details.get("recv_buffer")),
           human_size(d.details.get("send_buffer"))]
          for i, p, _ in placed for d in i.sockets or []]),
    ]  # fmt: skip
    tables += [Table(columns, rows, title=f"{where}: {title}") for wanted, title, columns, rows in parts if wanted]
    return tables
