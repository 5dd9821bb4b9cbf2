"""The container's log as the checkpoint keeps it: containerd's ``container.log``, Podman's
``ctr.log``.

Both are in the CRI logging format the kubelet reads (one line per write: ``TIMESTAMP STREAM
TAG MESSAGE``, the timestamp RFC 3339 with nanoseconds, the stream ``stdout`` or ``stderr``,
the tag ``F`` for a full line or ``P`` for a piece of a longer one, which the runtime cuts at
its line size limit, 16 KiB in containerd). Entries are read streaming, line by line, each line
bounded; ``join_partial`` puts pieces back together the way ``kubectl logs`` shows them.

References: Kubernetes' CRI logging format (pkg/kubelet/kuberuntime/logs); containerd's
internal/cri/server/container_checkpoint_linux.go (the log file copied as container.log).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from checkforensics.diagnostics import Diagnostics, Part
from checkforensics.model import CheckpointModel
from checkforensics.records.declare import Answer, Field, RecordType, Section
from checkforensics.records.values import FLAG, INTEGER, MISSING, TEXT, TIME

LOG_MEMBERS = ("container.log", "ctr.log")  # containerd's, Podman's (conmon's k8s-file log)
LINE_LIMIT = 1 << 20  # one line kept at most this long; the rest is dropped, and said so
JOIN_LIMIT = 16 << 20  # a message joined from pieces at most this long
STREAMS = ("stdout", "stderr")
FULL, PARTIAL = "F", "P"
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_TAGS = re.compile(r"[A-Z](:[A-Z])*$")


@dataclass(frozen=True)
class LogEntry:
    """One line of the log (with ``join_partial``: one message, made of ``pieces`` lines)."""

    line: int  # where it starts in the log member, counting from 1
    time: str | None  # None: the line is not in the CRI format, ``message`` is all of it
    stream: str | None
    tag: str | None  # "F", "P", or several joined by ":"
    message: str  # decoded as UTF-8, undecodable bytes as \xNN
    pieces: int = 1
    truncated: bool = False  # longer than the limit: the rest was not kept

    @property
    def partial(self) -> bool:
        return self.tag is not None and PARTIAL in self.tag.split(":")

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "time": self.time,
            "stream": self.stream,
            "tag": self.tag,
            "message": self.message,
            "pieces": self.pieces,
            "truncated": self.truncated,
        }


@dataclass
class ContainerLog:
    """The log member of a checkpoint, open for reading once, in order."""

    member: str
    handle: BinaryIO
    diagnostics: Diagnostics = field(default_factory=Diagnostics)  # the checkpoint's: lines cut, foreign lines

    @property
    def warnings(self) -> list[str]:
        """What reading the lines so far found (said as they are read)."""
        return self.diagnostics.said(Part.LOG)

    def entries(self, *, join: bool = False, streams: Iterable[str] = ()) -> Iterator[LogEntry]:
        """Every line (or, with ``join``, every whole message), of the chosen streams only
        when any are given. Lines not in the CRI format belong to no stream: they are left
        out when streams are chosen."""
        found: Iterator[LogEntry] = iter_log(self.handle, self.diagnostics, self.member)
        if join:
            found = join_partial(found, self.diagnostics, self.member)
        wanted = set(streams)
        return (entry for entry in found if not wanted or entry.stream in wanted)

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> ContainerLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _text_line(entry: LogEntry) -> str:
    """The line as text: its time, stream, tag and message (a line not in the CRI format: as it is)."""
    if entry.time is None:
        return entry.message
    return " ".join((entry.time, entry.stream or MISSING, entry.tag or MISSING, entry.message))


LOG_ENTRY = RecordType(
    "entry",
    "entries",
    (
        Field("line", INTEGER, "its line in the member, from 1 (a joined message: its first piece's)"),
        Field("time", TIME, "as the runtime wrote it (nanoseconds kept)"),
        Field("stream", TEXT, "stdout or stderr; null for a line not in the CRI format"),
        Field("tag", TEXT, "F a full line, P a piece of a longer one"),
        Field("message", TEXT, "the text as UTF-8, undecodable bytes as \\xNN, control characters kept"),
        Field("pieces", INTEGER, "the lines --join put together"),
        Field("truncated", FLAG, "longer than the limits; the rest was not kept"),
    ),
    doc="A line (or, with --join, a message) of the container's log.",
    line=_text_line,
)


def container_log(model: CheckpointModel, *, join: bool = False, streams: Iterable[str] = ()) -> Iterator[Answer]:
    """The container's log as records, read as they are written (the one answer is yielded
    while the member is open)."""
    with open_container_log(model) as log:
        yield Answer(
            [Section(LOG_ENTRY, log.entries(join=join, streams=streams))],
            nothing=f"{log.member} holds no line" + (" of those streams" if streams else ""),
            head={"archive": str(model.path), "member": log.member},
        )  # what reading it finds is said to the model's diagnostics as the lines are written


def open_container_log(model: CheckpointModel) -> ContainerLog:
    """The checkpoint's container log; MemberNotFoundError when it kept none."""
    for name in LOG_MEMBERS:
        handle = model.open_metadata(name)
        if handle is not None:
            return ContainerLog(name, handle, model.diagnostics)
    raise model.archive.not_found(f"no container log in the checkpoint (looked for {', '.join(LOG_MEMBERS)})")


