"""Open descriptors of every process: files, pipes, sockets, and the data still in flight.

A descriptor (fdinfo-N.img) points at a file id; the file's kind and details are in files.img
(CRIU 3.x and later) or, in older dumps, in one image per kind.  What no process had read yet
is in pipes-data/fifo-data (pipe buffers), sk-queues (socket queues), tcp-stream-INODE (TCP
queues), ghost-file-N (deleted files' content) and the shmem pages of memfds.

References: images/fdinfo.proto, criu/files.c, criu/sk-inet.c, criu/sk-unix.c, criu/pipes.c,
criu/files-reg.c (ghost and linked remaps), criu/memfd.c (CRIU 4.2).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Any

from checkforensics.analysis.memory import AddressSpace, Vma, normalise_pagemap
from checkforensics.analysis.processes import ProcessTree, load_mm
from checkforensics.archive import Checkpoint
from checkforensics.errors import CheckforensicsError
from checkforensics.images.flags import OpenFlags, SockFamily, SockType, TcpState
from checkforensics.images.load import load_image, text

# Older dumps keep each kind of file in its own image; files.img replaced them all.
_LEGACY_IMAGES = {
    "reg-files.img": "reg",
    "inetsk.img": "isk",
    "unixsk.img": "usk",
    "pipes.img": "pipe",
    "fifo.img": "fifo",
    "eventfd.img": "efd",
    "eventpoll.img": "epfd",
    "signalfd.img": "sgfd",
    "timerfd.img": "tfd",
    "inotify.img": "ify",
    "fanotify.img": "ffy",
    "netlinksk.img": "nlsk",
    "packetsk.img": "psk",
    "tunfile.img": "tunf",
    "ext-files.img": "ext",
    "ns-files.img": "nsf",
    "tty.img": "tty",
}

# Which FileEntry field holds the details of each descriptor kind.
_FIELD_BY_TYPE = {
    "REG": "reg", "PIPE": "pipe", "FIFO": "fifo", "INETSK": "isk", "UNIXSK": "usk", "EVENTFD": "efd",
    "EVENTPOLL": "epfd", "INOTIFY": "ify", "SIGNALFD": "sgfd", "PACKETSK": "psk", "TTY": "tty",
    "FANOTIFY": "ffy", "NETLINKSK": "nlsk", "NS": "nsf", "TUNF": "tunf", "EXT": "ext", "TIMERFD": "tfd",
    "MEMFD": "memfd", "BPFMAP": "bpf", "PIDFD": "pidfd",
}

_PREVIEW = 64
SOCKET_TYPES = frozenset({"INETSK", "UNIXSK", "NETLINKSK", "PACKETSK"})


@dataclass
class InFlight:
    """Bytes CRIU saved that no process had consumed yet."""

    kind: str  # pipe, fifo, unix-queue, tcp-inq, tcp-outq, deleted-file, memfd
    data: bytes
    complete: bool = True  # False when only part could be read (e.g. a sparse ghost file)


@dataclass
class Descriptor:
    fd: int | str  # the number, or "cwd", "root", "exe"
    type: str  # REG, PIPE, UNIXSK, INETSK, ... (CRIU's fd type names)
    file_id: int
    path: str | None = None
    deleted: bool = False
    flags: str | None = None
    pos: int | None = None
    size: int | None = None
    family: str | None = None
    sock_type: str | None = None
    proto: str | None = None
    state: str | None = None
    local: str | None = None
    remote: str | None = None
    ino: int | None = None
    peer: int | None = None
    pipe_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    inflight: list[InFlight] = field(default_factory=list)


@dataclass
class ProcessFiles:
    pid: int
    comm: str | None
    descriptors: list[Descriptor]


@dataclass
class FileTable:
    processes: list[ProcessFiles]
    warnings: list[str] = field(default_factory=list)


def _enum_name(message: Any, field_name: str) -> str:
    value = getattr(message, field_name)
    described = message.DESCRIPTOR.fields_by_name[field_name].enum_type.values_by_number.get(value)
    return described.name if described is not None else str(value)


# Open flags crit's flag table leaves out (so they stay out of OpenFlags, which crit_json
# prints with): open(2)'s O_SYNC includes O_DSYNC, and its O_TMPFILE includes O_DIRECTORY.
_O_SYNC, _O_PATH, _O_TMPFILE = 0o04000000, 0o10000000, 0o20000000


def _flag_names(value: int) -> str:
    """``O_RDWR | O_APPEND``: the access mode, then the other flags as open(2) spells them."""
    hidden = OpenFlags(0)
    if value & _O_TMPFILE:
        hidden |= OpenFlags.O_DIRECTORY
    if value & _O_SYNC:
        hidden |= OpenFlags.O_DSYNC
    names = [flag.name or "" for flag in OpenFlags if value & flag and not hidden & flag]
    extra = ((_O_SYNC, "O_SYNC"), (_O_PATH, "O_PATH"), (_O_TMPFILE, "O_TMPFILE"))
    names += [name for bit, name in extra if value & bit]
    if value & _O_PATH:
        access, names = "", ["O_PATH", *(name for name in names if name != "O_PATH")]  # neither read nor written
    elif value & OpenFlags.O_RDWR:
        access, names = "O_RDWR", [name for name in names if name != "O_RDWR"]
    elif value & OpenFlags.O_WRONLY:
        access, names = "O_WRONLY", [name for name in names if name != "O_WRONLY"]
    else:
        access = "O_RDONLY"
    return " | ".join(([access] if access else []) + names)


def _signal_names(mask: int) -> list[str]:
    """The signals of a sigset (bit n-1 is signal n), with realtime ones as SIGRTMIN+k."""
    import signal

    names = []
    for number in range(1, 65):
        if not mask & (1 << (number - 1)):
            continue
        if number >= signal.SIGRTMIN:
            names.append(f"SIGRTMIN+{number - signal.SIGRTMIN}" if number - signal.SIGRTMIN else "SIGRTMIN")
            continue
        try:
            names.append(signal.Signals(number).name)
        except ValueError:
            names.append(f"signal {number}")
    return names


NAMESPACES = {  # CLONE_NEW* -> how /proc/PID/ns names the namespace
    0x00020000: "mnt", 0x02000000: "cgroup", 0x04000000: "uts", 0x08000000: "ipc", 0x10000000: "user",
    0x20000000: "pid", 0x40000000: "net", 0x00000080: "time",
}  # fmt: skip
CLOCKS = {0: "REALTIME", 1: "MONOTONIC", 7: "BOOTTIME", 8: "REALTIME_ALARM", 9: "BOOTTIME_ALARM"}


def _named(enum: Any, value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


def format_address(words: list[int], port: int, family: str) -> str:
    """``1.2.3.4:80`` or ``[::1]:80`` from CRIU's words in network byte order."""
    raw = b"".join(struct.pack("<I", word & 0xFFFFFFFF) for word in words)
    if family == "INET6" and len(raw) == 16:
        address = ipaddress.IPv6Address(raw)
        if address.ipv4_mapped is not None:  # as ss prints it (Python < 3.13 would say ::ffff:7f00:1)
            return f"[::ffff:{address.ipv4_mapped}]:{port}"
        return f"[{address.compressed}]:{port}"
    if len(raw) >= 4:
        return f"{ipaddress.IPv4Address(raw[:4])}:{port}"
    return f"?:{port}"


