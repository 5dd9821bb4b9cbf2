"""Named bits and values found in CRIU images.

References: criu/include/image.h (VMA status, pagemap flags), Linux uapi mman.h, fcntl.h,
socket.h, tcp_states.h, in.h; criu/include/pstree.h (task states).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

PAGE_SIZE = 4096
PAGE_SHIFT = 12


class Prot(IntFlag):
    PROT_READ = 0x1
    PROT_WRITE = 0x2
    PROT_EXEC = 0x4


class MapFlags(IntFlag):
    MAP_SHARED = 0x1
    MAP_PRIVATE = 0x2
    MAP_DROPPABLE = 0x08
    MAP_ANON = 0x20
    MAP_GROWSDOWN = 0x0100


class VmaStatus(IntFlag):
    """``vma_entry.status``: what CRIU found a mapping to be."""

    VMA_AREA_REGULAR = 1 << 0
    VMA_AREA_STACK = 1 << 1
    VMA_AREA_VSYSCALL = 1 << 2
    VMA_AREA_VDSO = 1 << 3
    VMA_AREA_HEAP = 1 << 5
    VMA_FILE_PRIVATE = 1 << 6
    VMA_FILE_SHARED = 1 << 7
    VMA_ANON_SHARED = 1 << 8
    VMA_ANON_PRIVATE = 1 << 9
    VMA_AREA_SYSVIPC = 1 << 10
    VMA_AREA_SOCKET = 1 << 11
    VMA_AREA_VVAR = 1 << 12
    VMA_AREA_AIORING = 1 << 13
    VMA_AREA_MEMFD = 1 << 14
    VMA_AREA_SHSTK = 1 << 15
    VMA_AREA_UPROBES = 1 << 17
    VMA_UNSUPP = 1 << 31


class OpenFlags(IntFlag):
    """File status flags as stored in reg_file_entry.flags (octal, as in fcntl.h)."""

    O_WRONLY = 0o00000001
    O_RDWR = 0o00000002
    O_CREAT = 0o00000100
    O_EXCL = 0o00000200
    O_NOCTTY = 0o00000400
    O_TRUNC = 0o00001000
    O_APPEND = 0o00002000
    O_NONBLOCK = 0o00004000
    O_DSYNC = 0o00010000
    FASYNC = 0o00020000
    O_DIRECT = 0o00040000
    O_LARGEFILE = 0o00100000
    O_DIRECTORY = 0o00200000
    O_NOFOLLOW = 0o00400000
    O_NOATIME = 0o01000000
    O_CLOEXEC = 0o02000000


class Seals(IntFlag):
    F_SEAL_SEAL = 0x0001
    F_SEAL_SHRINK = 0x0002
    F_SEAL_GROW = 0x0004
    F_SEAL_WRITE = 0x0008
    F_SEAL_FUTURE_WRITE = 0x0010


class PagemapFlags(IntFlag):
    """``pagemap_entry.flags``: where a run of pages is kept."""

    PE_PARENT = 1 << 0  # in the parent (pre-dump) image, not in this one
    PE_LAZY = 1 << 1  # left for lazy restore, not dumped
    PE_PRESENT = 1 << 2  # dumped into pages-N.img


class TaskState(IntEnum):
    """``task_core_entry.task_state`` (compel/include/uapi/task-state.h, criu/include/pid.h)."""

    ALIVE = 0x01
    DEAD = 0x02
    STOPPED = 0x03
    ZOMBIE = 0x06
    HELPER = 0x80
    THREAD = 0x81


class SockFamily(IntEnum):
    UNIX = 1
    INET = 2
    INET6 = 10
    NETLINK = 16
    PACKET = 17


class SockType(IntEnum):
    STREAM = 1
    DGRAM = 2
    RAW = 3
    SEQPACKET = 5
    PACKET = 10


class TcpState(IntEnum):
    ESTABLISHED = 1
    SYN_SENT = 2
    SYN_RECV = 3
    FIN_WAIT1 = 4
    FIN_WAIT2 = 5
    TIME_WAIT = 6
    CLOSE = 7
    CLOSE_WAIT = 8
    LAST_ACK = 9
    LISTEN = 10


class IpProto(IntEnum):
    IP = 0
    TCP = 6
    UDP = 17
    UDPLITE = 136
