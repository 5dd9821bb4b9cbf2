"""``files``, ``sockets`` and ``recover``: open descriptors and the data still in flight."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from checkforensics.cli.options import checkpoint_argument, output_options, pid_option
from checkforensics.model import CheckpointModel
from checkforensics.model.descriptions import preview, what
from checkforensics.model.files import SOCKET_TYPES, Descriptor, FileTable, InFlight
from checkforensics.output import OutputDirectory, OutputGuard
from checkforensics.records import descriptor_lines, file_table_record
from checkforensics.render import Result, Table, json_text, render


def _load(checkpoint: str, with_data: bool, pids: tuple[int, ...]) -> FileTable:
    """The descriptor table (of every process: sharing spans processes), cut to ``pids``."""
    with CheckpointModel.open(checkpoint) as model:
        chosen = {process.pid for process in model.processes(pids)}
        table = model.files(with_data=with_data)
        warnings = [*model.tree.warnings, *table.warnings]
    return FileTable([p for p in table.processes if p.pid in chosen], warnings)


def _files_table(table: FileTable, with_data: bool) -> Table:
    columns = ["PID", "COMM", "FD", "TYPE", "WHAT", "FLAGS", "POS"] + (["DATA"] if with_data else [])
    rows, styles = [], []
    for p in table.processes:
        for d in p.descriptors:
            styles.append(_style(d))
            row = [p.pid, p.comm, d.fd, d.type, what(d), d.flags, d.pos]
            if with_data:
                data = "; ".join(f"{i.kind} {len(i.data)} B: {preview(i.data, 40)}" for i in d.inflight)
                row.append(data or None)
            rows.append(row)
    return Table(columns, rows, row_styles=styles)


@click.command()
@checkpoint_argument()
@pid_option()
@click.option("--data", "with_data", is_flag=True, help="Show a preview of unread data beside its descriptor.")
@output_options()
def files(checkpoint: str, pids: tuple[int, ...], with_data: bool, fmt: str, no_color: bool) -> None:
    """List every open descriptor: files (deleted ones marked), pipes, sockets, and more.

    \b
    Examples:
      checkforensics files checkpoint.tar
      checkforensics files checkpoint.tar.zst --pid 7 --data
      checkforensics files checkpoint.tar --format jsonl | jq -c 'select(.deleted)'
    """
    table = _load(checkpoint, with_data, pids)
    result = Result(
        json=lambda: file_table_record(table, with_data),
        jsonl=lambda: descriptor_lines(table, with_data),
        text=lambda: [_files_table(table, with_data)],
        warnings=table.warnings,
    )
    render(result, fmt, no_color=no_color)


def _style(d: Descriptor) -> str | None:
    if d.deleted:
        return "red"
    if d.state == "LISTEN":
        return "green"
    return "yellow" if d.inflight else None


def _sockets_table(table: FileTable) -> Table:
    columns = ["PID", "COMM", "FD", "FAMILY", "TYPE", "PROTO", "STATE", "LOCAL", "REMOTE", "RECV-Q", "SEND-Q"]
    chosen = [(p, d) for p in table.processes for d in p.descriptors if d.type in SOCKET_TYPES]
    rows = [
        [p.pid, p.comm, d.fd, d.family, d.sock_type, d.proto, d.state, d.local, d.remote,
         d.details.get("recv_queue"), d.details.get("send_queue")]
        for p, d in chosen
    ]  # fmt: skip
    return Table(columns, rows, row_styles=[_style(d) for _, d in chosen])


@click.command()
@checkpoint_argument()
@pid_option()
@output_options()
def sockets(checkpoint: str, pids: tuple[int, ...], fmt: str, no_color: bool) -> None:
    """List sockets: UNIX, TCP/UDP over IPv4 and IPv6, netlink, packet.

    \b
    Example:
      checkforensics sockets checkpoint.tar
    """
    table = _load(checkpoint, False, pids)
    result = Result(
        json=lambda: file_table_record(table, False, only_sockets=True),
        jsonl=lambda: descriptor_lines(table, False, only_sockets=True),
        text=lambda: [_sockets_table(table)],
        warnings=table.warnings,
    )
    render(result, fmt, no_color=no_color)


@click.command()
@checkpoint_argument()
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="Directory to write to.")
@click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
@output_options()
def recover(checkpoint: str, out: Path, force: bool, fmt: str, no_color: bool) -> None:
    """Write every piece of in-flight data to its own file, with a manifest.

    Unread pipe and FIFO buffers, queued socket data, unread TCP bytes, deleted-but-open
    files and memfd contents, byte for byte, each object once however many descriptors hold
    it; manifest.json lists each one's kind, path or peer, id, size and sha256, and every
    descriptor (pid, comm, fd) that holds it.

    \b
    Example:
      checkforensics recover checkpoint.tar.zst -o recovered/
    """
    table = _load(checkpoint, True, ())
    objects = _objects_in_flight(table)
    with OutputGuard(checkpoint).output_directory(out, force=force) as target:
        manifest = _write_recovered(objects, target)
    rows = [[m["kind"], m["path"] or m["remote"] or m["local"], m["size"], _held_by(m["holders"]), m["file"]]
            for m in manifest]  # fmt: skip
    result = Result(
        json={"output": str(out), "items": manifest},
        jsonl=manifest,
        text=[Table(["KIND", "PATH / PEER", "SIZE", "HELD BY (PID:FD)", "FILE"], rows)],
        warnings=[*table.warnings, *objects.warnings],
    )
    render(result, fmt, no_color=no_color)


# What identifies the object a kind of in-flight data belongs to, so that every descriptor holding
# it finds the one object: a pipe's inode (both ends, dup'ed or inherited), a socket's inode (its
# queues), the ghost file CRIU saved for a deleted file (every open of it), a memfd's inode.
_OBJECT_IDS = {
    "pipe": "pipe_id", "fifo": "pipe_id", "unix-queue": "ino", "socket-queue": "ino", "tcp-inq": "ino",
    "tcp-outq": "ino", "deleted-file": "remap_id", "memfd": "inode_id",
}  # fmt: skip
_ID_KEYS = ("pipe_id", "ino", "remap_id", "inode_id")
_QUEUES = frozenset({"unix-queue", "socket-queue"})


@dataclass
class _Object:
    """One object's data in flight: its parts (a queue's messages, in order; one part otherwise)
    and the descriptors holding it."""

    kind: str
    id_key: str | None  # which of _ID_KEYS names it; None: only its open file (file id) does
    object_id: int
    descriptor: Descriptor  # the first holder, for what it is (type, path, ends)
    parts: list[bytes]
    complete: bool
    holders: list[dict[str, Any]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return f"{self.kind}-{self.object_id}.bin" if self.id_key else f"{self.kind}-file{self.object_id}.bin"


@dataclass
class _InFlightObjects:
    objects: list[_Object]
    warnings: list[str]


def _object_of(kind: str, d: Descriptor) -> tuple[str | None, int]:
    """(id key, id) of the object ``kind`` data of ``d`` belongs to; (None, file id) when the
    descriptor does not say (its open file is then the object)."""
    id_key = _OBJECT_IDS.get(kind)
    if id_key is None:
        return None, d.file_id
    value = d.details[id_key] if id_key in d.details else getattr(d, id_key, None)
    return (id_key, value) if isinstance(value, int) else (None, d.file_id)


def _objects_in_flight(table: FileTable) -> _InFlightObjects:
    """Every object with data in flight, once, in the order its first holder comes (processes in
    tree order, descriptors in fd order), with each descriptor that holds it."""
    found: dict[tuple[str, str | None, int], _Object] = {}
    warnings: list[str] = []
    for p in table.processes:
        for d in p.descriptors:
            held: dict[tuple[str, str | None, int], list[InFlight]] = {}
            for item in d.inflight:
                held.setdefault((item.kind, *_object_of(item.kind, d)), []).append(item)
            for key, items in held.items():
                parts = [item.data for item in items]
                obj = found.get(key)
                if obj is None:
                    complete = all(item.complete for item in items)
                    obj = found[key] = _Object(key[0], key[1], key[2], d, parts, complete)
                elif parts != obj.parts:
                    warnings.append(f"{obj.file}: fd {d.fd} of pid {p.pid} holds other bytes; the first holder's kept")
                obj.holders.append({"pid": p.pid, "comm": p.comm, "fd": d.fd})
    return _InFlightObjects(list(found.values()), warnings)


def _write_recovered(objects: _InFlightObjects, target: OutputDirectory) -> list[dict[str, Any]]:
    """Each object's data into its own file in ``target``, then manifest.json."""
    manifest = []
    for obj in objects.objects:
        data = b"".join(obj.parts)
        with target.new_file(obj.file) as handle:
            handle.write(data)
        d = obj.descriptor
        ids = {key: obj.object_id if key == obj.id_key else None for key in _ID_KEYS}
        messages = [len(part) for part in obj.parts] if obj.kind in _QUEUES else None
        manifest.append({
            "kind": obj.kind, "type": d.type, "path": d.path, "local": d.local, "remote": d.remote, **ids,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "complete": obj.complete,
            "messages": messages, "file": obj.file, "holders": obj.holders,
        })  # fmt: skip
    with target.new_file("manifest.json") as handle:
        handle.write((json_text({"items": manifest}, indent=2) + "\n").encode())
    return manifest


def _held_by(holders: list[dict[str, Any]]) -> str:
    """``7:3,5 8:3``: each holding process's pid with its descriptors."""
    fds: dict[int, list[str]] = {}
    for holder in holders:
        fds.setdefault(holder["pid"], []).append(str(holder["fd"]))
    return " ".join(f"{pid}:{','.join(numbers)}" for pid, numbers in fds.items())
