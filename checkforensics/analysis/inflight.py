"""Data in flight as objects: one pipe buffer, socket queue, deleted file or memfd, however many
descriptors of however many processes hold it (dup'ed, inherited or opened again)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checkforensics.diagnostics import Diagnostics, Part
from checkforensics.model.files import Descriptor, FileTable, InFlight
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import FLAG, INTEGER, LIST, SIZE, TEXT
from checkforensics.render.escape import json_text

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination

# What identifies the object a kind of in-flight data belongs to, so that every descriptor holding
# it finds the one object: a pipe's inode (both ends, dup'ed or inherited), a socket's inode (its
# queues), the ghost file CRIU saved for a deleted file (every open of it), a memfd's inode.
_OBJECT_IDS = {
    "pipe": "pipe_id", "fifo": "pipe_id", "unix-queue": "ino", "socket-queue": "ino", "tcp-inq": "ino",
    "tcp-outq": "ino", "deleted-file": "remap_id", "memfd": "inode_id",
}  # fmt: skip
ID_KEYS = ("pipe_id", "ino", "remap_id", "inode_id")
QUEUES = frozenset({"unix-queue", "socket-queue"})


@dataclass
class InFlightObject:
    """One object's data in flight: its parts (a queue's messages, in order; one part otherwise)
    and the descriptors holding it."""

    kind: str
    id_key: str | None  # which of ID_KEYS names it; None: only its open file (file id) does
    object_id: int
    descriptor: Descriptor  # the first holder, for what it is (type, path, ends)
    parts: list[bytes]
    complete: bool
    holders: list[dict[str, Any]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return f"{self.kind}-{self.object_id}.bin" if self.id_key else f"{self.kind}-file{self.object_id}.bin"


@dataclass
class InFlightObjects:
    objects: list[InFlightObject]
    warnings: list[str]  # what the data in flight's part said


def _object_of(kind: str, d: Descriptor) -> tuple[str | None, int]:
    """(id key, id) of the object ``kind`` data of ``d`` belongs to; (None, file id) when the
    descriptor does not say (its open file is then the object)."""
    id_key = _OBJECT_IDS.get(kind)
    if id_key is None:
        return None, d.file_id
    value = d.details[id_key] if id_key in d.details else getattr(d, id_key, None)
    return (id_key, value) if isinstance(value, int) else (None, d.file_id)


def objects_in_flight(table: FileTable, diagnostics: Diagnostics | None = None) -> InFlightObjects:
    """Every object with data in flight, once, in the order its first holder comes (processes in
    tree order, descriptors in fd order), with each descriptor that holds it; holders that
    disagree are said to ``diagnostics`` (the checkpoint's)."""
    said = diagnostics if diagnostics is not None else Diagnostics()
    found: dict[tuple[str, str | None, int], InFlightObject] = {}
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
                    obj = found[key] = InFlightObject(key[0], key[1], key[2], d, parts, complete)
                elif parts != obj.parts:
                    said.warn(f"fd {d.fd} of pid {p.pid} holds other bytes; the first holder's kept",
                              where=obj.file, pid=p.pid, part=Part.INFLIGHT)  # fmt: skip
                obj.holders.append({"pid": p.pid, "comm": p.comm, "fd": d.fd})
    return InFlightObjects(list(found.values()), said.said(Part.INFLIGHT))


@dataclass
class Recovered:
    """An object's data as written to its own file."""

    obj: InFlightObject
    size: int
    sha256: str

    def __getattr__(self, name: str) -> Any:  # the object's and its first holder's fields
        return getattr(self.obj, name)


def _held_by(item: Recovered) -> str:
    """``7:3,5 8:3``: each holding process's pid with its descriptors."""
    fds: dict[int, list[str]] = {}
    for holder in item.obj.holders:
        fds.setdefault(holder["pid"], []).append(str(holder["fd"]))
    return " ".join(f"{pid}:{','.join(numbers)}" for pid, numbers in fds.items())


def _first(key: str) -> Field:
    return Field(key, TEXT, get=lambda item: getattr(item.obj.descriptor, key))


def _object_id(key: str) -> Field:
    return Field(key, INTEGER, get=lambda item: item.obj.object_id if item.obj.id_key == key else None)


RECOVERED = RecordType(
    "item",
    "items",
    (
        Field("kind", TEXT, "pipe, fifo, unix-queue, socket-queue, tcp-inq, tcp-outq, deleted-file, memfd"),
        _first("type"), _first("path"), _first("local"), _first("remote"),
        *(_object_id(key) for key in ID_KEYS),
        Field("size", SIZE), Field("sha256", TEXT), Field("complete", FLAG),
        Field("messages", LIST, "the size of each message of a queue, in order",
              get=lambda item: [len(part) for part in item.obj.parts] if item.obj.kind in QUEUES else None),
        Field("file", TEXT, "its name in the output directory"),
        Field("holders", LIST, "every descriptor holding it: pid, comm, fd"),
    ),
    ("kind", Column("PATH / PEER", get=lambda i: i.obj.descriptor.path or i.obj.descriptor.remote or
                    i.obj.descriptor.local), "size", Column("HELD BY (PID:FD)", get=_held_by), "file"),
    "One object of data in flight, written to its own file by recover.",
)  # fmt: skip


def recover(model: CheckpointModel, output: Destination) -> Answer:
    """Every object in flight written to its own file in ``output``, then manifest.json."""
    table = model.files(with_data=True)
    objects = objects_in_flight(table, model.diagnostics)
    written = []
    with output.directory() as target:
        for obj in objects.objects:
            data = b"".join(obj.parts)
            with target.new_file(obj.file) as handle:
                handle.write(data)
            written.append(Recovered(obj, len(data), hashlib.sha256(data).hexdigest()))
        manifest = {"items": [RECOVERED.json(item) for item in written]}
        with target.new_file("manifest.json") as handle:
            handle.write((json_text(manifest, indent=2) + "\n").encode())
    untold = model.diagnostics.untold
    told = [*untold(parts=(Part.LISTING, Part.PROCESSES)), *untold(parts=(Part.FILES,))]
    return Answer(
        [Section(RECOVERED, written)],
        nothing="no data in flight",
        head={"output": str(output.path)},
        warnings=[*told, *untold(parts=(Part.INFLIGHT,))],
    )
