"""Where the timeline's events come from: a registry of sources, one entry each.

A source is a function of the model yielding ``Event``s, registered with ``@source(NAME,
reads=..., doc=...)``: ``reads`` says what of a checkpoint it needs (``model.Reads`` names, as a
command declares them; the ``timeline`` command reads what its sources together need), ``doc``
what it finds (``docs/commands/timeline.md`` lists the same). Sources are asked in the order
they are registered, which is also their lane order in the report's chart. Adding a source is
adding one such function here, nothing else: the command, the formats, the merge of several
checkpoints and the chart take it as they find it.

A time that cannot be read (not RFC 3339, not a number, out of the years 1 to 9999) is said to the
model's diagnostics (part ``timeline``) and its event kept, undated: nothing found is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from checkforensics.analysis.timeline.event import (
    NANOS,
    Event,
    FileFacts,
    TimeUnreadable,
    iso_time,
    parse_nanos,
    parse_rfc3339,
    parse_seconds,
)
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.model import CheckpointModel
from checkforensics.model.layers import DELETED_FILES, ROOTFS_DIFF

Finder = Callable[[CheckpointModel], Iterator[Event]]


@dataclass(frozen=True)
class Source:
    name: str
    find: Finder
    reads: tuple[str, ...]
    doc: str


SOURCES: dict[str, Source] = {}


def source(name: str, *, reads: tuple[str, ...] = (), doc: str) -> Callable[[Finder], Finder]:
    """Register ``find`` as the source ``name`` (the registry's one entry for it)."""

    def register(find: Finder) -> Finder:
        if name in SOURCES:
            raise ValueError(f"timeline source {name!r} registered twice")
        SOURCES[name] = Source(name, find, tuple(reads), doc)
        return find

    return register


def sources_reads(*, memory: bool = True) -> tuple[str, ...]:
    """What the registered sources together read of a checkpoint (without ``memory``: those that
    read no process memory)."""
    chosen = [each for each in SOURCES.values() if memory or "memory" not in each.reads]
    return tuple(dict.fromkeys(name for each in chosen for name in each.reads))


def dated(model: CheckpointModel, parse: Callable[[Any], int | None], value: Any, where: str) -> int | None:
    """``parse(value)``; a value that is no time said to the diagnostics (its event then undated)."""
    try:
        ns = parse(value)
        if ns is not None and iso_time(ns) is None:
            raise TimeUnreadable(f"out of the calendar (years 1 to 9999): {str(value)[:80]!r}")
        return ns
    except TimeUnreadable as exc:
        model.diagnostics.warn(f"{exc}; its event is listed undated", where=where, part=Part.TIMELINE)
        return None


# --- the container runtime's records

_RUNTIME_TIMES = (  # (member, key, parse, what happened, message)
    ("config.dump", "createdTime", parse_rfc3339, "Container Created", "the engine created the container"),
    ("config.dump", "restoredTime", parse_rfc3339, "Container Restored", "restored from a checkpoint"),
    ("status.dump", "created_at", parse_nanos, "Container Created", "containerd's CRI status: container created"),
    ("status.dump", "started_at", parse_nanos, "Container Started", "containerd's CRI status: container started"),
    ("status.dump", "finished_at", parse_nanos, "Container Finished", "containerd's CRI status: container exited"),
    ("status", "CreatedAt", parse_nanos, "Task Created", "containerd's task record: task created"),
    ("status", "StartedAt", parse_nanos, "Task Started", "containerd's task record: task started"),
    ("status", "FinishedAt", parse_nanos, "Task Finished", "containerd's task record: task exited"),
)
_SPEC_TIMES = (  # OCI annotations holding a time (Podman and CRI-O write the first)
    ("io.kubernetes.cri-o.Created", "Container Created", "the spec's annotation: container created"),
)


@source("runtime", reads=("container",), doc="the engine's own records of the container's life: config.dump "
        "(createdTime, restoredTime), spec.dump's annotations (io.kubernetes.cri-o.Created), containerd's "
        "status.dump (created_at, started_at, finished_at) and status (CreatedAt, StartedAt, FinishedAt)")  # fmt: skip
def runtime_events(model: CheckpointModel) -> Iterator[Event]:
    container = model.container
    records = {"config.dump": container.config, "status.dump": container.status, "status": container.task_status}
    for member, key, parse, what, message in _RUNTIME_TIMES:
        record = records[member]
        if not isinstance(record, dict) or key not in record:
            continue
        value = record[key]
        if value in (0, None, "") or (isinstance(value, str) and value.startswith("0001-01-01")):
            continue  # Go's and containerd's "never"
        ns = dated(model, parse, value, f"{member} {key}")  # None: unreadable, said; the event undated
        yield Event(ns, "runtime", what, "exact", f"{message} ({key})", member, key)
    spec = container.spec
    annotations = spec.get("annotations") if isinstance(spec, dict) else None
    for key, what, message in _SPEC_TIMES:
        if isinstance(annotations, dict) and key in annotations:
            ns = dated(model, parse_rfc3339, annotations[key], f"spec.dump {key}")
            yield Event(ns, "runtime", what, "exact", message, "spec.dump", key)


# --- the checkpoint itself


@source("checkpoint", reads=("container",), doc="when the checkpoint was taken (config.dump's checkpointedTime, "
        "the kubelet's file name, or inventory.img's mtime), with how long CRIU took to freeze the container "
        "and how long it stayed frozen (stats-dump)")  # fmt: skip
def checkpoint_events(model: CheckpointModel) -> Iterator[Event]:
    try:
        checkpointed = model.container.checkpointed
    except (CheckforensicsError, OSError) as exc:
        model.diagnostics.warn(f"when the checkpoint was taken is unknown: {exc}", part=Part.TIMELINE)
        return
    ns = dated(model, parse_rfc3339, checkpointed.time, checkpointed.found_in)
    stats = model.dump.statistics() or {}
    details = {f"{key}_us": stats[key] for key in ("freezing_time", "frozen_time") if isinstance(stats.get(key), int)}
    message = "checkpointed"
    if details:
        message += "; CRIU " + ", ".join(f"{key.removesuffix('_time_us')} {value} µs" for key, value in details.items())
    yield Event(ns, "checkpoint", "Checkpointed", checkpointed.certainty, message, checkpointed.found_in,
                details=details)  # fmt: skip


# --- the container's log


@source("log", reads=("container",), doc="each line of the container's CRI log (container.log, ctr.log) at the "
        "time the runtime wrote on it; a line not in the CRI format undated")  # fmt: skip
def log_events(model: CheckpointModel) -> Iterator[Event]:
    from checkforensics.analysis.containerlog import open_container_log

    try:
        log = open_container_log(model)
    except CheckforensicsError:
        return  # no log: nothing to date from it
    with log:
        for entry in log.entries():
            ns = dated(model, parse_rfc3339, entry.time, f"{log.member} line {entry.line}")
            stream = entry.stream or "?"
            yield Event(ns, "log", "Log Line", "exact", f"{stream}: {entry.message}", log.member,
                        f"{stream} {entry.tag} {entry.message}", details={"line": entry.line})  # fmt: skip


# --- files on disk


@source("files", reads=("container", "images"), doc="every file of rootfs-diff.tar, /dev/shm and the tmpfs "
        "archives at its mtime (the container's writes, and what the runtime made, said so); each deleted path "
        "(deleted.files, whiteouts), undated")  # fmt: skip
def file_events(model: CheckpointModel) -> Iterator[Event]:
    from checkforensics.analysis.rootfs import rootfs_changes

    changes = rootfs_changes(model, digest=False)
    for layer in changes.layers:
        entries = [(f, None) for f in layer.files] + [(r.file, r.reason) for r in layer.runtime]
        for changed, reason in entries:
            ns = dated(model, _file_time, changed.mtime, f"{layer.member} {changed.path}")
            facts = FileFacts(changed.path, changed.type, changed.mode, changed.uid, changed.gid, changed.size)
            yield Event(ns, "files", "File Modified", "file-mtime", f"{changed.type} {changed.path}",
                        layer.member, changed.path, facts, runtime_made=reason)  # fmt: skip
    whiteouts = set(changes.whiteouts)
    for path in changes.deleted:
        member = f"{ROOTFS_DIFF} (whiteout)" if path in whiteouts else DELETED_FILES
        yield Event(None, "files", "File Deleted", "none", f"deleted {path} (when is not recorded)", member, path)


def _file_time(text: str) -> int | None:
    """A layer entry's mtime as the rootfs analysis wrote it: RFC 3339, or the number it could not place."""
    try:
        return parse_rfc3339(text)
    except TimeUnreadable:
        return parse_seconds(text)


# --- deleted files still open


@source("ghosts", reads=("images",), doc="each deleted-but-open file CRIU kept (ghost-file-N.img) at its "
        "modification and access times, with the path it had and the processes holding it")  # fmt: skip
def ghost_events(model: CheckpointModel) -> Iterator[Event]:
    holders: dict[int, tuple[Any, list[str]]] = {}  # remap id: the first descriptor, every pid:fd holding it
    for process in model.files().processes:
        for d in process.descriptors:
            if d.details.get("remap") == "ghost" and isinstance(d.details.get("remap_id"), int):
                holders.setdefault(d.details["remap_id"], (d, []))[1].append(f"{process.pid}:{d.fd}")
    for remap_id, (descriptor, held) in holders.items():
        where = f"ghost-file-{remap_id}.img"
        try:
            ghost = model.ghost_file(remap_id)
        except CheckforensicsError as exc:
            model.diagnostics.warn(str(exc), part=Part.TIMELINE)
            continue
        size = ghost.size if ghost.HasField("size") else descriptor.size
        path = descriptor.path or f"(ghost {remap_id})"
        facts = FileFacts(path, _ghost_type(ghost.mode), ghost.mode & 0o7777, ghost.uid, ghost.gid, size or 0, True)
        for stamp, what, certainty, column in (
            ("mtim", "Deleted File Modified", "file-mtime", "mtime"),
            ("atim", "Deleted File Accessed", "file-atime", "atime"),
        ):
            if not ghost.HasField(stamp):
                continue
            value = getattr(ghost, stamp)
            if not 0 <= value.tv_usec < 1_000_000:
                model.diagnostics.warn(f"{stamp} has {value.tv_usec} microseconds; its event is listed undated",
                                       where=where, part=Part.TIMELINE)  # fmt: skip
                ns = None
            else:
                ns = dated(model, parse_nanos, value.tv_sec * 1_000_000_000 + value.tv_usec * 1000, f"{where} {stamp}")
            yield Event(ns, "ghosts", what, certainty, f"deleted file {path}, open as pid:fd {' '.join(held)}",
                        where, f"{path} {stamp}", facts, column=column)  # fmt: skip


def _ghost_type(mode: int) -> str:
    kinds = {0o100000: "file", 0o040000: "dir", 0o120000: "symlink", 0o020000: "char", 0o060000: "block",
             0o010000: "fifo"}  # fmt: skip
    return kinds.get(mode & 0o170000, "other")


# --- what was typed


@source("history", reads=("memory",), doc="each line typed into bash or another readline program that "
        "history recovers from memory, at the time the shell stored beside it; a remnant of a cleared list "
        "(its time lost with its first bytes) undated")  # fmt: skip
def history_events(model: CheckpointModel) -> Iterator[Event]:
    from checkforensics.analysis.history import history_of

    for entry in history_of(model):
        ns = None if entry.time is None else int(entry.time.timestamp()) * NANOS
        who = f"pid {entry.pid} ({entry.comm})" + (f" on {entry.terminal}" if entry.terminal else "")
        if entry.state == "live":
            what, message = "Command Entered", f"{who} #{entry.position}: {entry.command}"
        else:
            what, message = "Command Remnant", f"{who}, in freed memory: …{entry.command}"
        yield Event(ns, "history", what, "shell" if ns is not None else "none", message, f"memory of pid {entry.pid}",
                    f"{entry.pid} {entry.position} {entry.command}", details={"pid": entry.pid})  # fmt: skip
