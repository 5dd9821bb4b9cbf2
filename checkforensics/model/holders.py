"""Who holds what: the descriptors that share a pipe or a socket, and who holds a socket's
other end, as ``ss -p`` names a socket's users.

A pipe or socket is one object however many descriptors hold it (dup'ed, inherited): its pipe
id or inode names it. A socket's other end is another socket: a UNIX socket's peer is the
socket whose inode CRIU records as ``peer`` (global, as a UNIX socket's inode is); a TCP or UDP
socket's is the socket of the same protocol in the same network namespace whose local and
remote addresses are this one's remote and local (a connection with both ends in the
checkpoint, as over loopback), or, for a connected UDP socket with no such socket, the one bound
to its remote address that receives its datagrams (unconnected, bound to that address or to
the wildcard address at that port). A socket whose other end is outside the checkpoint has an
empty list of peer holders; one with no other end (listening, unconnected) none.

References: criu/sk-unix.c (peer), criu/sk-inet.c and images/sk-inet.proto (src/dst, ns_id).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checkforensics.model.files import Descriptor, FileTable

Holder = dict[str, Any]  # {"pid", "comm", "fd"}
_Endpoint = tuple[str, int]  # a normalised address and a port


def note_holders(table: FileTable) -> None:
    """Mark every pipe and socket with the other descriptors holding it (``shared_with``,
    ``pid:fd`` each), and every socket with another end with who holds that end
    (``peer_holders``; ``peer``: that end's inode)."""
    holders: dict[tuple[str, int], list[Holder]] = {}
    for process in table.processes:
        for d in process.descriptors:
            key = _key(d)
            if key is not None:
                holders.setdefault(key, []).append({"pid": process.pid, "comm": process.comm, "fd": d.fd})
    for process in table.processes:
        for d in process.descriptors:
            key = _key(d)
            if key is None:
                continue
            others = [f"{h['pid']}:{h['fd']}" for h in holders[key] if (h["pid"], h["fd"]) != (process.pid, d.fd)]
            if others:
                d.details["shared_with"] = others
    ends = _InternetEnds(table)
    for process in table.processes:
        for d in process.descriptors:
            if d.family == "UNIX" and d.peer is not None:
                d.peer_holders = list(holders.get(("ino", d.peer), []))
            elif d.family in ("INET", "INET6") and d.state != "LISTEN" and _remote(d) is not None:
                other = ends.other_end(d)
                d.peer = other.ino if other is not None else None
                d.peer_holders = list(holders.get(("ino", other.ino), [])) if other is not None else []


def _key(d: Descriptor) -> tuple[str, int] | None:
    if d.pipe_id is not None:
        return "pipe", d.pipe_id
    return ("ino", d.ino) if d.ino is not None else None


def endpoint(address: str | None) -> _Endpoint | None:
    """``127.0.0.1:80``, ``[::1]:80`` as (address, port), an IPv4-mapped IPv6 address as its
    IPv4 address (one connection seen from an INET and an INET6 socket); None if unreadable."""
    if not address or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), number


def _remote(d: Descriptor) -> _Endpoint | None:
    """A socket's remote end, None when it has none (port 0, unspecified address)."""
    found = endpoint(d.remote)
    if found is None or found[1] == 0 or ipaddress.ip_address(found[0]).is_unspecified:
        return None
    return found


class _InternetEnds:
    """The TCP and UDP sockets of a table by (namespace, protocol, local, remote), each once
    (by inode), to find the other end of a connection."""

    def __init__(self, table: FileTable) -> None:
        self.by_ends: dict[tuple[Any, ...], Descriptor] = {}
        self.bound: dict[tuple[Any, ...], Descriptor] = {}  # unconnected UDP sockets by (ns, local)
        for process in table.processes:
            for d in process.descriptors:
                if d.family not in ("INET", "INET6") or d.proto not in ("TCP", "UDP") or d.ino is None:
                    continue
                local = endpoint(d.local)
                if local is None:
                    continue
                remote = _remote(d)
                if remote is not None and d.state != "LISTEN":
                    self.by_ends.setdefault((d.netns, d.proto, local, remote), d)
                elif remote is None and d.proto == "UDP":
                    self.bound.setdefault((d.netns, local), d)

    def other_end(self, d: Descriptor) -> Descriptor | None:
        local, remote = endpoint(d.local), _remote(d)
        if local is None or remote is None or d.proto not in ("TCP", "UDP"):
            return None
        found = self.by_ends.get((d.netns, d.proto, remote, local))
        if found is not None and found.ino != d.ino:
            return found
        if d.proto == "UDP":  # its datagrams go to the socket bound to its remote address
            wildcard = ("0.0.0.0" if ":" not in remote[0] else "::", remote[1])
            found = self.bound.get((d.netns, remote)) or self.bound.get((d.netns, wildcard))
            return found if found is not None and found.ino != d.ino else None
        return None