def unix_name(name: bytes, directory: str | bytes | None = None) -> str | None:
    """A UNIX socket address: a path, ``@name`` for the abstract namespace, None when unbound.

    CRIU keeps a path's terminating NUL, and a path bound relative to the working directory
    as it was given, with that directory in ``name_dir``: shown joined, as one path.
    """
    if not name:
        return None
    if name.startswith(b"\0"):  # abstract: every byte counts, NULs included
        return "@" + name[1:].decode("utf-8", "backslashreplace")
    path = name.rstrip(b"\0").decode("utf-8", "backslashreplace")
    if directory and not path.startswith("/"):
        path = f"{text(directory).rstrip('/')}/{path}"
    return path


# How /proc/net/unix and ss name the states of sockets without TCP's state machine (CRIU
# stores TCP's numbers for every socket).
_CONNECTIONLESS_STATES = {"ESTABLISHED": "CONNECTED", "CLOSE": "UNCONNECTED"}
IP_PROTOCOLS = {
    0: "IP", 1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 58: "ICMPV6", 132: "SCTP", 136: "UDPLITE", 255: "RAW",
}  # fmt: skip
NETLINK_PROTOCOLS = {
    0: "ROUTE", 2: "USERSOCK", 4: "SOCK_DIAG", 5: "NFLOG", 6: "XFRM", 7: "SELINUX", 8: "ISCSI", 9: "AUDIT",
    10: "FIB_LOOKUP", 11: "CONNECTOR", 12: "NETFILTER", 15: "KOBJECT_UEVENT", 16: "GENERIC", 18: "SCSITRANSPORT",
    19: "ECRYPTFS", 20: "RDMA", 21: "CRYPTO",
}  # fmt: skip
ETHERNET_PROTOCOLS = {0x0003: "ALL", 0x0800: "IP", 0x0806: "ARP", 0x86DD: "IPV6", 0x8100: "8021Q"}


