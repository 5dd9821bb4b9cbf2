"""Open descriptors of every process: files, pipes, sockets, and the data still in flight.

A descriptor (fdinfo-N.img) points at a file id; the file's kind and details are in files.img
(CRIU 3.x and later) or, in older dumps, in one image per kind.  What no process had read yet
is in pipes-data/fifo-data (pipe buffers), sk-queues (socket queues), tcp-stream-INODE (TCP
queues), ghost-file-N (deleted files' content) and the shmem pages of memfds.

References: images/fdinfo.proto, criu/files.c, criu/sk-inet.c, criu/sk-unix.c, criu/pipes.c,
criu/files-reg.c (ghost and linked remaps), criu/memfd.c (CRIU 4.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.images.flags import SockFamily, SockType, TcpState
from checkforensics.images.load import text
from checkforensics.model.contents import ghost_file, memfd
from checkforensics.model.fdnames import (
    CLOCKS,
    CONNECTIONLESS_STATES,
    DELETED_REMAPS,
    ETHERNET_PROTOCOLS,
    IP_PROTOCOLS,
    NAMESPACES,
    NETLINK_PROTOCOLS,
    enum_member_name,
    field_enum_name,
    flag_names,
    format_address,
    remap_kind,
    signal_names,
    unix_name,
)
from checkforensics.model.processes import ProcessTree
from checkforensics.model.store import ImageStore

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
    peer: int | None = None  # the other end's inode: a UNIX socket's peer, a TCP/UDP socket's in the checkpoint
    pipe_id: int | None = None
    netns: int | None = None  # CRIU's id of a socket's network namespace (ns_id), where it records one
    peer_holders: list[dict[str, Any]] | None = None  # who holds the other end: pid, comm, fd (model/holders.py)
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
    warnings: list[str] = field(default_factory=list)  # what the descriptor table's part said


class _Images:
    """The file-related images, through the model's store; a problem with one is said to the
    checkpoint's diagnostics (once, as every diagnostic)."""

    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self.checkpoint = store.checkpoint

    def entries(self, name: str, *, quiet: bool = False) -> list[Any]:
        if not self.store.has(name):
            if not quiet:
                self.store.diagnostics.warn("missing", where=name, part=Part.FILES)
            return []
        try:
            return self.store.image(name).entries
        except CheckforensicsError as exc:
            self.store.diagnostics.warn(str(exc), part=Part.FILES)
            return []

    def messages(self, name: str, *, quiet: bool = False) -> list[Any]:
        return [entry.message for entry in self.entries(name, quiet=quiet)]


