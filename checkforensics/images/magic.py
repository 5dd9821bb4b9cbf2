"""CRIU image magic numbers and their names.

References: criu/include/magic.h (CRIU 4.2). Names are the macro names without ``_MAGIC``,
as crit prints them in the ``"magic"`` key of a decoded image.
"""

from __future__ import annotations

# Images v1.1 begin with one of these, then the image's own magic (inventory.img alone has
# only its own magic).  Service files (stats-dump, irmap-cache) take IMG_SERVICE.
IMG_COMMON = 0x54564319
IMG_SERVICE = 0x55105940

# Raw images (pages-*.img, tmpfs tarballs, iptables dumps, ...) have no magic at all.
RAW_IMAGE = 0x0

MAGIC_BY_NAME: dict[str, int] = {
    "INVENTORY": 0x58313116,
    "PSTREE": 0x50273030,
    "FDINFO": 0x56213732,
    "PAGEMAP": 0x56084025,
    "CORE": 0x55053847,
    "IDS": 0x54432030,
    "VMAS": 0x54123737,
    "PIPES": 0x56513555,
    "PIPES_DATA": 0x56453709,
    "FIFO": 0x58364939,
    "FIFO_DATA": 0x59333054,
    "SIGACT": 0x55344201,
    "UNIXSK": 0x54373943,
    "INETSK": 0x56443851,
    "PACKETSK": 0x60454618,
    "ITIMERS": 0x57464056,
    "POSIX_TIMERS": 0x52603957,
    "SK_QUEUES": 0x56264026,
    "UTSNS": 0x54473203,
    "CREDS": 0x54023547,
    "IPC_VAR": 0x53115007,
    "IPCNS_SHM": 0x46283044,
    "IPCNS_MSG": 0x55453737,
    "IPCNS_SEM": 0x59573019,
    "REG_FILES": 0x50363636,
    "EXT_FILES": 0x59255641,
    "FS": 0x51403912,
    "MM": 0x57492820,
    "REMAP_FPATH": 0x59133954,
    "GHOST_FILE": 0x52583605,
    "TCP_STREAM": 0x51465506,
    "EVENTFD_FILE": 0x44523722,
    "EVENTPOLL_FILE": 0x45023858,
    "EVENTPOLL_TFD": 0x44433746,
    "SIGNALFD": 0x57323820,
    "INOTIFY_FILE": 0x48424431,
    "INOTIFY_WD": 0x54562009,
    "MNTS": 0x55563928,
    "NETDEV": 0x57373951,
    "NETNS": 0x55933752,
    "TTY_FILES": 0x59433025,
    "TTY_INFO": 0x59453036,
    "TTY_DATA": 0x59413026,
    "FILE_LOCKS": 0x54323616,
    "RLIMIT": 0x57113925,
    "FANOTIFY_FILE": 0x55096122,
    "FANOTIFY_MARK": 0x56506035,
    "SIGNAL": 0x59255647,
    "NETLINK_SK": 0x58005614,
    "NS_FILES": 0x61394011,
    "TUNFILE": 0x57143751,
    "CGROUP": 0x59383330,
    "TIMERFD": 0x50493712,
    "CPUINFO": 0x61404013,
    "USERNS": 0x55474906,
    "SECCOMP": 0x64413049,
    "BINFMT_MISC": 0x67343323,
    "AUTOFS": 0x49353943,
    "FILES": 0x56303138,
    "MEMFD_INODE": 0x48453499,
    "TIMENS": 0x43114433,
    "PIDNS": 0x61157326,
    "BPFMAP_FILE": 0x57506142,
    "BPFMAP_DATA": 0x64324033,
    "APPARMOR": 0x59423047,
    "PIDFD": 0x54435556,
    "STATS": 0x57093306,
    "IRMAP_CACHE": 0x57004059,
    "KDAT": 0x57023458,
}

# Every value above is unique: the aliases of magic.h (SHMEM_PAGEMAP = PAGES_OLD = PAGEMAP,
# PSIGNAL = SIGNAL, ...) are left out, and a value decodes to its first name, as crit does.
NAME_BY_MAGIC: dict[int, str] = {value: name for name, value in MAGIC_BY_NAME.items()}

