#!/usr/bin/env python3
"""Scenario "weird": the unusual values a forensic tool meets in hostile or odd processes.

  wr-root     comm "wëird✓" (non-ASCII UTF-8); holds files whose names are non-ASCII UTF-8
              (données-é✓.txt) and not UTF-8 at all (bad-\\xff\\xfe-name.txt, and a deleted one);
              UNIX sockets bound to a non-ASCII path, to a non-UTF-8 path and to an abstract name
              with binary bytes (\\0cfw-bin-\\x00\\x01\\xff); a TCP connection from a dual-stack
              IPv6 socket to 127.0.0.1 through ::ffff:127.0.0.1 (IPv4-mapped), unread bytes both
              ways; a pipe owned (F_SETOWN) by its process group and one by a thread
              (F_SETOWN_EX); odd mappings (holder -K: madvise flags, PROT_NONE, mlock,
              MAP_GROWSDOWN, MAP_32BIT, an AIO ring); personality ADDR_NO_RANDOMIZE;
              oom_score_adj 321
  wr-creds    its child: supplementary groups 4, 24, 27; SECBIT_NOROOT, so after exec it keeps
              only its ambient capability CAP_NET_BIND_SERVICE; inheritable CAP_CHOWN, CAP_KILL,
              CAP_NET_BIND_SERVICE; CAP_NET_RAW and CAP_SYS_MODULE dropped from the bounding set;
              SCHED_BATCH, nice 5. (It stays uid 0: CRIU needs CAP_SYS_RESOURCE, which this
              machine does not give, to read the rlimits of a task with other uids.)
  bad\\xff\\xfe  its child with a comm that is not UTF-8 (argv and environment hold invalid
              UTF-8 too)

Dump: criu dump -t ROOT -D OUT/images --shell-job --tcp-established --network-lock skip
Usage: weird.py OUTDIR
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, check, inheritable, libc, sock

NAME = "weird"
F_SETOWN_EX, F_OWNER_TID = 15, 0
ADDR_NO_RANDOMIZE = 0x0040000
CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SYS_MODULE = 0, 5, 10, 13, 16
PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, SECBIT_NOROOT = 24, 28, 47, 2, 1


def root(t: Tree) -> None:
    keep: list[int] = []
    socks = []
    for name in ("données-é✓.txt".encode(), b"bad-\xff\xfe-name.txt"):
        with open(name, "wb") as f:
            f.write(b"file with an odd name\n")
        keep.append(os.open(name, os.O_RDONLY))
    ghost = os.open(b"deleted-\xff-ghost.txt", os.O_RDWR | os.O_CREAT, 0o600)
    os.write(ghost, b"deleted file with a non-UTF-8 name marker-weird-ghost-0e4b\n")
    os.unlink(b"deleted-\xff-ghost.txt")
    keep.append(ghost)
    os.mkdir("répertoire-✓")
    keep.append(os.open("répertoire-✓", os.O_RDONLY | os.O_DIRECTORY))

    for name in ("sock-é✓.sock".encode(), b"sock-\xff.sock", b"\0cfw-bin-\x00\x01\xff"):
        s = sock(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(name)
        socks.append(s)
    peer = sock(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer.sendto(b"to a binary abstract name", b"\0cfw-bin-\x00\x01\xff")
    socks.append(peer)

    listener = sock(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    dual = sock(socket.AF_INET6, socket.SOCK_STREAM)
    dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    dual.connect(("::ffff:127.0.0.1", listener.getsockname()[1]))
    acc, _ = listener.accept()
    acc.set_inheritable(True)
    dual.sendall(b"v4-mapped client->server unread")
    acc.sendall(b"v4-mapped server->client unread")
    socks += [listener, dual, acc]

    r1, w1 = os.pipe()
    fcntl.fcntl(r1, fcntl.F_SETOWN, -os.getpgid(0))
    r2, w2 = os.pipe()
    fcntl.fcntl(r2, F_SETOWN_EX, struct.pack("ii", F_OWNER_TID, os.getpid()))
    keep += [r1, w1, r2, w2]
    inheritable(*keep)

    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("321")
    check(libc.personality(ADDR_NO_RANDOMIZE), "personality")

    def creds() -> None:
        for s in socks:
            s.close()
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        os.nice(5)
        os.setgroups([4, 24, 27])
        # Other uids would need CAP_SYS_RESOURCE for CRIU's prlimit(), which this machine lacks:
        # stay uid 0 but unprivileged (SECBIT_NOROOT), with odd capability sets.
        header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
        data = ctypes.create_string_buffer(24)
        check(libc.capget(header, data), "capget")
        eff0, perm0, _, eff1, perm1, _ = struct.unpack("6I", data.raw)
        inheritable = (1 << CAP_CHOWN) | (1 << CAP_KILL) | (1 << CAP_NET_BIND_SERVICE)
        check(libc.capset(header, struct.pack("6I", eff0, perm0, inheritable, eff1, perm1, 0)), "capset")
        check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0), "ambient")
        for cap in (CAP_NET_RAW, CAP_SYS_MODULE):
            check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "capbset drop")
        check(libc.prctl(PR_SET_SECUREBITS, SECBIT_NOROOT, 0, 0, 0), "securebits")
        t.exec_holder("wr-creds", ["-m", "marker-weird-creds-51aa"], extra=["cfw-argv-marker-creds"])

    def badcomm() -> None:
        for s in socks:
            s.close()
        argv = t.holder_argv(
            b"bad\xff\xfe".decode("utf-8", "surrogateescape"),
            ["-m", "marker-weird-bad-9c03"],
            extra=["argv-not-utf8-\udcff\udcfe", "argv-é✓"],
        )
        env = dict(t.env)
        env["CFW_NOT_UTF8"] = "value-\udcff-end"
        t._ready_fd()
        os.execve(t.holder, argv, env)

    t.fork(creds)
    t.fork(badcomm)
    t.exec_holder("wëird✓", ["-K", "-t", "1", "-m", "marker-weird-root-2f7d"], extra=["cfw-argv-marker-root"])


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.markers += [
        "marker-weird-root-2f7d",
        "marker-weird-creds-51aa",
        "marker-weird-bad-9c03",
        "marker-weird-ghost-0e4b",
    ]
    with t.session():
        pid = t.start(root, expected=3)
        t.dump(pid, ["--tcp-established", "--network-lock", "skip"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