class _Images:
    """The checkpoint's file-related images, each loaded once."""

    def __init__(self, checkpoint: Checkpoint, warnings: list[str]) -> None:
        self.checkpoint = checkpoint
        self.warnings = warnings
        self._cache: dict[str, list[Any]] = {}

    def entries(self, name: str, *, quiet: bool = False) -> list[Any]:
        if name not in self._cache:
            self._cache[name] = []
            if self.checkpoint.has_image(name):
                try:
                    self._cache[name] = load_image(self.checkpoint, name).entries
                except CheckforensicsError as exc:
                    self.warnings.append(str(exc))
            elif not quiet:
                self.warnings.append(f"{name}: missing")
        return self._cache[name]

    def messages(self, name: str, *, quiet: bool = False) -> list[Any]:
        return [entry.message for entry in self.entries(name, quiet=quiet)]


class FileResolver:
    """Turns file ids into Descriptors, with in-flight data attached."""

    def __init__(self, checkpoint: Checkpoint, warnings: list[str], *, with_data: bool = False) -> None:
        self.images = _Images(checkpoint, warnings)
        self.with_data = with_data
        self.files: dict[int, Any] = {}
        if checkpoint.has_image("files.img"):
            self.files = {entry.id: entry for entry in self.images.messages("files.img")}
        else:
            self._load_legacy()
        self.remaps = {r.orig_id: r for r in self.images.messages("remap-fpath.img", quiet=True)}
        self.unix_by_ino = {e.usk.ino: e.usk for e in self.files.values() if e.HasField("usk")}

    def _load_legacy(self) -> None:
        from checkforensics.images.registry import message_class

        file_entry = message_class("fdinfo:FileEntry")
        for image, field_name in _LEGACY_IMAGES.items():
            for message in self.images.messages(image, quiet=True):
                entry = file_entry()
                entry.id = message.id
                entry.type = _legacy_type(field_name)
                getattr(entry, field_name).CopyFrom(message)
                self.files[message.id] = entry

    def describe(self, fd: int | str, fd_type: str, file_id: int) -> Descriptor:
        entry = self.files.get(file_id)
        descriptor = Descriptor(fd, fd_type, file_id)
        if entry is None:
            descriptor.details["error"] = f"file id {file_id} not in files.img"
            return descriptor
        field_name = _FIELD_BY_TYPE.get(fd_type)
        body = getattr(entry, field_name) if field_name and entry.HasField(field_name) else None
        if body is None:
            return descriptor
        handler = getattr(self, f"_{field_name}", None)
        if handler is not None:
            handler(descriptor, body)
        return descriptor

    def path_of(self, file_id: int) -> str | None:
        entry = self.files.get(file_id)
        return text(entry.reg.name) if entry is not None and entry.HasField("reg") else None

    # One method per kind, named after the FileEntry field ------------------------------------

    def _reg(self, d: Descriptor, reg: Any) -> None:
        d.path, d.flags, d.pos = text(reg.name), _flag_names(reg.flags), reg.pos
        d.size = reg.size if reg.HasField("size") else None
        if reg.HasField("mode"):
            d.details["mode"] = reg.mode
        remap = self.remaps.get(reg.id)
        if remap is not None:
            kind = _enum_name(remap, "remap_type") if remap.HasField("remap_type") else "LINKED"
            d.details["remap"] = kind.lower()
            d.deleted = kind in ("GHOST", "LINKED")
            if kind == "GHOST" and self.with_data:
                self._ghost_content(d, remap.remap_id)

    def _ghost_content(self, d: Descriptor, remap_id: int) -> None:
        entries = self.images.entries(f"ghost-file-{remap_id}.img")
        if not entries:
            return
        ghost = entries[0].message
        if not ghost.chunks:
            d.inflight.append(InFlight("deleted-file", entries[0].extra or b""))
            return
        ends = [chunk.message.off + chunk.message.len for chunk in entries[1:]]
        size = ghost.size if ghost.HasField("size") else max(ends, default=0)
        content = bytearray(size)
        for chunk in entries[1:]:
            start = chunk.message.off
            content[start : start + len(chunk.extra or b"")] = chunk.extra or b""
        d.inflight.append(InFlight("deleted-file", bytes(content)))

    def _pipe(self, d: Descriptor, pipe: Any) -> None:
        d.pipe_id = pipe.pipe_id
        d.flags = _flag_names(pipe.flags)
        if self.with_data:
            self._buffer(d, "pipes-data.img", "pipe", pipe.pipe_id)

    def _fifo(self, d: Descriptor, fifo: Any) -> None:
        d.pipe_id = fifo.pipe_id
        d.path = self.path_of(fifo.regf_id) if fifo.HasField("regf_id") else None
        entry = self.files.get(fifo.regf_id) if fifo.HasField("regf_id") else None
        if entry is not None and entry.HasField("reg"):  # how it was opened is the named file's
            d.flags = _flag_names(entry.reg.flags)
        if self.with_data:
            self._buffer(d, "fifo-data.img", "fifo", fifo.pipe_id)

    def _buffer(self, d: Descriptor, image: str, kind: str, pipe_id: int) -> None:
        for entry in self.images.entries(image, quiet=True):
            if entry.message.pipe_id == pipe_id and entry.extra:
                d.inflight.append(InFlight(kind, entry.extra))

    def _usk(self, d: Descriptor, usk: Any) -> None:
        d.family = "UNIX"
        d.sock_type = _named(SockType, usk.type)
        d.state = _named(TcpState, usk.state)
        d.state = _CONNECTIONLESS_STATES.get(d.state, d.state)
        d.ino, d.peer = usk.ino, usk.peer or None
        d.local = unix_name(usk.name, usk.name_dir if usk.HasField("name_dir") else None)
        d.path = d.local
        peer = self.unix_by_ino.get(usk.peer) if usk.peer else None
        if peer is not None:
            d.remote = unix_name(peer.name, peer.name_dir if peer.HasField("name_dir") else None)
        if usk.HasField("deleted") and usk.deleted:
            d.deleted = True
        if usk.backlog:
            d.details["backlog"] = usk.backlog
        if self.with_data:
            self._socket_queue(d, usk.id)

    def _socket_queue(self, d: Descriptor, file_id: int) -> None:
        for entry in self.images.entries("sk-queues.img", quiet=True):
            if entry.message.id_for == file_id and entry.extra is not None:
                d.inflight.append(InFlight("unix-queue" if d.family == "UNIX" else "socket-queue", entry.extra))

    def _isk(self, d: Descriptor, isk: Any) -> None:
        d.family = _named(SockFamily, isk.family)
        d.sock_type = _named(SockType, isk.type)
        d.proto = IP_PROTOCOLS.get(isk.proto, str(isk.proto))
        d.state = _named(TcpState, isk.state)
        if d.proto != "TCP":  # UDP, raw: no TCP state machine; ss says UNCONN / ESTAB
            d.state = _CONNECTIONLESS_STATES.get(d.state, d.state)
        d.ino = isk.ino
        d.local = format_address(list(isk.src_addr), isk.src_port, d.family)
        d.remote = format_address(list(isk.dst_addr), isk.dst_port, d.family)
        if isk.backlog:
            d.details["backlog"] = isk.backlog
        stream = f"tcp-stream-{isk.ino:x}.img"
        if d.proto == "TCP" and self.images.checkpoint.has_image(stream):
            entries = self.images.entries(stream)
            if entries:
                queues = entries[0].message
                d.details["recv_queue"] = queues.inq_len
                d.details["send_queue"] = queues.outq_len
                if self.with_data and entries[0].extra is not None:
                    if entries[0].extra.inq:
                        d.inflight.append(InFlight("tcp-inq", entries[0].extra.inq))
                    if entries[0].extra.outq:
                        d.inflight.append(InFlight("tcp-outq", entries[0].extra.outq))
        if self.with_data:
            self._socket_queue(d, isk.id)

    def _memfd(self, d: Descriptor, memfd: Any) -> None:
        d.flags, d.pos = _flag_names(memfd.flags), memfd.pos
        inode = next((i for i in self.images.messages("memfd.img") if i.inode_id == memfd.inode_id), None)
        if inode is None:
            return
        d.path = f"memfd:{text(inode.name)}"
        d.size = inode.size
        d.details["seals"] = inode.seals
        if self.with_data:
            self._memfd_content(d, inode)

    def _memfd_content(self, d: Descriptor, inode: Any) -> None:
        name = f"pagemap-shmem-{inode.shmid}.img"
        pagemap = self.images.messages(name)
        if not pagemap:
            return
        pages = f"{self.images.checkpoint.images_prefix}pages-{pagemap[0].pages_id}.img"
        try:
            read_at, size = self.images.checkpoint.page_reader(pages)
        except CheckforensicsError as exc:
            self.images.warnings.append(str(exc))
            return
        space = AddressSpace([Vma(0, max(inode.size, 1), 0, 0, 0, 0, 0)], normalise_pagemap(pagemap[1:]), read_at, size)
        data, got = space.read_available(0, inode.size)
        d.inflight.append(InFlight("memfd", data, complete=got == inode.size))

    def _efd(self, d: Descriptor, efd: Any) -> None:
        d.flags = _flag_names(efd.flags)
        d.details["counter"] = efd.counter

    def _epfd(self, d: Descriptor, epfd: Any) -> None:
        d.flags = _flag_names(epfd.flags)
        d.details["watches"] = [{"fd": t.tfd, "events": t.events} for t in epfd.tfd]

    def _sgfd(self, d: Descriptor, sgfd: Any) -> None:
        d.flags = _flag_names(sgfd.flags)
        d.details["sigmask"] = sgfd.sigmask
        d.details["signals"] = _signal_names(sgfd.sigmask)

    def _tfd(self, d: Descriptor, tfd: Any) -> None:
        d.flags = _flag_names(tfd.flags)
        d.details.update(clockid=tfd.clockid, ticks=tfd.ticks, value_ns=tfd.vsec * 10**9 + tfd.vnsec,
                         interval_ns=tfd.isec * 10**9 + tfd.insec)
        d.details["clock"] = CLOCKS.get(tfd.clockid, str(tfd.clockid))
        d.details["absolute"] = bool(tfd.settime_flags & 1)  # set with TFD_TIMER_ABSTIME (value: time left)

    def _ify(self, d: Descriptor, ify: Any) -> None:
        d.flags = _flag_names(ify.flags)
        d.details["watches"] = [
            {"wd": w.wd, "inode": w.i_ino, "mask": w.mask, "path": text(w.f_handle.path) or None} for w in ify.wd
        ]

    def _nlsk(self, d: Descriptor, nlsk: Any) -> None:
        d.family, d.proto, d.ino = "NETLINK", NETLINK_PROTOCOLS.get(nlsk.protocol, str(nlsk.protocol)), nlsk.ino
        d.details["portid"] = nlsk.portid

    def _psk(self, d: Descriptor, psk: Any) -> None:
        d.family, d.sock_type = "PACKET", _named(SockType, psk.type)
        # the protocol is an EtherType in network byte order (htons(ETH_P_ALL) is 0x0300)
        ethertype = psk.protocol
        if ethertype < 0x10000:
            ethertype = int.from_bytes(ethertype.to_bytes(2, "little"), "big")
        d.proto = ETHERNET_PROTOCOLS.get(ethertype, f"{ethertype:#06x}")
        d.details["ifindex"] = psk.ifindex

    def _tty(self, d: Descriptor, tty: Any) -> None:
        info = next((i for i in self.images.messages("tty-info.img", quiet=True) if i.id == tty.tty_info_id), None)
        if info is not None:
            d.details["tty"] = _enum_name(info, "type")
            if info.HasField("pty"):
                d.details["index"] = info.pty.index
        if tty.HasField("regf_id"):
            d.path = self.path_of(tty.regf_id)

    def _tunf(self, d: Descriptor, tunf: Any) -> None:
        d.path = "/dev/net/tun"
        d.details["netdev"] = text(tunf.netdev) or None

    def _nsf(self, d: Descriptor, nsf: Any) -> None:
        d.details.update(ns_id=nsf.ns_id, ns_cflag=nsf.ns_cflag)
        d.details["ns"] = NAMESPACES.get(nsf.ns_cflag, f"{nsf.ns_cflag:#x}")
        d.flags = _flag_names(nsf.flags)

    def _bpf(self, d: Descriptor, bpf: Any) -> None:
        d.details.update(map_name=text(bpf.map_name), map_type=bpf.map_type, map_id=bpf.map_id)

    def _pidfd(self, d: Descriptor, pidfd: Any) -> None:
        d.details["pid"] = pidfd.nspid


