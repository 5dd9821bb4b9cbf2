"""What changed between two checkpoints of one container.

Processes, descriptors, sockets, files on disk, deleted paths and memory sizes are each
compared by a stable key (pid; pid and fd; path), giving the sets added, removed and changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checkforensics.analysis.overview import overview
from checkforensics.analysis.processes import PROCESS
from checkforensics.analysis.rootfs import changed_file_record, rootfs_changes
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError, InputError
from checkforensics.model import CheckpointModel
from checkforensics.model.descriptions import descriptor_record
from checkforensics.model.files import Descriptor


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

    def as_json(self, unchanged: bool = False) -> dict[str, Any]:
        document = {"added": self.added, "removed": self.removed, "changed": self.changed}
        return {**document, "unchanged": self.unchanged} if unchanged else document


def _order(record: dict[str, Any]) -> tuple[tuple[int, int | str], ...]:
    """Records by pid, fd and path, numbers in numeric order (pid 6 before pid 10), and a
    number before a name (fd 2 before fd cwd)."""
    return tuple((0, v) if isinstance(v := record.get(k), int) else (1, str(v)) for k in ("pid", "fd", "path"))


def diff_records(a: dict[Any, dict[str, Any]], b: dict[Any, dict[str, Any]], compared: tuple[str, ...]) -> SetDiff:
    """Compare two keyed record sets field by field (only the ``compared`` fields)."""
    result = SetDiff()
    for key in b.keys() - a.keys():
        result.added.append(b[key])
    for key in a.keys() - b.keys():
        result.removed.append(a[key])
    for key in a.keys() & b.keys():
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


def _secret_records(model: CheckpointModel) -> dict[tuple[str, str], dict[str, Any]]:
    """Secret findings keyed by rule and (unmasked) value, wherever they are; the records are
    secretscan's, values masked."""
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint

    hits = scan_checkpoint(model)
    unmasked = finding_records(hits, redact=False, across_processes=True)
    shown = finding_records(hits, across_processes=True)
    return {(raw["rule"], raw["value"]): record for raw, record in zip(unmasked, shown, strict=True)}


def _descriptor_record(pid: int, comm: str | None, d: Descriptor) -> dict[str, Any]:
    """The descriptor's JSON record, with its process and whether it is a socket."""
    return {"pid": pid, "comm": comm, **descriptor_record(d), "socket": d.family is not None}


def snapshot(model: CheckpointModel, *, with_secrets: bool = False) -> Snapshot:
    view = overview(model)
    changes = rootfs_changes(model)
    files = {f.path: changed_file_record(f, layer) for layer, f in changes.files}
    deleted = {path: {"path": path} for path in changes.deleted}
    if not model.has_images:  # its metadata and files on disk are still compared
        return Snapshot(
            container_id=view.container.id,
            name=view.container.name,
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
    memory = {}
    for process in tree.processes:
        if process.zombie or not process.dumped:
            continue
        try:
            memory[process.pid] = {
                "pid": process.pid,
                "comm": process.comm,
                "bytes": model.memory(process.pid).dumped_bytes,
            }
        except CheckforensicsError as exc:
            model.diagnostics.warn(str(exc), pid=process.pid, part=Part.PROCESSES)
    return Snapshot(
        container_id=view.container.id,
        name=view.container.name,
        processes={p.pid: PROCESS.json(p) for p in tree.processes},
        descriptors={
            (p.pid, str(d.fd)): _descriptor_record(p.pid, p.comm, d) for p in table.processes for d in p.descriptors
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

    def as_json(self, unchanged: bool = False) -> dict[str, Any]:
        """The JSON document; with ``unchanged``, each kind also lists what did not change."""
        sections = {"secrets": self.secrets} if self.secrets is not None else {}
        sections |= {
            "processes": self.processes,
            "descriptors": self.descriptors,
            "sockets": self.sockets,
            "files": self.files,
            "deleted": self.deleted,
            "memory": self.memory,
        }
        return {**{name: diff.as_json(unchanged) for name, diff in sections.items()}, "warnings": self.warnings}


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
    )
