"""What changed between two checkpoints of one container.

Processes, descriptors, sockets, files on disk, deleted paths and memory sizes are each
compared by a stable key (pid; pid and fd; path), giving the sets added, removed and changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from checkforensics.analysis.overview import overview
from checkforensics.analysis.processes import PROCESS
from checkforensics.analysis.rootfs import changed_file_record, rootfs_changes
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError, InputError
from checkforensics.model import CheckpointModel, Reads
from checkforensics.model.descriptions import descriptor_record, socket_summary
from checkforensics.model.files import Descriptor
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import COMMAND_LINE, FLAG, INTEGER, OBJECT, SIZE, TEXT, human_size, quote_command
from checkforensics.render import Table, Tree, cell, tree_text

CHANGES = ("added", "removed", "changed", "unchanged")
SECTIONS = ("processes", "descriptors", "sockets", "files", "deleted", "secrets", "memory")


class DifferentContainersError(InputError):
    """The two checkpoints are of different containers."""


@dataclass
class SetDiff:
    """Keys only in A (removed), only in B (added), in both but different (changed), and in
    both alike (unchanged: B's records, shown only when asked)."""

    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _order(record: dict[str, Any]) -> tuple[tuple[int, int | str], ...]:
    """Records by pid, fd and path, numbers in numeric order (pid 6 before pid 10), and a
    number before a name (fd 2 before fd cwd)."""
    return tuple((0, v) if isinstance(v := record.get(k), int) else (1, str(v)) for k in ("pid", "fd", "path"))


def diff_records(a: dict[Any, dict[str, Any]], b: dict[Any, dict[str, Any]], compared: tuple[str, ...]) -> SetDiff:
    """Compare two keyed record sets field by field (only the ``compared`` fields)."""
    result = SetDiff()  # keys in the order the checkpoints list them, never a set's (which varies run to run)
    result.added += [b[key] for key in b if key not in a]
    result.removed += [a[key] for key in a if key not in b]
    for key in (key for key in a if key in b):
        changes = {
            name: {"before": a[key].get(name), "after": b[key].get(name)}
            for name in compared
            if a[key].get(name) != b[key].get(name)
        }
        if changes:
            result.changed.append({**b[key], "changes": changes})
        else:
            result.unchanged.append(b[key])
    for bucket in (result.added, result.removed, result.changed, result.unchanged):
        bucket.sort(key=_order)
    return result


@dataclass
class Snapshot:
    """What one checkpoint says, keyed for comparison."""

    container_id: str | None
    name: str | None
    processes: dict[int, dict[str, Any]]
    descriptors: dict[tuple[int, str], dict[str, Any]]
    files: dict[str, dict[str, Any]]
    deleted: dict[str, dict[str, Any]]
    memory: dict[int, dict[str, Any]]
    warnings: list[str]
    secrets: dict[tuple[str, str], dict[str, Any]] | None = None
    images: bool = True  # False: a container checkpoint with no CRIU images (no processes, descriptors, memory)
    image: str | None = None  # the container's image, as the engine recorded it


def _secret_records(model: CheckpointModel) -> dict[tuple[str, str], dict[str, Any]]:
    """Secret findings keyed by rule and (unmasked) value, wherever they are; the records are
    secretscan's, values masked."""
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint

    hits = scan_checkpoint(model)
    unmasked = finding_records(hits, redact=False, across_processes=True)
    shown = finding_records(hits, across_processes=True)
    return {(raw["rule"], raw["value"]): record for raw, record in zip(unmasked, shown, strict=True)}


@dataclass(frozen=True)
class HeldDescriptor:
    """A descriptor with the process holding it."""

    pid: int
    comm: str | None
    descriptor: Descriptor


HELD_DESCRIPTOR = RecordType(
    "descriptor", "descriptors",
    (Field("pid", INTEGER), Field("comm", TEXT),
     Field("descriptor", OBJECT, "the files record", spread=True, get=lambda h: descriptor_record(h.descriptor)),
     Field("socket", FLAG, get=lambda h: h.descriptor.family is not None)),
    doc="A descriptor with its process, as diff A B compares them.",
)  # fmt: skip
DUMPED_MEMORY = RecordType(
    "memory", "memory",
    (Field("pid", INTEGER), Field("comm", TEXT), Field("bytes", SIZE, "the process's own dumped pages")),
    doc="How much of a process's memory was dumped, as diff A B compares it.",
)  # fmt: skip
DELETED_PATH = RecordType("deleted", "deleted", (Field("path", TEXT),), doc="A path the container deleted.")


def snapshot(model: CheckpointModel, *, with_secrets: bool = False) -> Snapshot:
    view = overview(model)
    changes = rootfs_changes(model)
    files = {f.path: changed_file_record(f, layer) for layer, f in changes.files}
    deleted = {path: DELETED_PATH.json({"path": path}) for path in changes.deleted}
    if not model.has_images:  # its metadata and files on disk are still compared
        return Snapshot(
            container_id=view.container.id,
            name=view.container.name,
            image=view.container.image,
            processes={},
            descriptors={},
            files=files,
            deleted=deleted,
            memory={},
            warnings=[*view.warnings, *changes.warnings],
            secrets={} if with_secrets else None,
            images=False,
        )
    tree = model.command_lines()
    table = model.files()
    model.executables()  # each process's program, compared with its record
    memory = {}
    for process in tree.processes:
        if process.zombie or not process.dumped:
            continue
        try:
            dumped = {"pid": process.pid, "comm": process.comm, "bytes": model.memory(process.pid).dumped_bytes}
            memory[process.pid] = DUMPED_MEMORY.json(dumped)
        except CheckforensicsError as exc:
            model.diagnostics.warn(str(exc), pid=process.pid, part=Part.PROCESSES)
    return Snapshot(
        container_id=view.container.id,
        name=view.container.name,
        image=view.container.image,
        processes={p.pid: PROCESS.json(p) for p in tree.processes},
        descriptors={
            (p.pid, str(d.fd)): HELD_DESCRIPTOR.json(HeldDescriptor(p.pid, p.comm, d))
            for p in table.processes
            for d in p.descriptors
        },
        files=files,
        deleted=deleted,
        memory=memory,
        warnings=[*view.warnings, *tree.warnings, *table.warnings, *changes.warnings],
        secrets=_secret_records(model) if with_secrets else None,
    )


@dataclass
class CheckpointDiff:
    processes: SetDiff
    descriptors: SetDiff
    sockets: SetDiff
    files: SetDiff
    deleted: SetDiff
    memory: SetDiff
    warnings: list[str]
    secrets: SetDiff | None = None
    container_id: str | None = None  # the container compared (A's record, else B's)
    container_name: str | None = None
    image: str | None = None

    def sections(self) -> dict[str, SetDiff]:
        """Each compared kind by its key in the JSON document, in the document's order."""
        sections = {"secrets": self.secrets} if self.secrets is not None else {}
        return sections | {
            "processes": self.processes,
            "descriptors": self.descriptors,
            "sockets": self.sockets,
            "files": self.files,
            "deleted": self.deleted,
            "memory": self.memory,
        }


def compare(a: CheckpointModel, b: CheckpointModel, *, force: bool = False, secrets: bool = False) -> CheckpointDiff:
    """The differences from checkpoint ``a`` to checkpoint ``b``; with ``secrets``, also which
    credential-rule findings are new in ``b`` (by rule and value, wherever they are)."""
    before, after = snapshot(a, with_secrets=secrets), snapshot(b, with_secrets=secrets)
    if not force and before.container_id and after.container_id and before.container_id != after.container_id:
        raise DifferentContainersError(
            f"different containers ({before.name or '?'} {before.container_id[:12]} and "
            f"{after.name or '?'} {after.container_id[:12]}); use --force to compare anyway",
            where=str(b.path),
        )
    warnings = [*(f"A: {w}" for w in before.warnings), *(f"B: {w}" for w in after.warnings)]
    if not (before.images and after.images):  # nothing to compare them with: not "all removed"
        which = " and ".join(name for name, snap in (("A", before), ("B", after)) if not snap.images)
        verb = "hold" if " and " in which else "holds"
        warnings.append(f"processes, descriptors, sockets and memory not compared: {which} {verb} no CRIU images")
        before.processes = after.processes = before.memory = after.memory = {}
        before.descriptors = after.descriptors = {}
        if before.secrets is not None:
            before.secrets = after.secrets = {}
    descriptor_fields = ("type", "path", "deleted", "state", "local", "remote", "pipe_id")
    socket_fields = ("type", "family", "sock_type", "proto", "state", "local", "remote", "path", "deleted")
    plain = {k: v for k, v in before.descriptors.items() if not v["socket"]}
    plain_after = {k: v for k, v in after.descriptors.items() if not v["socket"]}
    sockets = {k: v for k, v in before.descriptors.items() if v["socket"]}
    sockets_after = {k: v for k, v in after.descriptors.items() if v["socket"]}
    memory = diff_records(before.memory, after.memory, ("bytes",))
    for record in memory.changed:
        record["delta"] = record["changes"]["bytes"]["after"] - record["changes"]["bytes"]["before"]
    return CheckpointDiff(
        processes=diff_records(before.processes, after.processes, ("ppid", "comm", "cmdline", "threads", "uid")),
        descriptors=diff_records(plain, plain_after, descriptor_fields),
        sockets=diff_records(sockets, sockets_after, socket_fields),
        files=diff_records(before.files, after.files, ("type", "size", "mode", "mtime", "sha256", "linkname")),
        deleted=diff_records(before.deleted, after.deleted, ()),
        memory=memory,
        warnings=warnings,
        secrets=diff_records(before.secrets, after.secrets, ()) if before.secrets is not None else None,
        container_id=before.container_id or after.container_id,
        container_name=before.name or after.name,
        image=before.image or after.image,
    )


@dataclass(frozen=True)
class Difference:
    """One record of one compared kind (``section``) added, removed, changed or alike in B."""

    section: str  # a key of SECTIONS
    change: str  # a key of CHANGES
    record: dict[str, Any]  # the kind's record; a changed one with its ``changes``


DIFFERENCE = RecordType(
    "difference", "differences",
    (Field("section", TEXT, "processes, descriptors, sockets, files, deleted, memory or secrets"),
     Field("change", TEXT, "added, removed, changed or unchanged"),
     Field("record", OBJECT, "the kind's record (ps, files plus pid/comm/socket, changed file, {path}, "
           "{pid, comm, bytes}, secret finding); changed: B's, with changes {field: {before, after}}",
           spread=True)),
    (Column("SECTION", get=lambda d: TITLES[d.section]), Column("CHANGE", get=lambda d: MARKS[d.change]),
     Column("WHAT", get=lambda d: describe(d)), Column("DETAILS", get=lambda d: details(d))),
    "A difference between two checkpoints: one record of one kind, and how it changed.",
    group=("section", "change"),
)  # fmt: skip
TITLES = {
    "processes": "Processes", "descriptors": "Descriptors", "sockets": "Sockets",
    "files": "Files on disk (rootfs-diff.tar)", "deleted": "Deleted files", "secrets": "Secrets in memory",
    "memory": "Memory dumped",
}  # fmt: skip
MARKS = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}


