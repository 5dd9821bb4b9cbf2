"""Every open descriptor of every process, and its sockets: what ``files`` and ``sockets`` answer."""

from __future__ import annotations

from collections.abc import Iterable

from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel
from checkforensics.model.descriptions import DESCRIPTOR, DESCRIPTOR_WITH_DATA, peer_text, preview, what
from checkforensics.model.files import SOCKET_TYPES, Descriptor, ProcessFiles
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import INTEGER, SIZE, TEXT


def _style(d: Descriptor) -> str | None:
    if d.deleted:
        return "red"
    if d.state == "LISTEN":
        return "green"
    return "yellow" if d.inflight else None


def _data(d: Descriptor) -> str | None:
    return "; ".join(f"{i.kind} {len(i.data)} B: {preview(i.data, 40)}" for i in d.inflight) or None


def _sockets(p: ProcessFiles) -> list[Descriptor]:
    return [d for d in p.descriptors if d.type in SOCKET_TYPES]


PID = Field("pid", INTEGER)
COMM = Field("comm", TEXT)
_FILE_COLUMNS = ("pid", "comm", "fd", "type", Column("WHAT", get=what), "flags", "pos")

FILES = RecordType(
    "process", "processes",
    (PID, COMM, Field("fds", record=DESCRIPTOR, get=lambda p: p.descriptors)),
    _FILE_COLUMNS, "A process and its descriptors (files).", style=_style, expand="fds",
)  # fmt: skip
FILES_WITH_DATA = RecordType(
    "process", "processes",
    (PID, COMM, Field("fds", record=DESCRIPTOR_WITH_DATA, get=lambda p: p.descriptors)),
    (*_FILE_COLUMNS, Column("DATA", get=_data)), "A process and its descriptors (files --data).",
    style=_style, expand="fds",
)  # fmt: skip
SOCKETS = RecordType(
    "process", "processes",
    (PID, COMM, Field("fds", record=DESCRIPTOR, get=_sockets)),
    ("pid", "comm", "fd", "family", Column("TYPE", "sock_type"), "proto", "state", "ino", "local", "remote",
     Column("PEER (PID:FD)", get=peer_text, hint=TEXT),
     Column("RECV-Q", get=lambda d: d.details.get("recv_queue")),
     Column("SEND-Q", get=lambda d: d.details.get("send_queue")),
     Column("RCVBUF", get=lambda d: d.details.get("recv_buffer"), hint=SIZE),
     Column("SNDBUF", get=lambda d: d.details.get("send_buffer"), hint=SIZE)),
    "A process and its sockets.", style=_style, expand="fds",
)  # fmt: skip


def descriptors(model: CheckpointModel, pids: Iterable[int] = (), *, with_data: bool = False,
                sockets: bool = False) -> Answer:  # fmt: skip
    """The descriptor table of the processes ``pids`` (all by default), or their sockets. The
    table is built for every process (sharing spans processes), then cut."""
    chosen = {process.pid for process in model.processes(pids)}
    table = model.files(with_data=with_data)
    kind = SOCKETS if sockets else FILES_WITH_DATA if with_data else FILES
    listed = [p for p in table.processes if p.pid in chosen]
    untold = model.diagnostics.untold
    return Answer(
        [Section(kind, listed)],
        nothing="no sockets" if sockets else "no descriptors",
        warnings=[*untold(parts=(Part.LISTING, Part.PROCESSES)), *untold(parts=(Part.FILES,))],
        about=frozenset(pids) or None,
    )