class FileResolver:
    """Turns file ids into Descriptors, with in-flight data attached."""

    def __init__(
        self,
        store: ImageStore,
        *,
        with_data: bool = False,
        shared_memory: Callable[[int], Any] | None = None,
    ) -> None:
        self.images = _Images(store)
        self.with_data = with_data
        self.shared_memory = shared_memory  # shmid -> the SharedMemory object, or None
        self.files: dict[int, Any] = {}
        if store.has("files.img"):
            self.files = {entry.id: entry for entry in self.images.messages("files.img")}
        elif any(store.has(image) for image in _LEGACY_IMAGES):
            self._load_legacy()
        else:
            store.diagnostics.warn(
                "missing (which file, pipe or socket each descriptor is, unknown)", where="files.img", part=Part.FILES
            )
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
        d.path, d.flags, d.pos = text(reg.name), flag_names(reg.flags), reg.pos
        d.size = reg.size if reg.HasField("size") else None
        if reg.HasField("mode"):
            d.details["mode"] = reg.mode
        remap = self.remaps.get(reg.id)
        if remap is not None:
            kind = remap_kind(remap)
            d.details["remap"] = kind.lower()
            d.details["remap_id"] = remap.remap_id  # a ghost's is its inode's: every open of the file shares it
            d.deleted = kind in DELETED_REMAPS
            if kind == "GHOST" and self.with_data:
                self._ghost_content(d, remap.remap_id)

    def _ghost_content(self, d: Descriptor, remap_id: int) -> None:
        found = ghost_file(self.images.store, remap_id)
        if found is None:
            self.images.store.diagnostics.warn("missing", where=f"ghost-file-{remap_id}.img", part=Part.FILES)
            return
        try:
            d.inflight.append(InFlight("deleted-file", found.read()))
        except CheckforensicsError as exc:
            self.images.store.diagnostics.warn(str(exc), part=Part.FILES)

    def _pipe(self, d: Descriptor, pipe: Any) -> None:
        d.pipe_id = pipe.pipe_id
        d.flags = flag_names(pipe.flags)
        if self.with_data:
            self._buffer(d, "pipes-data.img", "pipe", pipe.pipe_id)

    def _fifo(self, d: Descriptor, fifo: Any) -> None:
        d.pipe_id = fifo.pipe_id
        d.path = self.path_of(fifo.regf_id) if fifo.HasField("regf_id") else None
        entry = self.files.get(fifo.regf_id) if fifo.HasField("regf_id") else None
        if entry is not None and entry.HasField("reg"):  # how it was opened is the named file's
            d.flags = flag_names(entry.reg.flags)
        if self.with_data:
            self._buffer(d, "fifo-data.img", "fifo", fifo.pipe_id)

    def _buffer(self, d: Descriptor, image: str, kind: str, pipe_id: int) -> None:
        for entry in self.images.entries(image, quiet=True):
            if entry.message.pipe_id == pipe_id and entry.extra:
                d.inflight.append(InFlight(kind, entry.extra))

    def _usk(self, d: Descriptor, usk: Any) -> None:
        d.family = "UNIX"
        d.sock_type = enum_member_name(SockType, usk.type)
        d.state = enum_member_name(TcpState, usk.state)
        d.state = CONNECTIONLESS_STATES.get(d.state, d.state)
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
        self._buffers(d, usk)
        if self.with_data:
            self._socket_queue(d, usk.id)

    @staticmethod
    def _buffers(d: Descriptor, socket: Any) -> None:
        """The socket's buffer sizes as getsockopt(SO_SNDBUF, SO_RCVBUF) gave them to CRIU (the
        kernel's figure: twice what setsockopt asked, for bookkeeping). CRIU writes zeros for
        a socket it did not open itself (the far end of an external UNIX socket): no size."""
        if not socket.HasField("opts"):
            return
        if socket.opts.so_sndbuf:
            d.details["send_buffer"] = socket.opts.so_sndbuf
        if socket.opts.so_rcvbuf:
            d.details["recv_buffer"] = socket.opts.so_rcvbuf

    def _socket_queue(self, d: Descriptor, file_id: int) -> None:
        for entry in self.images.entries("sk-queues.img", quiet=True):
            if entry.message.id_for == file_id and entry.extra is not None:
                d.inflight.append(InFlight("unix-queue" if d.family == "UNIX" else "socket-queue", entry.extra))

    def _isk(self, d: Descriptor, isk: Any) -> None:
        d.family = enum_member_name(SockFamily, isk.family)
        d.sock_type = enum_member_name(SockType, isk.type)
        d.proto = IP_PROTOCOLS.get(isk.proto, str(isk.proto))
        d.state = enum_member_name(TcpState, isk.state)
        if d.proto != "TCP":  # UDP, raw: no TCP state machine; ss says UNCONN / ESTAB
            d.state = CONNECTIONLESS_STATES.get(d.state, d.state)
        d.ino = isk.ino
        d.netns = isk.ns_id if isk.HasField("ns_id") else None
        d.local = format_address(list(isk.src_addr), isk.src_port, d.family)
        d.remote = format_address(list(isk.dst_addr), isk.dst_port, d.family)
        if isk.backlog:
            d.details["backlog"] = isk.backlog
        self._buffers(d, isk)
        stream = f"tcp-stream-{isk.ino:x}.img"
        if d.proto == "TCP" and self.images.store.has(stream):
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
        d.flags, d.pos = flag_names(memfd.flags), memfd.pos
        inode = next((i for i in self.images.messages("memfd.img") if i.inode_id == memfd.inode_id), None)
        if inode is None:
            return
        d.path = f"memfd:{text(inode.name)}"
        d.size = inode.size
        d.details["inode_id"] = memfd.inode_id  # one per memfd, however many times it was opened
        d.details["seals"] = inode.seals
        if self.with_data:
            self._memfd_content(d, inode)

    def _memfd_content(self, d: Descriptor, inode: Any) -> None:
        shared = self.shared_memory(inode.shmid) if self.shared_memory is not None else None
        found = memfd(inode, shared)
        if found is not None:
            d.inflight.append(InFlight("memfd", found.read(), complete=found.complete))

    def _efd(self, d: Descriptor, efd: Any) -> None:
        d.flags = flag_names(efd.flags)
        d.details["counter"] = efd.counter

    def _epfd(self, d: Descriptor, epfd: Any) -> None:
        d.flags = flag_names(epfd.flags)
        d.details["watches"] = [{"fd": t.tfd, "events": t.events} for t in epfd.tfd]

    def _sgfd(self, d: Descriptor, sgfd: Any) -> None:
        d.flags = flag_names(sgfd.flags)
        d.details["sigmask"] = sgfd.sigmask
        d.details["signals"] = signal_names(sgfd.sigmask)

    def _tfd(self, d: Descriptor, tfd: Any) -> None:
        d.flags = flag_names(tfd.flags)
        d.details.update(clockid=tfd.clockid, ticks=tfd.ticks, value_ns=tfd.vsec * 10**9 + tfd.vnsec,
                         interval_ns=tfd.isec * 10**9 + tfd.insec)
        d.details["clock"] = CLOCKS.get(tfd.clockid, str(tfd.clockid))
        d.details["absolute"] = bool(tfd.settime_flags & 1)  # set with TFD_TIMER_ABSTIME (value: time left)

    def _ify(self, d: Descriptor, ify: Any) -> None:
        d.flags = flag_names(ify.flags)
        d.details["watches"] = [
            {"wd": w.wd, "inode": w.i_ino, "mask": w.mask, "path": text(w.f_handle.path) or None} for w in ify.wd
        ]

    def _nlsk(self, d: Descriptor, nlsk: Any) -> None:
        d.family, d.proto, d.ino = "NETLINK", NETLINK_PROTOCOLS.get(nlsk.protocol, str(nlsk.protocol)), nlsk.ino
        d.details["portid"] = nlsk.portid
        self._buffers(d, nlsk)

    def _psk(self, d: Descriptor, psk: Any) -> None:
        d.family, d.sock_type = "PACKET", enum_member_name(SockType, psk.type)
        # the protocol is an EtherType in network byte order (htons(ETH_P_ALL) is 0x0300)
        ethertype = psk.protocol
        if ethertype < 0x10000:
            ethertype = int.from_bytes(ethertype.to_bytes(2, "little"), "big")
        d.proto = ETHERNET_PROTOCOLS.get(ethertype, f"{ethertype:#06x}")
        d.details["ifindex"] = psk.ifindex
        self._buffers(d, psk)

    def _tty(self, d: Descriptor, tty: Any) -> None:
        info = next((i for i in self.images.messages("tty-info.img", quiet=True) if i.id == tty.tty_info_id), None)
        if info is not None:
            d.details["tty"] = field_enum_name(info, "type")
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
        d.flags = flag_names(nsf.flags)

    def _bpf(self, d: Descriptor, bpf: Any) -> None:
        d.details.update(map_name=text(bpf.map_name), map_type=bpf.map_type, map_id=bpf.map_id)

    def _pidfd(self, d: Descriptor, pidfd: Any) -> None:
        d.details["target_pid"] = pidfd.nspid  # not "pid": JSON Lines put a descriptor's keys beside its holder's