def _legacy_type(field_name: str) -> int:
    from checkforensics.images.registry import message_class

    types = message_class("fdinfo:FdinfoEntry").DESCRIPTOR.fields_by_name["type"].enum_type
    by_field = {value: key for key, value in _FIELD_BY_TYPE.items()}
    return types.values_by_name[by_field[field_name]].number


def load_files(checkpoint: Checkpoint, tree: ProcessTree, *, with_data: bool = False) -> FileTable:
    """Every descriptor of every process in ``tree``, plus cwd, root and exe."""
    warnings: list[str] = []
    resolver = FileResolver(checkpoint, warnings, with_data=with_data)
    table = FileTable([], warnings)
    for process in tree.processes:
        descriptors: list[Descriptor] = []
        if process.zombie:  # a zombie has closed everything, and CRIU wrote no images for it
            table.processes.append(ProcessFiles(process.pid, process.comm, descriptors))
            continue
        try:
            ids = load_image(checkpoint, f"ids-{process.pid}.img").messages()
            files_id = ids[0].files_id if ids else None
        except CheckforensicsError as exc:
            warnings.append(str(exc))
            files_id = None
        if files_id is not None:
            for fd in resolver.images.messages(f"fdinfo-{files_id}.img"):
                descriptor = resolver.describe(fd.fd, _enum_name(fd, "type"), fd.id)
                descriptor.details.setdefault("cloexec", bool(fd.flags & 1))
                descriptors.append(descriptor)
        descriptors += _special(checkpoint, resolver, process.pid, warnings)
        table.processes.append(ProcessFiles(process.pid, process.comm, descriptors))
    _note_sharing(table)
    return table