def _in_order(result: CheckpointDiff, unchanged: bool) -> list[Difference]:
    """Kind by kind as the tree and table show them (memory last: its changes, the new
    processes', then the alike and the removed), each added, removed, changed (and alike)."""
    kinds = [change for change in CHANGES if unchanged or change != "unchanged"]
    found = [
        Difference(section, change, record)
        for section, diff in result.sections().items()
        if section not in ("secrets", "memory")
        for change in kinds
        for record in getattr(diff, change)
    ]
    if result.secrets is not None:
        found += [Difference("secrets", kind, record) for kind in kinds for record in getattr(result.secrets, kind)]
    memory = [kind for kind in ("changed", "added", "unchanged", "removed") if kind in kinds]
    return found + [Difference("memory", kind, record) for kind in memory for record in getattr(result.memory, kind)]


def differences(a: CheckpointModel, checkpoint_b: str, *, force: bool = False, secrets: bool = False,
                unchanged: bool = False) -> Answer:  # fmt: skip
    """What changed from checkpoint ``a`` to the checkpoint at ``checkpoint_b`` (opened here,
    to read everything), each kind added, removed and changed (and with ``unchanged`` alike)."""

    with CheckpointModel.open(checkpoint_b, reads=Reads.EVERYTHING) as b:
        result = compare(a, b, force=force, secrets=secrets)
    kinds = [change for change in CHANGES if unchanged or change != "unchanged"]
    said = summary(result)
    identity = {"container_id": result.container_id, "container_name": result.container_name, "image": result.image}

    def framed(blocks: list[Any]) -> list[Any]:
        """The container compared above the differences, the summary below (checkpointctl's)."""
        return [_identity(result), *blocks, f"Summary: {said}"] if blocks else []

    return Answer(
        [Section(DIFFERENCE, _in_order(result, unchanged), groups=tuple(
            (section, change) for section in result.sections() for change in kinds))],
        nothing="no differences",
        head={"a": str(a.path), "b": checkpoint_b, **identity},
        extra={"summary": said},
        text=lambda found: framed(comparison_tree(found, a.path.name, b.path.name)),
        table=lambda found: framed(comparison_table(found)),
        warnings=result.warnings,
    )


