"""One dated fact of a checkpoint (``Event``), how sure its time is (``CERTAINTIES``), and its
forms: the ``event`` record (text, JSON, JSON Lines, CSV with Timesketch's fields) and a line
of The Sleuth Kit's body format (``bodyfile``, for ``mactime -b``).

Times are kept as integer nanoseconds since the epoch (``Event.ns``), so the runtime's
nanosecond times sort exactly and a time no ``datetime`` can hold (a hostile year 99999) is
still ordered; an event whose time could not be read, or that has none (a deleted file), has
``ns`` None and is listed after every dated one.

References: The Sleuth Kit wiki, "Body file" (format 3.x: ``MD5|name|inode|mode_as_string|UID|
GID|size|atime|mtime|ctime|crtime``) and mactime's reading of it (a time of -1 is left out, 0
is shown undated as ``Xxx Xxx 00 0000``, a line with every time 0 is skipped); Timesketch's
import format (``message``, ``datetime`` ISO 8601, ``timestamp_desc``; ``timestamp`` in
microseconds).
"""

from __future__ import annotations

import datetime as dt
import re
import stat
from dataclasses import dataclass, field
from typing import Any, TextIO

from checkforensics.records.declare import Answer, Column, Field, RecordType
from checkforensics.records.values import INTEGER, LIST, LONG, OBJECT, SIZE, TEXT, TIME
from checkforensics.render.escape import printable
from checkforensics.render.sections import section_items

# How sure an event's time is: each certainty with what it means (docs/commands/timeline.md).
CERTAINTIES = {
    "exact": "recorded by the container runtime or CRIU itself when it happened (config.dump, status.dump, "
    "the CRI log's own line times); the container's processes cannot change it",
    "file-mtime": "a modification time kept in an archive's entry (a file of rootfs-diff.tar, a checkpoint "
    "member): whoever wrote the file, an intruder too, can set it (touch -d)",
    "file-atime": "an access time CRIU kept of a deleted-but-open file: reads move it (unless the mount is "
    "noatime; relatime moves it at most daily), and touch -a sets it",
    "file-name": "read from the checkpoint's file name (the kubelet's checkpoint-POD_NS-CONTAINER-TIME.tar): "
    "anyone who can rename the file can change it",
    "shell": "the time a shell (readline) stored beside a history entry when the line was entered, read "
    "from the process's memory, to the second: whoever runs the shell can forge it (history -s, a history file "
    "read back with history -r)",
    "none": "no time at all: listed after every dated event, never placed (a deleted file)",
}
NANOS = 1_000_000_000
_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9})\d*)?(Z|z|[+-]\d\d:\d\d)$"
)
_GO_ZERO_YEAR = 1  # Go's zero time (0001-01-01T00:00:00Z): "never", as containerd writes restoredTime


class TimeUnreadable(ValueError):
    """A time that is no time: not RFC 3339, not a number, or out of any calendar."""