# Images that crit writes without the leading IMG_COMMON/IMG_SERVICE magic, or with the
# service one.
SINGLE_MAGIC_IMAGES = frozenset({"INVENTORY"})
SERVICE_IMAGES = frozenset({"STATS", "IRMAP_CACHE"})


def leading_magic(name: str) -> int | None:
    """The magic written before ``name``'s own one, or None for single-magic images."""
    if name in SINGLE_MAGIC_IMAGES:
        return None
    return IMG_SERVICE if name in SERVICE_IMAGES else IMG_COMMON


# What an image's file name says it holds (criu/image-desc.c, the names of the image set):
# names of one image a checkpoint, and names of one image per process, namespace or object,
# ``NAME-N.img`` with N decimal or hexadecimal (ghost files, TCP streams). Raw images (pages,
# tmpfs archives, the network dumps) have no magic, and are not here.
_KIND_BY_NAME = {
    "inventory": "INVENTORY", "reg-files": "REG_FILES", "ext-files": "EXT_FILES", "ns-files": "NS_FILES",
    "eventfd": "EVENTFD_FILE", "eventpoll": "EVENTPOLL_FILE", "eventpoll-tfd": "EVENTPOLL_TFD",
    "signalfd": "SIGNALFD", "inotify": "INOTIFY_FILE", "inotify-wd": "INOTIFY_WD", "fanotify": "FANOTIFY_FILE",
    "fanotify-mark": "FANOTIFY_MARK", "pipes": "PIPES", "pipes-data": "PIPES_DATA", "fifo": "FIFO",
    "fifo-data": "FIFO_DATA", "pstree": "PSTREE", "unixsk": "UNIXSK", "inetsk": "INETSK", "packetsk": "PACKETSK",
    "netlinksk": "NETLINK_SK", "sk-queues": "SK_QUEUES", "remap-fpath": "REMAP_FPATH", "memfd": "MEMFD_INODE",
    "binfmt-misc": "BINFMT_MISC", "tty": "TTY_FILES", "tty-info": "TTY_INFO", "tty-data": "TTY_DATA",
    "filelocks": "FILE_LOCKS", "tunfile": "TUNFILE", "cgroup": "CGROUP", "timerfd": "TIMERFD", "cpuinfo": "CPUINFO",
    "seccomp": "SECCOMP", "files": "FILES", "bpfmap-file": "BPFMAP_FILE", "bpfmap-data": "BPFMAP_DATA",
    "apparmor": "APPARMOR", "stats-dump": "STATS", "stats-restore": "STATS", "irmap-cache": "IRMAP_CACHE",
}  # fmt: skip
_KIND_BY_NUMBERED_NAME = {
    "fdinfo": "FDINFO", "pagemap": "PAGEMAP", "pagemap-shmem": "PAGEMAP", "core": "CORE", "ids": "IDS", "mm": "MM",
    "vmas": "VMAS", "sigacts": "SIGACT", "itimers": "ITIMERS", "posix-timers": "POSIX_TIMERS", "creds": "CREDS",
    "utsns": "UTSNS", "ipcns-var": "IPC_VAR", "ipcns-shm": "IPCNS_SHM", "ipcns-msg": "IPCNS_MSG",
    "ipcns-sem": "IPCNS_SEM", "fs": "FS", "ghost-file": "GHOST_FILE", "tcp-stream": "TCP_STREAM",
    "mountpoints": "MNTS", "netdev": "NETDEV", "netns": "NETNS", "autofs": "AUTOFS", "rlimit": "RLIMIT",
    "signal-s": "SIGNAL", "signal-p": "SIGNAL", "userns": "USERNS", "timens": "TIMENS", "pidns": "PIDNS",
}  # fmt: skip


def kind_by_file_name(member: str) -> str | None:
    """The magic name the file name of image ``member`` says it holds (``checkpoint/core-7.img``:
    CORE), or None for a name CRIU gives no image with a magic."""
    name = member.rsplit("/", 1)[-1].removesuffix(".img")
    if name in _KIND_BY_NAME:
        return _KIND_BY_NAME[name]
    stem, dash, number = name.rpartition("-")
    if dash and number and all(c in "0123456789abcdef" for c in number):
        return _KIND_BY_NUMBERED_NAME.get(stem)
    return None
