#!/usr/bin/env python3
"""Scenario "sharing": data in flight that several descriptors hold, in several processes.

A deleted file inherited by every process of a container (a log it still writes to, say) is one
object however many descriptors point at it; so is a pipe both ends of which were handed down,
a socket a forked worker shares with its parent, a memfd opened again through /proc. Three
processes, sh-root and its children sh-child1 and sh-child2 (each its own holder), hold:
  deleted file  ghost-shared.log, opened twice before it was deleted (two open files, one inode:
                CRIU saves one ghost file for both) and the first open dup'ed: the root holds all
                three descriptors, sh-child1 the two opens, sh-child2 the first: six descriptors
  pipe          20 bytes unread; the root holds both ends, sh-child1 the read end, sh-child2 the
                write end
  UNIX datagram a socketpair; two datagrams queued on one end, which the root and sh-child1 hold
  TCP           a connection over 127.0.0.1, both ends in the root, the accepted end also in
                sh-child1; bytes unread at each end
  memfd         cfw-shared-memfd, opened again through /proc/self/fd (two open files, one inode):
                the root holds both descriptors, sh-child1 the first, sh-child2 the second
truth.json's "inflight" gives each object's bytes and the descriptors (fd numbers) each process
holds it by.

Dump: criu dump -t ROOT -D OUT/images --shell-job --tcp-established --network-lock skip
Usage: sharing.py OUTDIR
"""

from __future__ import annotations

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, inheritable

NAME = "sharing"
GHOST = b"deleted log, held by six descriptors: marker-ghost-shared-3e19\n"
PIPE = b"unread pipe bytes: marker-pipe-shared-7b40"
DATAGRAMS = [b"first datagram marker-dgram-one-51c2", b"second datagram marker-dgram-two-9a07"]
TO_SERVER = b"unread by the accepted end: marker-tcp-in-2f88"
TO_CLIENT = b"unread by the connecting end: marker-tcp-out-c613"
MEMFD = b"memfd opened twice: marker-memfd-shared-0d5e\n"


def objects() -> dict[str, dict[str, int]]:
    """Make every object in the calling process (the root, before it forks): name -> fds."""
    fds: dict[str, dict[str, int]] = {}
    first = os.open("ghost-shared.log", os.O_RDWR | os.O_CREAT, 0o600)
    os.write(first, GHOST)
    again = os.open("ghost-shared.log", os.O_RDONLY)
    os.unlink("ghost-shared.log")
    fds["ghost"] = {"first": first, "dup": os.dup(first), "again": again}

    read, write = os.pipe()
    os.write(write, PIPE)
    fds["pipe"] = {"read": read, "write": write}

    sender, queue = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for datagram in DATAGRAMS:
        sender.send(datagram)
    fds["dgram"] = {"sender": sender.detach(), "queue": queue.detach()}

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    listener.close()
    client.sendall(TO_SERVER)
    accepted.sendall(TO_CLIENT)
    fds["tcp"] = {"accepted": accepted.detach(), "client": client.detach()}

    memfd = os.memfd_create("cfw-shared-memfd", 0)
    os.write(memfd, MEMFD)
    fds["memfd"] = {"first": memfd, "again": os.open(f"/proc/self/fd/{memfd}", os.O_RDWR)}
    return fds


# Which descriptors each child keeps: (object, which)
CHILDREN = {
    "sh-child1": [("ghost", "first"), ("ghost", "again"), ("pipe", "read"), ("dgram", "queue"),
                  ("tcp", "accepted"), ("memfd", "first")],
    "sh-child2": [("ghost", "first"), ("pipe", "write"), ("memfd", "again")],
}  # fmt: skip


def root(t: Tree, report: int) -> None:
    fds = objects()
    every = [fd for named in fds.values() for fd in named.values()]
    inheritable(*every)
    held = {"sh-root": {name: sorted(named.values()) for name, named in fds.items()}}
    for comm, kept in CHILDREN.items():
        held[comm] = {}
        for name, which in kept:
            held[comm].setdefault(name, []).append(fds[name][which])
    os.write(report, json.dumps(held).encode())
    os.close(report)

    def child(comm: str) -> None:
        keep = {fds[name][which] for name, which in CHILDREN[comm]}
        for fd in every:
            if fd not in keep:
                os.close(fd)
        t.exec_holder(comm, [])

    for comm in CHILDREN:
        t.fork(lambda comm=comm: child(comm))
    t.exec_holder("sh-root", [])


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.markers += [
        "marker-ghost-shared-3e19",
        "marker-pipe-shared-7b40",
        "marker-dgram-one-51c2",
        "marker-dgram-two-9a07",
        "marker-tcp-in-2f88",
        "marker-tcp-out-c613",
        "marker-memfd-shared-0d5e",
    ]
    report_r, report_w = os.pipe()
    t.keep_fds.append(report_w)
    with t.session():
        pid = t.start(lambda t: root(t, report_w), expected=3)
        os.close(report_w)
        with os.fdopen(report_r) as report:
            held = json.load(report)
        inflight = {
            "ghost": {"path": str(t.work / "ghost-shared.log"), "content": GHOST.decode()},
            "pipe": PIPE.decode(),
            "dgram": [datagram.decode() for datagram in DATAGRAMS],
            "tcp_to_accepted": TO_SERVER.decode(),
            "tcp_to_client": TO_CLIENT.decode(),
            "memfd": MEMFD.decode(),
            "held_by": {t.pids[comm]: named for comm, named in held.items()},
        }
        t.dump(pid, ["--tcp-established", "--network-lock", "skip"], truth_extra={"inflight": inflight})
    return 0


if __name__ == "__main__":
    sys.exit(main())