def _special(checkpoint: Checkpoint, resolver: FileResolver, pid: int, warnings: list[str]) -> list[Descriptor]:
    """cwd, root (fs-N.img) and exe (mm-N.img)."""
    found = []
    fs = resolver.images.messages(f"fs-{pid}.img")
    if fs:
        found.append(resolver.describe("cwd", "REG", fs[0].cwd_id))
        found.append(resolver.describe("root", "REG", fs[0].root_id))
    try:
        found.append(resolver.describe("exe", "REG", load_mm(checkpoint, pid).exe_file_id))
    except CheckforensicsError as exc:
        warnings.append(str(exc))
    for descriptor in found:
        descriptor.flags = None
        descriptor.pos = None
    return found


def _note_sharing(table: FileTable) -> None:
    """Mark pipes and sockets with the other (pid, fd) holding the same object."""
    holders: dict[tuple[str, int], list[tuple[int, int | str]]] = {}
    for process in table.processes:
        for d in process.descriptors:
            key = ("pipe", d.pipe_id) if d.pipe_id is not None else ("ino", d.ino) if d.ino is not None else None
            if key is not None:
                holders.setdefault(key, []).append((process.pid, d.fd))
    for process in table.processes:
        for d in process.descriptors:
            key = ("pipe", d.pipe_id) if d.pipe_id is not None else ("ino", d.ino) if d.ino is not None else None
            if key is None:
                continue
            others = [f"{pid}:{fd}" for pid, fd in holders[key] if (pid, fd) != (process.pid, d.fd)]
            if others:
                d.details["shared_with"] = others


def preview(data: bytes, limit: int = _PREVIEW) -> str:
    """Printable ASCII kept, everything else escaped; cut at ``limit`` bytes with an ellipsis."""
    shown = data[:limit]
    text = "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in shown)
    return text + ("…" if len(data) > limit else "")


def what(d: Descriptor) -> str:
    """One line saying what the descriptor is."""
    if d.type in SOCKET_TYPES:
        ends = d.local or "-"
        if d.remote and not d.remote.endswith(":0") and d.remote != d.local:
            ends += f" -> {d.remote}"
        elif d.peer:
            ends += f" -> peer ino {d.peer}"
        kind = " ".join(part for part in (d.family, d.proto or d.sock_type, d.state) if part)
        return f"{kind} {ends}"
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
