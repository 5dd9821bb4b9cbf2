"""Which protobuf message each CRIU image holds, and what follows its entries.

One table, read both ways: the decoder looks up an image's magic name here to know the message
class of its entries (and of a differing first entry, for pagemaps) and the payload kind that
follows each entry; the encoder uses the same table to write them back.

References: criu/include/magic.h, criu/protobuf-desc.c, criu/image-desc.c (CRIU 4.2).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from checkforensics.errors import UnsupportedError
from checkforensics.images.payloads import (
    BlobPayload,
    IpcMsgPayload,
    IpcSemPayload,
    IpcShmPayload,
    Payload,
    TcpQueuesPayload,
)

_PB_PACKAGE = "checkforensics.images.pb"


@cache
def message_class(spec: str) -> Any:
    """The generated class for ``"module:Class"`` (e.g. ``"pstree:PstreeEntry"``)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(f"{_PB_PACKAGE}.{module}_pb2"), name)


@dataclass(frozen=True)
class ImageKind:
    """How one kind of image is laid out."""

    name: str  # magic name, as crit prints it
    entry: str  # "module:Class" of every entry
    head: str | None = None  # "module:Class" of the first entry when it differs (pagemap)
    payload: Payload | None = None  # raw bytes after each entry
    ghost: bool = False  # ghost-file layout: one entry, then raw content or chunk entries

    def entry_class(self) -> Any:
        return message_class(self.entry)

    def head_class(self) -> Any:
        return message_class(self.head) if self.head else self.entry_class()


def _kinds() -> dict[str, ImageKind]:
    plain = {
        "INVENTORY": "inventory:InventoryEntry",
        "CORE": "core:CoreEntry",
        "IDS": "core:TaskKobjIdsEntry",
        "CREDS": "creds:CredsEntry",
        "UTSNS": "utsns:UtsnsEntry",
        "TIMENS": "timens:TimensEntry",
        "PIDNS": "pidns:PidnsEntry",
        "IPC_VAR": "ipc_var:IpcVarEntry",
        "FS": "fs:FsEntry",
        "MM": "mm:MmEntry",
        "CGROUP": "cgroup:CgroupEntry",
        "STATS": "stats:StatsEntry",
        "PSTREE": "pstree:PstreeEntry",
        "REG_FILES": "regfile:RegFileEntry",
        "NS_FILES": "ns:NsFileEntry",
        "EVENTFD_FILE": "eventfd:EventfdFileEntry",
        "EVENTPOLL_FILE": "eventpoll:EventpollFileEntry",
        "EVENTPOLL_TFD": "eventpoll:EventpollTfdEntry",
        "SIGNALFD": "signalfd:SignalfdEntry",
        "TIMERFD": "timerfd:TimerfdEntry",
        "INOTIFY_FILE": "fsnotify:InotifyFileEntry",
        "INOTIFY_WD": "fsnotify:InotifyWdEntry",
        "FANOTIFY_FILE": "fsnotify:FanotifyFileEntry",
        "FANOTIFY_MARK": "fsnotify:FanotifyMarkEntry",
        "VMAS": "vma:VmaEntry",
        "PIPES": "pipe:PipeEntry",
        "FIFO": "fifo:FifoEntry",
        "SIGACT": "sa:SaEntry",
        "NETLINK_SK": "sk_netlink:NetlinkSkEntry",
        "REMAP_FPATH": "remap_file_path:RemapFilePathEntry",
        "MNTS": "mnt:MntEntry",
        "TTY_FILES": "tty:TtyFileEntry",
        "TTY_INFO": "tty:TtyInfoEntry",
        "TTY_DATA": "tty:TtyDataEntry",
        "RLIMIT": "rlimit:RlimitEntry",
        "TUNFILE": "tun:TunfileEntry",
        "EXT_FILES": "ext_file:ExtFileEntry",
        "IRMAP_CACHE": "fh:IrmapCacheEntry",
        "FILE_LOCKS": "file_lock:FileLockEntry",
        "FDINFO": "fdinfo:FdinfoEntry",
        "UNIXSK": "sk_unix:UnixSkEntry",
        "INETSK": "sk_inet:InetSkEntry",
        "PACKETSK": "packet_sock:PacketSockEntry",
        "ITIMERS": "timer:ItimerEntry",
        "POSIX_TIMERS": "timer:PosixTimerEntry",
        "NETDEV": "netdev:NetDeviceEntry",
        "NETNS": "netdev:NetnsEntry",
        "USERNS": "userns:UsernsEntry",
        "SECCOMP": "seccomp:SeccompEntry",
        "AUTOFS": "autofs:AutofsEntry",
        "FILES": "fdinfo:FileEntry",
        "CPUINFO": "cpuinfo:CpuinfoEntry",
        "MEMFD_FILE": "memfd:MemfdFileEntry",
        "MEMFD_INODE": "memfd:MemfdInodeEntry",
        "BPFMAP_FILE": "bpfmap_file:BpfmapFileEntry",
        "APPARMOR": "apparmor:ApparmorEntry",
        # Beyond crit 4.2.1, which has no handler for these three:
        "BINFMT_MISC": "binfmt_misc:BinfmtMiscEntry",
        "PIDFD": "pidfd:PidfdEntry",
        "SIGNAL": "siginfo:SiginfoEntry",
    }
    kinds = {name: ImageKind(name, spec) for name, spec in plain.items()}
    pipe_data = BlobPayload(("bytes",), "pipe buffer")
    kinds.update(
        {
            "PAGEMAP": ImageKind("PAGEMAP", "pagemap:PagemapEntry", head="pagemap:PagemapHead"),
            "GHOST_FILE": ImageKind("GHOST_FILE", "ghost_file:GhostFileEntry", ghost=True),
            "TCP_STREAM": ImageKind("TCP_STREAM", "tcp_stream:TcpStreamEntry", payload=TcpQueuesPayload()),
            "PIPES_DATA": ImageKind("PIPES_DATA", "pipe_data:PipeDataEntry", payload=pipe_data),
            "FIFO_DATA": ImageKind("FIFO_DATA", "pipe_data:PipeDataEntry", payload=pipe_data),
            "SK_QUEUES": ImageKind(
                "SK_QUEUES", "sk_packet:SkPacketEntry", payload=BlobPayload(("length",), "socket queue")
            ),
            "IPCNS_SHM": ImageKind("IPCNS_SHM", "ipc_shm:IpcShmEntry", payload=IpcShmPayload()),
            "IPCNS_SEM": ImageKind("IPCNS_SEM", "ipc_sem:IpcSemEntry", payload=IpcSemPayload()),
            "IPCNS_MSG": ImageKind(
                "IPCNS_MSG", "ipc_msg:IpcMsgEntry", payload=IpcMsgPayload(_LazyClass("ipc_msg:IpcMsg"))
            ),
            "BPFMAP_DATA": ImageKind(
                "BPFMAP_DATA",
                "bpfmap_data:BpfmapDataEntry",
                payload=BlobPayload(("keys_bytes", "values_bytes"), "bpf map data"),
            ),
        }
    )
    return kinds


class _LazyClass:
    """A message class resolved on first use, so importing the registry loads no pb module."""

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def __call__(self) -> Any:
        return message_class(self.spec)()


KINDS: dict[str, ImageKind] = _kinds()

# The ghost file's chunked form: entries after the first are chunks, each followed by its bytes.
GHOST_CHUNK = "ghost_file:GhostChunkEntry"


def image_kind(name: str, where: str | None = None) -> ImageKind:
    """The layout of the image whose magic is called ``name``; UnsupportedError if none."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnsupportedError(f"no decoder for {name} images", where=where) from None