def parse_rfc3339(text: Any) -> int | None:
    """An RFC 3339 time (nanoseconds kept) as nanoseconds since the epoch; None for Go's zero
    time and for an empty value; ``TimeUnreadable`` for anything else that is not one."""
    if text is None or text == "":
        return None
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if match is None:
        raise TimeUnreadable(f"not an RFC 3339 time: {str(text)[:80]!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if year == _GO_ZERO_YEAR:
        return None
    try:
        moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError as exc:
        raise TimeUnreadable(f"not a date: {text[:80]!r} ({exc})") from None
    zone = match[8]
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        moment -= sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    fraction = int((match[7] or "").ljust(9, "0"))
    return _epoch_seconds(moment) * NANOS + fraction


def parse_seconds(value: Any) -> int | None:
    """Seconds since the epoch (a number, or its text as an analysis wrote it) as nanoseconds;
    ``TimeUnreadable`` when it is no number."""
    if isinstance(value, bool):
        raise TimeUnreadable(f"not a number of seconds: {value!r}")
    if isinstance(value, int):
        return value * NANOS
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TimeUnreadable(f"not a number of seconds: {str(value)[:80]!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise TimeUnreadable(f"not a number of seconds: {value!r}")
    return round(number * NANOS)


def parse_nanos(value: Any) -> int | None:
    """Nanoseconds since the epoch as containerd writes them (status.dump, status); 0 is its
    "never"; ``TimeUnreadable`` for what is no integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TimeUnreadable(f"not a number of nanoseconds: {str(value)[:80]!r}")
    return value or None


def _epoch_seconds(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(seconds=1)


def iso_time(ns: int | None) -> str | None:
    """Nanoseconds since the epoch as RFC 3339 in UTC, to the nanosecond (trailing zeros of the
    fraction dropped, none at all for a whole second); None for None and for a time outside the
    years 1 to 9999, which no ISO 8601 reader takes."""
    if ns is None:
        return None
    seconds, nanos = divmod(ns, NANOS)
    try:
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    except OverflowError:
        return None
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"


@dataclass
class Event:
    """One dated fact (or an undated one: ``ns`` None) of one or more checkpoints.

    ``source``: the registry's name of what found it (``sources.py``); ``what``: the kind of
    fact, Timesketch's ``timestamp_desc`` (``Container Created``); ``member``: where in the
    checkpoint it is recorded; ``subject``: what it is about, for telling one fact from another
    when checkpoints are merged (a path, a log line's text); ``file``: a file's mode, owner and
    size, for the body file; ``runtime_made``: why a file is the runtime's doing, not the
    container's (``rootfs.runtime_reason``); ``checkpoints``: the checkpoints that hold it."""

    ns: int | None
    source: str
    what: str
    certainty: str
    message: str
    member: str | None = None
    subject: str = ""
    file: FileFacts | None = None
    details: dict[str, Any] = field(default_factory=dict)
    runtime_made: str | None = None  # a file the runtime made, not the container (why): shown with --all
    column: str = "mtime"  # which of a file's times it is: the body file's column (mtime, atime)
    checkpoints: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes two checkpoints' events the same fact: the same thing at the same time."""
        return (self.ns, self.source, self.what, self.member, self.subject)

    @property
    def datetime(self) -> str | None:
        return iso_time(self.ns)

    @property
    def timestamp(self) -> int | None:
        """Microseconds since the epoch (Timesketch's ``timestamp``)."""
        return None if self.ns is None else self.ns // 1000


@dataclass(frozen=True)
class FileFacts:
    """What a layer archive's entry says of a file besides its time."""

    path: str
    type: str
    mode: int  # the permission bits
    uid: int
    gid: int
    size: int
    deleted: bool = False  # a deleted file still open (CRIU's ghost file): its name says so


_TYPE_LETTERS = {"file": "-", "dir": "d", "symlink": "l", "hardlink": "-", "char": "c", "block": "b", "fifo": "p"}


def mode_string(facts: FileFacts) -> str:
    """``-rw-r--r--`` as ``ls -l`` shows it (the body file's mode_as_string)."""
    return _TYPE_LETTERS.get(facts.type, "?") + stat.filemode(facts.mode)[1:]


BODY_MESSAGE = 200  # a pseudo-entry's name keeps this much of its message (the rest is in JSON)
PSEUDO_MODE = "----------"  # a body file line that is no file: an event of the runtime, a log line
_BODY_FIELD = re.compile(r"[|]")


def _body_text(text: str) -> str:
    """Evidence made safe for one field of a body file line: no control character, no ``|``."""
    return _BODY_FIELD.sub(r"\\x7c", printable(text))


def bodyfile_line(event: Event) -> str:
    """The event as one body file line. A file is itself (its mode, owner, size, and its mtime;
    the times the archive does not keep are -1, which mactime leaves out); any other event a
    pseudo-entry named ``[SOURCE] WHAT: MESSAGE`` at its time; an undated one has mtime 0,
    which mactime lists under ``Xxx Xxx 00 0000`` (listed, not placed), and so has one dated
    before 1970, which a body file cannot hold (mactime reads -1 as "no time" and drops the
    other negative times)."""
    seconds = 0 if event.ns is None or event.ns < 0 else event.ns // NANOS  # mactime skips negative times
    where = f" ({_names(event.checkpoints)})" if event.checkpoints else ""
    if event.file is not None and event.ns is not None:
        facts = event.file
        name = facts.path + (" (deleted)" if facts.deleted else "") + where
        fields = [mode_string(facts), facts.uid, facts.gid, facts.size]
    else:
        message = event.message if len(event.message) <= BODY_MESSAGE else event.message[:BODY_MESSAGE] + "…"
        name = f"[{event.source}] {event.what}: {message}{where}"
        fields = [PSEUDO_MODE, 0, 0, 0]
    times = {"atime": -1, "mtime": -1, "ctime": -1, "crtime": -1}
    times[event.column if event.file is not None and event.ns is not None else "mtime"] = seconds
    return "|".join(map(str, ["0", _body_text(name), 0, *fields, *times.values()]))


def write_bodyfile(answer: Answer, stream: TextIO) -> int:
    """The answer's events as a body file, one line each (``--format bodyfile``: an ``Export``);
    how many lines."""
    count = 0
    for section in answer.sections:
        for event, _context in section_items(section):
            stream.write(bodyfile_line(event) + "\n")
            count += 1
    return count


def _names(paths: list[str]) -> str:
    return " ".join(path.rpartition("/")[2] for path in paths)


EVENT = RecordType(
    "event",
    "events",
    (
        Field("datetime", TIME, "RFC 3339 in UTC, to the nanosecond where recorded so; null: no time (listed after "
              "every dated event)"),
        Field("timestamp", INTEGER, "microseconds since the epoch (Timesketch's timestamp)"),
        Field("timestamp_desc", TEXT, "what happened at that time: Container Created, Checkpointed, Log Line, "
              "File Modified, ... (Timesketch's timestamp_desc)", get=lambda e: e.what),
        Field("message", TEXT, "the event in words"),
        Field("source", TEXT, "what found it: a registered source (runtime, checkpoint, log, files, ghosts)"),
        Field("certainty", TEXT, "how sure the time is: " + ", ".join(CERTAINTIES)),
        Field("member", TEXT, "where in the checkpoint it is recorded"),
        Field("path", TEXT, "the file, for a file's event", get=lambda e: e.file.path if e.file else None,
              sometimes=True),
        Field("mode", TEXT, "its type and permissions as ls -l shows them",
              get=lambda e: mode_string(e.file) if e.file else None, sometimes=True),
        Field("uid", INTEGER, get=lambda e: e.file.uid if e.file else None, sometimes=True),
        Field("gid", INTEGER, get=lambda e: e.file.gid if e.file else None, sometimes=True),
        Field("size", SIZE, get=lambda e: e.file.size if e.file else None, sometimes=True),
        Field("runtime_made", TEXT, "a file the container runtime made, not the container: why (mount point, "
              "default device, spec device, default link); listed with --all", sometimes=True),
        Field("details", OBJECT, "facts of the event's own, by name (CRIU's freezing and frozen times)",
              get=lambda e: e.details or None, sometimes=True),
        Field("checkpoints", LIST, "the checkpoints that hold the event (one fact found in several is one event)"),
    ),
    columns=(
        "datetime", "source", "certainty", Column("WHAT", "timestamp_desc"), Column("MESSAGE", "message", hint=LONG),
        Column("CHECKPOINTS", "checkpoints", get=lambda e: _names(e.checkpoints)),
    ),
    doc="One dated fact of one or more checkpoints (or an undated one, after the dated).",
)  # fmt: skip