def summary(result: CheckpointDiff) -> str:
    """One line: the container, then how many records of each kind were added, removed and
    changed (``files +1 ~1``) and how much more (or less) memory was dumped."""
    counted = []
    for section, diff in result.sections().items():
        if section == "memory":
            continue
        counts = ((mark, len(getattr(diff, change))) for change, mark in MARKS.items() if change != "unchanged")
        shown = " ".join(f"{mark}{count}" for mark, count in counts if count)
        if shown:
            counted.append(f"{section} {shown}")
    memory = result.memory
    delta = sum(r["delta"] for r in memory.changed) + sum(r["bytes"] or 0 for r in memory.added)
    delta -= sum(r["bytes"] or 0 for r in memory.removed)
    if delta:
        counted.append(f"memory dumped {delta:+d} bytes")
    said = ", ".join(counted) or "no differences"
    container = result.container_name or result.container_id
    return f"container {container}: {said}" if container else said


def _identity(result: CheckpointDiff) -> Any:
    """``Container:``, ``Image:`` and ``ID:`` lines, as checkpointctl's diff heads its text."""
    from checkforensics.render import Lines

    return Lines([f"Container: {cell(result.container_name)}", f"Image:     {cell(result.image)}",
                  f"ID:        {cell(result.container_id)}"])  # fmt: skip


