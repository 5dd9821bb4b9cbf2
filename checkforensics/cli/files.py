"""``files``, ``sockets`` and ``recover``: open descriptors and the data still in flight."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

from checkforensics.analysis.inflight import ID_KEYS, QUEUES, InFlightObjects, objects_in_flight
from checkforensics.cli.options import checkpoint_argument, output_options, pid_option
from checkforensics.model import CheckpointModel, Reads
from checkforensics.model.descriptions import preview, what
from checkforensics.model.files import SOCKET_TYPES, Descriptor, FileTable
from checkforensics.output import OutputDirectory, OutputGuard
from checkforensics.records import descriptor_lines, file_table_record
from checkforensics.render import Result, Table, human_size, json_text, render


def _load(checkpoint: str, with_data: bool, pids: tuple[int, ...]) -> FileTable:
    """The descriptor table (of every process: sharing spans processes), cut to ``pids``."""
    with CheckpointModel.open(checkpoint, reads=Reads.MEMORY | Reads.IMAGES if with_data else Reads.NOTHING) as model:
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
    columns = ["PID", "COMM", "FD", "FAMILY", "TYPE", "PROTO", "STATE", "LOCAL", "REMOTE", "RECV-Q", "SEND-Q",
               "RCVBUF", "SNDBUF"]  # fmt: skip
    chosen = [(p, d) for p in table.processes for d in p.descriptors if d.type in SOCKET_TYPES]
    rows = [
        [p.pid, p.comm, d.fd, d.family, d.sock_type, d.proto, d.state, d.local, d.remote,
         d.details.get("recv_queue"), d.details.get("send_queue"),
         human_size(d.details.get("recv_buffer")), human_size(d.details.get("send_buffer"))]
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
    objects = objects_in_flight(table)
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


def _write_recovered(objects: InFlightObjects, target: OutputDirectory) -> list[dict[str, Any]]:
    """Each object's data into its own file in ``target``, then manifest.json."""
    manifest = []
    for obj in objects.objects:
        data = b"".join(obj.parts)
        with target.new_file(obj.file) as handle:
            handle.write(data)
        d = obj.descriptor
        ids = {key: obj.object_id if key == obj.id_key else None for key in ID_KEYS}
        messages = [len(part) for part in obj.parts] if obj.kind in QUEUES else None
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