def _legacy_type(field_name: str) -> int:
    from checkforensics.images.registry import message_class

    types = message_class("fdinfo:FdinfoEntry").DESCRIPTOR.fields_by_name["type"].enum_type
    by_field = {value: key for key, value in _FIELD_BY_TYPE.items()}
    return types.values_by_name[by_field[field_name]].number


def build_file_table(
    store: ImageStore,
    tree: ProcessTree,
    mm_of: Callable[[int], Any],
    *,
    with_data: bool = False,
    shared_memory: Callable[[int], Any] | None = None,
) -> FileTable:
    """Every descriptor of every process in ``tree``, plus cwd, root and exe (``mm_of(pid)``
    gives a process's MmEntry; ``shared_memory(shmid)`` a shared object, for memfd contents)."""
    resolver = FileResolver(store, with_data=with_data, shared_memory=shared_memory)
    table = FileTable([])
    for process in tree.processes:
        descriptors: list[Descriptor] = []
        if process.zombie or not process.dumped:  # a zombie has closed everything; CRIU wrote no images for either
            table.processes.append(ProcessFiles(process.pid, process.comm, descriptors))
            continue
        try:
            ids = store.messages(f"ids-{process.pid}.img")
            files_id = ids[0].files_id if ids else None
        except CheckforensicsError as exc:
            store.diagnostics.warn(str(exc), pid=process.pid, part=Part.FILES)
            files_id = None
        if files_id is not None:
            for fd in resolver.images.messages(f"fdinfo-{files_id}.img"):
                descriptor = resolver.describe(fd.fd, field_enum_name(fd, "type"), fd.id)
                descriptor.details.setdefault("cloexec", bool(fd.flags & 1))
                descriptors.append(descriptor)
        descriptors += _special(resolver, process.pid, mm_of)
        table.processes.append(ProcessFiles(process.pid, process.comm, descriptors))
    table.warnings = store.diagnostics.said(Part.FILES)
    return table


def _special(resolver: FileResolver, pid: int, mm_of: Callable[[int], Any]) -> list[Descriptor]:
    """cwd, root (fs-N.img) and exe (mm-N.img)."""
    found = []
    fs = resolver.images.messages(f"fs-{pid}.img")
    if fs:
        found.append(resolver.describe("cwd", "REG", fs[0].cwd_id))
        found.append(resolver.describe("root", "REG", fs[0].root_id))
    try:
        exe_id = mm_of(pid).exe_file_id
        entry = resolver.files.get(exe_id)  # a memfd when the program was started by fexecve of one
        found.append(resolver.describe("exe", field_enum_name(entry, "type") if entry is not None else "REG", exe_id))
    except CheckforensicsError as exc:
        said = resolver.images.store.diagnostics
        if resolver.images.store.has(f"mm-{pid}.img"):
            said.of_process(pid, f"its program (exe) unknown: {exc}", part=Part.FILES)
        else:  # as checkpointctl's --files inputs: the descriptors are there, the mm image is not
            said.of_process(pid, f"mm-{pid}.img missing: its program (exe) unknown", part=Part.FILES)
    for descriptor in found:
        descriptor.flags = None
        descriptor.pos = None
    return found