# --- how it reads to people (text and table forms)

COLOURS = {"added": "green", "removed": "red", "changed": "yellow", "unchanged": "dim"}


def _process(r: dict[str, Any]) -> str:
    return f"[{r['pid']}] {r.get('comm')} {quote_command(r.get('cmdline')) or ''}".rstrip()


def _descriptor(r: dict[str, Any]) -> str:
    what = r.get("path") or (f"{r.get('local')} -> {r.get('remote')} {r.get('state')}" if r.get("local") else "")
    return f"[{r['pid']} fd {r['fd']}] {r['type']} {what or ''}".rstrip()


def _socket(r: dict[str, Any]) -> str:
    transport = r.get("proto") or r.get("sock_type")  # TCP, UDP...; a UNIX socket's type
    ends = (r.get("local"), r.get("remote"), r.get("peer"))
    return f"[{r['pid']} fd {r['fd']}] {socket_summary(r.get('family'), transport, r.get('state'), *ends)}"


_DESCRIBE = {
    "processes": _process,
    "descriptors": _descriptor,
    "sockets": _socket,
    "files": lambda r: f"{r['path']} ({r['type']}, {human_size(r.get('size'))})",
    "deleted": lambda r: r["path"],
    "secrets": lambda r: f"{r['rule']} {r['value']} in [{r['pid']}] {r['comm']} at {r['address']:#x}",
    "memory": lambda r: f"[{r['pid']}] {r.get('comm')}",
}


