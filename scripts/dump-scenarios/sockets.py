#!/usr/bin/env python3
"""Scenario "sockets": UNIX, TCP, UDP (IPv4 and IPv6 on loopback), netlink and packet sockets.

Two processes: sk-root (the servers' ends) and its child sk-client (the clients' ends). Unread
data is left queued everywhere it can be:
  UNIX  stream listener on a path (ustream.sock) with one accepted connection, bytes unread in
        both directions; a stream listener on the abstract name @cfw-abstract-stream with no
        connection; a dgram socket bound to a path (udgram.sock) with two unread datagrams from
        a connected sender; a dgram socket bound to @cfw-abstract-dgram with one unread datagram
        from an unconnected sendto() sender; a seqpacket listener (useqpacket.sock) with an
        accepted connection and unread records; socketpairs: stream (one end shut down for
        writing), dgram and seqpacket, each with unread data; a stream socketpair with an
        SCM_RIGHTS message (a pipe's read end) queued; unbound stream and dgram sockets; a dgram
        socket connected to a socket outside the tree (external.sock, needs --ext-unix-sk)
  TCP   listener on 127.0.0.1 and one on ::1 (IPV6_V6ONLY), each with an established connection
        holding unread bytes in both directions (TCP_NODELAY, SO_KEEPALIVE/TCP_KEEPIDLE set on
        some); an unbound, unconnected TCP socket
  UDP   bound on 127.0.0.1 and on ::1, each with a connected sender and unread datagrams
  NETLINK_ROUTE bound with RTMGRP_LINK|RTMGRP_IPV4_IFADDR groups; NETLINK_GENERIC unbound
  PACKET SOCK_RAW bound to lo (protocol 0, so nothing arrives) with PACKET_AUXDATA;
        SOCK_DGRAM unbound
  RAW   AF_INET SOCK_RAW IPPROTO_ICMP and AF_INET6 SOCK_RAW IPPROTO_ICMPV6, unbound

Dump: criu dump -t ROOT -D OUT/images --shell-job --tcp-established --ext-unix-sk --network-lock skip
(no iptables/nft on this machine, so CRIU cannot lock the connections; fine for a dump)
Usage: sockets.py OUTDIR
"""

from __future__ import annotations

import array
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, sock

NAME = "sockets"
SOL_PACKET, PACKET_AUXDATA = 263, 8
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP = 270, 1