def parse_line(number: int, raw: bytes) -> LogEntry:
    """One line (without its newline) of a CRI log."""
    text = raw.decode("utf-8", "backslashreplace")
    parts = text.split(" ", 3)
    if len(parts) >= 3 and _TIME.match(parts[0]) and parts[1] in STREAMS and _TAGS.match(parts[2]):
        return LogEntry(number, parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else "")
    return LogEntry(number, None, None, None, text)


def iter_log(handle: BinaryIO, diagnostics: Diagnostics, where: str = "log") -> Iterator[LogEntry]:
    """The lines of a CRI log, in file order, each at most LINE_LIMIT bytes long; lines cut and
    lines not in the format are said to ``diagnostics``."""
    foreign = 0
    number = 0
    while True:
        raw = handle.readline(LINE_LIMIT + 1)
        if not raw:
            break
        number += 1
        truncated = len(raw) > LINE_LIMIT and not raw.endswith(b"\n")
        if truncated:
            raw = raw[:LINE_LIMIT]
            while (rest := handle.readline(LINE_LIMIT)) and not rest.endswith(b"\n"):
                pass
            diagnostics.warn(
                f"line {number} is longer than {LINE_LIMIT} bytes; the rest was not kept", where=where, part=Part.LOG
            )
        entry = parse_line(number, raw.rstrip(b"\n"))
        if entry.time is None:
            foreign += 1
        yield replace(entry, truncated=True) if truncated else entry
    if foreign:
        diagnostics.warn(
            f"{foreign} of {number} lines are not in the CRI log format; shown as they are", where=where, part=Part.LOG
        )


def join_partial(entries: Iterable[LogEntry], diagnostics: Diagnostics, where: str = "log") -> Iterator[LogEntry]:
    """Pieces (tag P) put together with the line that ends them, per stream, as ``kubectl logs``
    shows them: the message takes the first piece's time and line. Pieces left without their
    end (the checkpoint came in between) are given as they are, marked partial."""
    pending: dict[str | None, list[LogEntry]] = {}
    for entry in entries:
        if entry.time is None:
            yield entry
            continue
        pieces = pending.setdefault(entry.stream, [])
        pieces.append(entry)
        size = sum(len(piece.message) for piece in pieces)
        if entry.partial and size < JOIN_LIMIT:
            continue
        if entry.partial:
            start = pieces[0].line
            what = f"the message from line {start} is longer than {JOIN_LIMIT} bytes; cut there"
            diagnostics.warn(what, where=where, part=Part.LOG)
        yield _joined(pending.pop(entry.stream), truncated=entry.partial)
    for pieces in pending.values():
        if pieces:
            yield _joined(pieces, truncated=False)


def _joined(pieces: list[LogEntry], *, truncated: bool) -> LogEntry:
    first, last = pieces[0], pieces[-1]
    if len(pieces) == 1:
        return replace(first, truncated=first.truncated or truncated)
    return LogEntry(
        line=first.line,
        time=first.time,
        stream=first.stream,
        tag=last.tag,
        message="".join(piece.message for piece in pieces),
        pieces=len(pieces),
        truncated=truncated or any(piece.truncated for piece in pieces),
    )