def describe(difference: Difference) -> str:
    """The record in a few words: ``[7] python3 /app/run.py``, ``/etc/passwd (file, 1.2 KiB)``."""
    return _DESCRIBE[difference.section](difference.record)


def _value(name: str, value: Any) -> str:
    return COMMAND_LINE.text(value) if name == "cmdline" else cell(value)


def _changes(difference: Difference) -> list[str]:
    """``field: before -> after`` for each field that changed."""
    changes = difference.record.get("changes", {}) if difference.change == "changed" else {}
    return [f"{name}: {_value(name, c['before'])} -> {_value(name, c['after'])}" for name, c in changes.items()]


def details(difference: Difference) -> str | None:
    """What changed in the record; for memory, its size (and how it changed)."""
    record = difference.record
    if difference.section != "memory":
        return "; ".join(_changes(difference)) or None
    if difference.change == "changed":
        before, after = record["changes"]["bytes"]["before"], record["changes"]["bytes"]["after"]
        return f"{human_size(before)} -> {human_size(after)} ({after - before:+d} bytes)"
    return human_size(record["bytes"])


def _shown(difference: Difference) -> bool:
    return not (difference.section == "memory" and difference.change == "removed")


def comparison_table(found: Iterable[Difference]) -> list[Table]:
    """One row per difference (the memory of removed processes left out)."""
    from checkforensics.analysis.compare import DIFFERENCE

    rows = [DIFFERENCE.row(difference) for difference in found if _shown(difference)]
    return [Table(DIFFERENCE.headers, rows)] if rows else []


def _counts(items: list[Difference]) -> str:
    """``+3 -6`` (``~N`` changed, ``=N`` alike): how many records of each kind a section holds."""
    counts = ((mark, sum(1 for d in items if d.change == change)) for change, mark in MARKS.items())
    return " ".join(f"{mark}{count}" for mark, count in counts if count)


def comparison_tree(found: Iterable[Difference], a: str, b: str) -> list[Tree]:
    """The kinds that differ (or hold records alike, when those were asked for), each difference a line
    with what changed below it; the memory dumped per process last."""
    by_section: dict[str, list[Difference]] = {}
    for difference in found:
        by_section.setdefault(difference.section, []).append(difference)
    if not by_section:
        return []
    tree = Tree(f"[bold]{tree_text(a)}[/] -> [bold]{tree_text(b)}[/]")
    for section, items in by_section.items():
        if section == "memory":
            continue
        branch = tree.add(f"[bold]{TITLES[section]}[/]: {_counts(items)}")
        for difference in items:
            colour, mark = COLOURS[difference.change], MARKS[difference.change]
            node = branch.add(f"[{colour}]{mark} {tree_text(describe(difference))}[/]")
            for change in _changes(difference):
                node.add(tree_text(change))
    memory = [d for d in by_section.get("memory", []) if _shown(d)]
    if memory:
        branch = tree.add("[bold]Memory dumped[/]")
        for difference in memory:
            line = tree_text(f"{describe(difference)}: {details(difference)}")
            if difference.change == "changed":
                branch.add(line)
            else:
                branch.add(f"[{COLOURS[difference.change]}]{MARKS[difference.change]} {line}[/]")
    return [tree]
