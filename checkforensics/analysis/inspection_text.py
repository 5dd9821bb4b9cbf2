"""How ``inspect`` shows an inspection to people: a tree per checkpoint (``--format text``), or
each part as a table (``--format table``). The JSON form is the ``INSPECTION`` record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from checkforensics.analysis.inspection import InspectedProcess, Inspection, ProcessView
from checkforensics.analysis.overview import INTERFACE, STATS_COLUMNS, Overview
from checkforensics.analysis.processes import command_text, state_note
from checkforensics.model.descriptions import what
from checkforensics.model.files import Descriptor
from checkforensics.model.mounts import KernelMount, SpecMount
from checkforensics.model.tree import DEPTH_LIMIT
from checkforensics.render import Table, Tree, cell, human_size, tree_text


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
