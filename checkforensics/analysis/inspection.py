"""A checkpoint in depth, part by part (``inspect``): its metadata, its mounts, CRIU's dump
statistics and its processes with their files and sockets; and the record of each part.

Everything an output shows is read here, once, while the checkpoint is open: a command reading
several checkpoints writes each inspection after its model is closed. The tree and tables of the
text formats are ``inspection_text``'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkforensics.analysis.overview import Overview, overview
from checkforensics.analysis.processes import PROCESS
from checkforensics.model import CheckpointModel, Process
from checkforensics.model.descriptions import DESCRIPTOR
from checkforensics.model.files import SOCKET_TYPES, Descriptor, FileTable, ProcessFiles
from checkforensics.model.mounts import KernelMount, SpecMount
from checkforensics.records.declare import Answer, Field, RecordType, Section
from checkforensics.records.values import FLAG, INTEGER, LIST, OBJECT, TEXT
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
        _processes(model, found, table)
    if parts.metadata and fmt in (JSON, JSONL):  # last: a directory hashes the members read, not again
        found.sha256 = model.sha256()
    return found


def inspect(model: CheckpointModel, parts: Parts, fmt: str) -> Answer:
    """The inspection of ``model`` as a record, with its tree (text) and tables (table)."""
    from checkforensics.analysis.inspection_text import inspection_tables, inspection_trees

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
