"""A descriptor in a few words, as files, inspect, triage and the report show it; and its JSON record."""

from __future__ import annotations

import hashlib
import stat
from typing import Any

from checkforensics.model.files import SOCKET_TYPES, Descriptor
from checkforensics.records.declare import Field, RecordType
from checkforensics.records.values import ANY, FLAG, INTEGER, LIST, OBJECT, TEXT

_PREVIEW = 64


def preview(data: bytes, limit: int = _PREVIEW) -> str:
    """Printable ASCII kept, everything else escaped; cut at ``limit`` bytes with an ellipsis."""
    shown = data[:limit]
    text = "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in shown)
    return text + ("…" if len(data) > limit else "")


# A regular-file entry (CRIU's REG: reg-files.img) is any path opened: a directory (every cwd and
# root), a device, a symlink opened with O_PATH. CRIU records the inode's st_mode with it.
_MODE_TYPES = ((stat.S_ISDIR, "DIR"), (stat.S_ISCHR, "CHR"), (stat.S_ISBLK, "BLK"), (stat.S_ISFIFO, "FIFO"),
               (stat.S_ISLNK, "LNK"), (stat.S_ISSOCK, "SOCK"))  # fmt: skip


def kind(d: Descriptor) -> str:
    """What the descriptor is: CRIU's kind, except that a REG entry is named by the file type of
    the mode CRIU recorded (``DIR``, ``CHR``, ...; REG for a regular file, or with no mode)."""
    mode = d.details.get("mode") if d.type == "REG" else None
    if isinstance(mode, int):
        return next((name for test, name in _MODE_TYPES if test(mode)), d.type)
    return d.type


def what(d: Descriptor) -> str:
    """One line saying what the descriptor is."""
    if d.type in SOCKET_TYPES:
        text = socket_summary(d.family, d.proto or d.sock_type, d.state, d.local, d.remote, d.peer, d.ino)
        held = peer_text(d)
        return text + (f" (peer {held})" if held and held != "-" else "")
    if d.type in ("PIPE", "FIFO"):
        text = f"pipe:[{d.pipe_id}]" + (f" {d.path}" if d.path else "")
        shared = d.details.get("shared_with")
        return text + (f" (also {', '.join(shared)})" if shared else "")
    summary = _anon_summary(d)
    if summary is not None:
        return summary
    text = d.path or "-"
    if d.deleted:
        text += " (deleted)"
    return text


def socket_summary(
    family: str | None,
    transport: str | None,
    state: str | None,
    local: str | None,
    remote: str | None,
    peer: int | None = None,
    ino: int | None = None,
) -> str:
    """A socket in a few words: ``INET TCP ESTABLISHED 127.0.0.1:80 -> 10.0.0.2:4431``
    (``transport`` is the protocol, TCP or UDP..., or for a UNIX socket its type); a UNIX
    socket without names by inodes, its own and its peer's: ``ino 205366 -> ino 205365``."""
    ends = local or (f"ino {ino}" if family == "UNIX" and ino else "-")
    if remote and not remote.endswith(":0") and remote != local:
        ends += f" -> {remote}"
    elif peer and family == "UNIX":
        ends += f" -> ino {peer}"
    kind = " ".join(part for part in (family, transport, state) if part)
    return f"{kind} {ends}"


def peer_text(d: Descriptor) -> str | None:
    """Who holds a socket's other end, as ``ss -p`` names users: ``17453:5,9 (sk-client)`` for
    each process holding it; ``-`` when that end is outside the checkpoint; None when the
    socket has no other end."""
    if d.peer_holders is None:
        return None
    by_pid: dict[int, tuple[str | None, list[str]]] = {}
    for holder in d.peer_holders:
        by_pid.setdefault(holder["pid"], (holder["comm"], []))[1].append(str(holder["fd"]))
    return ", ".join(f"{pid}:{','.join(fds)} ({comm})" for pid, (comm, fds) in by_pid.items()) or "-"


def _anon_summary(d: Descriptor) -> str | None:
    """What an eventfd, epoll, signalfd, timerfd or inotify descriptor holds, in a few words."""
    details = d.details
    if d.type == "EVENTFD" and "counter" in details:
        return f"count {details['counter']}"
    if d.type == "EVENTPOLL":
        watched = [str(watch["fd"]) for watch in details.get("watches", [])]
        return f"watching fd {', '.join(watched)}" if watched else "watching nothing"
    if d.type == "SIGNALFD":
        return " ".join(details.get("signals", [])) or "no signals"
    if d.type == "TIMERFD" and "value_ns" in details:
        value, interval = details["value_ns"], details["interval_ns"]
        if not value:
            return f"{details['clock']}, disarmed"
        # CRIU keeps the time left (from fdinfo), also for a timer set to an absolute time
        every = f", every {interval / 1e9:g} s" if interval else ""
        return f"{details['clock']}, fires in {value / 1e9:.3f} s{every}"
    if d.type == "NS" and "ns" in details:
        return f"{details['ns']} namespace (CRIU ns id {details['ns_id']})"
    if d.type == "TUNF" and "netdev" in details:
        return f"/dev/net/tun, attached to {details['netdev'] or 'no device'}"
    if d.type == "INOTIFY":
        paths = [watch["path"] or f"inode {watch['inode']}" for watch in details.get("watches", [])]
        return f"watching {', '.join(paths)}" if paths else "watching nothing"
    return None


def _inflight(d: Descriptor, with_data: bool) -> list[dict[str, Any]]:
    return [
        {"kind": item.kind, "size": len(item.data), "sha256": hashlib.sha256(item.data).hexdigest(),
         "complete": item.complete, **({"preview": preview(item.data)} if with_data else {})}
        for item in d.inflight
    ]  # fmt: skip


_KIND_KEYS = ("flags", "pos", "size", "family", "sock_type", "proto", "state", "local", "remote", "ino", "peer",
              "pipe_id")  # fmt: skip


def _descriptor_type(with_data: bool) -> RecordType:
    inflight = Field(
        "inflight",
        LIST,
        "the data still in flight: kind, size, sha256, complete (and preview, with --data)",
        get=(lambda d: _inflight(d, True)) if with_data else (lambda d: _inflight(d, False) or None),
        sometimes=not with_data,
    )
    return RecordType(
        "descriptor",
        "fds",
        (
            Field("fd", ANY, 'the number, or "cwd", "root", "exe"'),
            Field("type", TEXT, "CRIU's kind: REG, PIPE, UNIXSK, INETSK, ...; a REG entry's by its mode: DIR, CHR, ...",
                  get=kind),
            Field("id", INTEGER, "the file's id in the checkpoint", get=lambda d: d.file_id),
            Field("path", TEXT),
            Field("deleted", FLAG),
            *(Field(key, sometimes=True) for key in _KIND_KEYS),
            Field("peer_holders", LIST, "a socket with another end: every descriptor holding that end (pid, comm, fd), "
                  "as ss -p names users; [] when it is outside the checkpoint", sometimes=True),
            Field("details", OBJECT, "kind-specific keys (counter, watches, seals, ...)", spread=True),
            inflight,
        ),
        doc="An open descriptor (also a process's cwd, root and exe).",
    )


DESCRIPTOR = _descriptor_type(False)
DESCRIPTOR_WITH_DATA = _descriptor_type(True)


def descriptor_record(d: Descriptor, with_data: bool = False) -> dict[str, Any]:
    """The JSON form of a descriptor; with ``with_data``, previews of the data in flight."""
    return (DESCRIPTOR_WITH_DATA if with_data else DESCRIPTOR).json(d)
