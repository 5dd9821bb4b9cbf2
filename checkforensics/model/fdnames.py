"""How descriptors are named: open flags, signals, namespaces, clocks, socket addresses and
protocols, spelled as open(2), /proc and ss spell them.

References: include/uapi/asm-generic/fcntl.h, include/uapi/linux/in.h, linux/netlink.h,
linux/if_ether.h, criu/sk-unix.c (name_dir).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from checkforensics.images.flags import OpenFlags
from checkforensics.images.load import text


def field_enum_name(message: Any, field_name: str) -> str:
    value = getattr(message, field_name)
    described = message.DESCRIPTOR.fields_by_name[field_name].enum_type.values_by_number.get(value)
    return described.name if described is not None else str(value)


DELETED_REMAPS = ("GHOST", "LINKED")  # remaps CRIU makes for a file deleted while open or mapped


def remap_kind(remap: Any) -> str:
    """GHOST, LINKED, PROCFS, SPFS...: how CRIU brings back a file it could not reopen by its
    name (remap-fpath.img); older CRIU wrote no type for a linked remap."""
    return field_enum_name(remap, "remap_type") if remap.HasField("remap_type") else "LINKED"


# Open flags crit's flag table leaves out (so they stay out of OpenFlags, which crit_json
# prints with): open(2)'s O_SYNC includes O_DSYNC, and its O_TMPFILE includes O_DIRECTORY.
_O_SYNC, _O_PATH, _O_TMPFILE = 0o04000000, 0o10000000, 0o20000000


def flag_names(value: int) -> str:
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


def signal_names(mask: int) -> list[str]:
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


def enum_member_name(enum: Any, value: int) -> str:
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
CONNECTIONLESS_STATES = {"ESTABLISHED": "CONNECTED", "CLOSE": "UNCONNECTED"}
IP_PROTOCOLS = {
    0: "IP", 1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 58: "ICMPV6", 132: "SCTP", 136: "UDPLITE", 255: "RAW",
}  # fmt: skip
NETLINK_PROTOCOLS = {
    0: "ROUTE", 2: "USERSOCK", 4: "SOCK_DIAG", 5: "NFLOG", 6: "XFRM", 7: "SELINUX", 8: "ISCSI", 9: "AUDIT",
    10: "FIB_LOOKUP", 11: "CONNECTOR", 12: "NETFILTER", 15: "KOBJECT_UEVENT", 16: "GENERIC", 18: "SCSITRANSPORT",
    19: "ECRYPTFS", 20: "RDMA", 21: "CRYPTO",
}  # fmt: skip
ETHERNET_PROTOCOLS = {0x0003: "ALL", 0x0800: "IP", 0x0806: "ARP", 0x86DD: "IPV6", 0x8100: "8021Q"}