def root(t: Tree) -> None:
    U, D, SQ, ST = socket.AF_UNIX, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET, socket.SOCK_STREAM
    server, client = [], []  # what the root keeps, what the child keeps

    # UNIX stream on a path, with an accepted connection and data both ways.
    lst = sock(U, ST)
    lst.bind("ustream.sock")
    lst.listen(4)
    c1 = sock(U, ST)
    c1.connect("ustream.sock")
    a1, _ = lst.accept()
    a1.set_inheritable(True)
    c1.sendall(b"unix-stream client->server unread")
    a1.sendall(b"unix-stream server->client unread")
    server += [lst, a1]
    client += [c1]

    abstract = sock(U, ST)
    abstract.bind("\0cfw-abstract-stream")
    abstract.listen(2)
    server.append(abstract)

    # UNIX dgram: path receiver with a connected sender; abstract receiver with an unconnected one.
    rx = sock(U, D)
    rx.bind("udgram.sock")
    tx = sock(U, D)
    tx.connect("udgram.sock")
    tx.send(b"unix-dgram 1 unread")
    tx.send(b"unix-dgram 2 unread")
    arx = sock(U, D)
    arx.bind("\0cfw-abstract-dgram")
    atx = sock(U, D)
    atx.sendto(b"unix-dgram to abstract unread", "\0cfw-abstract-dgram")
    server += [rx, arx]
    client += [tx, atx]

    # UNIX seqpacket listener with an accepted connection.
    sql = sock(U, SQ)
    sql.bind("useqpacket.sock")
    sql.listen(2)
    sqc = sock(U, SQ)
    sqc.connect("useqpacket.sock")
    sqa, _ = sql.accept()
    sqa.set_inheritable(True)
    sqc.send(b"seqpacket record 1")
    sqc.send(b"seqpacket record 2")
    sqa.send(b"seqpacket reply")
    server += [sql, sqa]
    client += [sqc]

    # Socketpairs.
    for kind, payload in ((ST, b"pair-stream unread"), (D, b"pair-dgram unread"), (SQ, b"pair-seqpacket unread")):
        x, y = socket.socketpair(U, kind)
        x.set_inheritable(True)
        y.set_inheritable(True)
        x.send(payload)
        y.send(payload + b" (reply)")
        if kind == ST:
            x.shutdown(socket.SHUT_WR)
        server.append(x)
        client.append(y)

    # SCM_RIGHTS in flight: a pipe's read end queued on a stream socketpair.
    if os.environ.get("CFW_SCM", "1") == "1":
        pr, pw = os.pipe()
        os.write(pw, b"data in the pipe passed by SCM_RIGHTS")
        x, y = socket.socketpair(U, ST)
        x.set_inheritable(True)
        y.set_inheritable(True)
        x.sendmsg([b"scm-rights message"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [pr]))])
        os.close(pr)
        server.append(x)
        client.append(y)
        keep_pw = pw
        os.set_inheritable(keep_pw, True)

    server += [sock(U, ST), sock(U, D)]  # unbound, unconnected

    # Connected to a socket outside the dumped tree (the launcher's): --ext-unix-sk.
    ext = sock(U, D)
    ext.connect(str(t.work / "external.sock"))
    ext.send(b"to the external socket")
    server.append(ext)

    # TCP over 127.0.0.1 and ::1, data unread in both directions.
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        tl = sock(family, ST)
        tl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            tl.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        tl.bind((host, 0))
        tl.listen(8)
        tc = sock(family, ST)
        tc.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tc.connect(tl.getsockname()[:2])
        ta, _ = tl.accept()
        ta.set_inheritable(True)
        ta.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        ta.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 321)
        tc.sendall(f"tcp {host} client->server unread".encode())
        ta.sendall(f"tcp {host} server->client unread".encode())
        server += [tl, ta]
        client.append(tc)
    server.append(sock(socket.AF_INET, ST))  # unbound TCP

    # UDP over 127.0.0.1 and ::1 with unread datagrams.
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        ur = sock(family, D)
        ur.bind((host, 0))
        us = sock(family, D)
        us.connect(ur.getsockname()[:2])
        us.send(f"udp {host} datagram unread".encode())
        server.append(ur)
        client.append(us)

    # Netlink.
    nl = sock(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    nl.bind((0, 0x1 | 0x10))  # RTMGRP_LINK | RTMGRP_IPV4_IFADDR
    server += [nl, sock(socket.AF_NETLINK, socket.SOCK_DGRAM, 16)]  # NETLINK_GENERIC

    # Packet sockets (protocol 0: bound, but receives nothing).
    pk = sock(socket.AF_PACKET, socket.SOCK_RAW, 0)
    pk.bind(("lo", 0))
    pk.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    server += [pk, sock(socket.AF_PACKET, socket.SOCK_DGRAM, 0)]

    server += [
        sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        sock(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
    ]

    def child() -> None:
        for s in server:
            s.close()
        t.exec_holder("sk-client", ["-m", "marker-sk-client-77b1"], extra=["cfw-argv-marker-client"])

    t.fork(child)
    for s in client:
        s.close()
    t.exec_holder("sk-root", ["-t", "1", "-m", "marker-sk-root-31f0"], extra=["cfw-argv-marker-root"])


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.markers += ["marker-sk-root-31f0", "marker-sk-client-77b1"]
    external = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    external.bind(str(t.work / "external.sock"))
    try:
        with t.session():
            pid = t.start(root, expected=2)
            t.dump(pid, ["--tcp-established", "--ext-unix-sk", "--network-lock", "skip"])
    finally:
        external.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
