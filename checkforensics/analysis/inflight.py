"""Data in flight as objects: one pipe buffer, socket queue, deleted file or memfd, however many
descriptors of however many processes hold it (dup'ed, inherited or opened again)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checkforensics.model.files import Descriptor, FileTable, InFlight

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
    warnings: list[str]


def _object_of(kind: str, d: Descriptor) -> tuple[str | None, int]:
    """(id key, id) of the object ``kind`` data of ``d`` belongs to; (None, file id) when the
    descriptor does not say (its open file is then the object)."""
    id_key = _OBJECT_IDS.get(kind)
    if id_key is None:
        return None, d.file_id
    value = d.details[id_key] if id_key in d.details else getattr(d, id_key, None)
    return (id_key, value) if isinstance(value, int) else (None, d.file_id)


def objects_in_flight(table: FileTable) -> InFlightObjects:
    """Every object with data in flight, once, in the order its first holder comes (processes in
    tree order, descriptors in fd order), with each descriptor that holds it."""
    found: dict[tuple[str, str | None, int], InFlightObject] = {}
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
                    obj = found[key] = InFlightObject(key[0], key[1], key[2], d, parts, complete)
                elif parts != obj.parts:
                    warnings.append(f"{obj.file}: fd {d.fd} of pid {p.pid} holds other bytes; the first holder's kept")
                obj.holders.append({"pid": p.pid, "comm": p.comm, "fd": d.fd})
    return InFlightObjects(list(found.values()), warnings)
