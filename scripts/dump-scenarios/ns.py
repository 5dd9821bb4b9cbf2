#!/usr/bin/env python3
"""Scenario "ns": a small tree in its own IPC, UTS, PID, network and time namespaces and cgroups.

A helper (the launcher's child, not dumped) unshares the IPC, UTS, PID, network and time
namespaces (time offsets: monotonic +1 day, boottime +2 days), moves itself into the cgroups
cfw-ns (cpu, memory, pids; pids.max 64) and forks the namespace's init, which is dumped:
  ns-init     PID 1 of the new PID namespace and a session leader; hostname cfw-ns-host, domain cfw.example; in the
              new IPC namespace: a System V shared memory segment (attached, with a marker), a
              second one (key 0xcf0001, not attached, with text written into it), a semaphore
              set (key 0xcf0002, values 1, 2, 3) and a message queue (key 0xcf0003, two
              messages of types 1 and 7); lo brought up with `ip link set lo up`, a TCP listener
              on 127.0.0.1 with an established connection (unread bytes both ways) and a UDP
              socket; one thread
  ns-child    its fork child (PID 3: `ip` was PID 2)
Also, in the new network namespace (CFW_NETDEVS=1, the default): a veth pair cfw-veth0/cfw-veth1
(down, no addresses), cfw-veth1 enslaved to a bridge cfw-br0, and a tun device cfw-tun0 whose fd
ns-init keeps; ns-init also keeps fds of its own uts, net and ipc namespaces (/proc/self/ns/*).
User and mount namespaces (CFW_USERNS=0 / CFW_MNTNS=0 turn them off): the helper first
unshares a user namespace (identity uid/gid maps written by the launcher), and ns-init has its
own mount namespace with a fresh /proc and a private tmpfs (mnt/, holding in-tmpfs.txt).
Mounts under /mnt (machine-specific) are left out with --skip-mnt.

Dump: criu dump -t INIT -D OUT/images --shell-job --tcp-established --network-lock skip
      [--skip-mnt MOUNTPOINT for each mount under /mnt]
Usage: ns.py OUTDIR
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, check, libc, sock

NAME = "ns"
CLONE_NEWTIME, CLONE_NEWUTS, CLONE_NEWIPC = 0x80, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
IPC_CREAT, IPC_PRIVATE, SETALL = 0o1000, 0, 17
CGROUPS = ["cpu", "memory", "pids"]
NET = os.environ.get("CFW_NET", "1") == "1"
NETDEVS = os.environ.get("CFW_NETDEVS", "1") == "1"
MNTNS = os.environ.get("CFW_MNTNS", "1") == "1"
USERNS = os.environ.get("CFW_USERNS", "1") == "1"
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000

libc.shmat.restype = ctypes.c_void_p


class Sembuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]


def sysv() -> int:
    """Create the System V objects; returns the id of the segment ns-init attaches."""
    attached = check(libc.shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0o600), "shmget private")
    other = check(libc.shmget(0xCF0001, 4096, IPC_CREAT | 0o640), "shmget keyed")
    addr = libc.shmat(other, None, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "shmat")
    text = b"sysv shm written by python marker-shm-keyed-3a9e\n"
    ctypes.memmove(addr, text, len(text))
    libc.shmdt(ctypes.c_void_p(addr))
    sem = check(libc.semget(0xCF0002, 3, IPC_CREAT | 0o600), "semget")
    values = (ctypes.c_ushort * 3)(1, 2, 3)
    check(libc.semctl(sem, 0, SETALL, values), "semctl SETALL")
    msq = check(libc.msgget(0xCF0003, IPC_CREAT | 0o600), "msgget")
    for mtype, body in ((1, b"first message marker-msg-1-77d0"), (7, b"second message, type 7")):
        buf = ctypes.create_string_buffer(8 + len(body))
        ctypes.memmove(buf, ctypes.c_long(mtype).value.to_bytes(8, "little"), 8)
        ctypes.memmove(ctypes.addressof(buf) + 8, body, len(body))
        check(libc.msgsnd(msq, buf, len(body), 0), "msgsnd")
    return attached


def helper(t: Tree) -> None:
    """The launcher's child: new namespaces and cgroups, then fork the init and wait."""
    for ctl in CGROUPS:
        d = Path("/sys/fs/cgroup") / ctl / "cfw-ns"
        d.mkdir(exist_ok=True)
        if ctl == "pids":
            (d / "pids.max").write_text("64")
        (d / "cgroup.procs").write_text(str(os.getpid()))
    if USERNS:
        # Mounts copied into a user namespace's mount namespace are locked, and CRIU then
        # cannot look under the doubled /dev/shm and /dev/pts of this machine: drop the upper
        # copies in a private mount namespace first, while still privileged.
        check(libc.unshare(CLONE_NEWNS), "unshare mount (privileged)")
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        subprocess.run(["umount", "/dev/shm"], check=True)
        subprocess.run(["umount", "/dev/pts"], check=True)
        # The launcher writes our uid/gid maps (we cannot, having no capability outside).
        check(libc.unshare(CLONE_NEWUSER), "unshare user")
        os.write(t.ready_w, f"{os.getpid()} ns-helper-userns\n".encode())
        os.read(t.go_r, 1)
    flags = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWTIME | (CLONE_NEWNET if NET else 0)
    flags |= CLONE_NEWNS if MNTNS or USERNS else 0
    check(libc.unshare(flags), "unshare")
    if USERNS:
        os.close(t.go_r)
    Path("/proc/self/timens_offsets").write_text("monotonic 86400 0\nboottime 172800 0\n")
    t.run_init(ns_init, "ns-init")


def ns_init(t: Tree) -> None:
    os.setsid()  # CRIU wants the session leader inside the PID namespace
    libc.sethostname(b"cfw-ns-host", 11)
    libc.setdomainname(b"cfw.example", 11)
    shmid = sysv()
    if USERNS:  # CRIU wants a /proc of the task's own PID namespace
        subprocess.run(["mount", "-t", "proc", "proc", "/proc"], check=True)
    if MNTNS or USERNS:  # here, not in the helper: a fork there would be the PID namespace's init
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        mnt = t.work / "mnt"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=750", "cfw-tmpfs", str(mnt)], check=True)
        (mnt / "in-tmpfs.txt").write_text("a file inside the private tmpfs marker-tmpfs-5c2d\n")
        # stdio was opened in the old mount namespace: reopen it in this one.
        null = os.open("/dev/null", os.O_RDWR)
        log = os.open(t.work / "stderr.log", os.O_WRONLY | os.O_APPEND)
        for fd, src in ((0, null), (1, null), (2, log)):
            os.dup2(src, fd)
        os.close(null)
        os.close(log)
    fds = []
    if NET:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        tl = sock(socket.AF_INET, socket.SOCK_STREAM)
        tl.bind(("127.0.0.1", 0))
        tl.listen(4)
        tc = sock(socket.AF_INET, socket.SOCK_STREAM)
        tc.connect(tl.getsockname())
        ta, _ = tl.accept()
        ta.set_inheritable(True)
        tc.sendall(b"ns tcp client->server unread")
        ta.sendall(b"ns tcp server->client unread")
        us = sock(socket.AF_INET, socket.SOCK_DGRAM)
        us.bind(("127.0.0.1", 0))
        fds = [tl, tc, ta, us]
        if NETDEVS:
            for cmd in (
                ["ip", "link", "add", "cfw-veth0", "type", "veth", "peer", "name", "cfw-veth1"],
                ["ip", "link", "add", "cfw-br0", "type", "bridge"],
                ["ip", "link", "set", "cfw-veth1", "master", "cfw-br0"],
            ):
                subprocess.run(cmd, check=True)
            tun = os.open("/dev/net/tun", os.O_RDWR)
            ifr = struct.pack("16sH22x", b"cfw-tun0", IFF_TUN | IFF_NO_PI)
            fcntl.ioctl(tun, TUNSETIFF, ifr)
            os.set_inheritable(tun, True)
            fds.append(tun)
    for ns in ("uts", "net", "ipc"):
        nsfd = os.open(f"/proc/self/ns/{ns}", os.O_RDONLY)
        os.set_inheritable(nsfd, True)
        fds.append(nsfd)

    def child() -> None:
        t.exec_holder("ns-child", ["-m", "marker-ns-child-0b5f"], extra=["cfw-argv-marker-child"])

    t.fork(child)
    t.exec_holder("ns-init", ["-t", "1", "-a", str(shmid), "-m", "marker-ns-init-d41e"], extra=["cfw-argv-marker-init"])
    del fds


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.markers += ["marker-ns-init-d41e", "marker-ns-child-0b5f", "marker-shm-keyed-3a9e", "marker-msg-1-77d0"]
    t.go_r, go_w = os.pipe()
    t.keep_fds.append(t.go_r)
    try:
        if USERNS:
            t.start(helper, expected=1)
            helper_pid = t.pids["ns-helper-userns"]
            Path(f"/proc/{helper_pid}/uid_map").write_text("0 0 4294967295\n")
            Path(f"/proc/{helper_pid}/setgroups").write_text("allow\n")
            Path(f"/proc/{helper_pid}/gid_map").write_text("0 0 4294967295\n")
            os.write(go_w, b"g")
            t.wait_more(3)
        else:
            t.start(helper, expected=3)
        init = t.pids["ns-init-hostpid"]
        flags = ["--tcp-established", "--network-lock", "skip"] if NET else []
        if MNTNS or USERNS:
            for line in Path("/proc/self/mountinfo").read_text().splitlines():
                point = line.split()[4]
                if point.startswith("/mnt/"):
                    flags += ["--skip-mnt", point]
        t.dump(
            init,
            flags,
            truth_extra={
                "hostname": "cfw-ns-host",
                "domainname": "cfw.example",
                "timens_offsets": {"monotonic": 86400, "boottime": 172800},
            },
        )
    finally:
        t.kill()
        t.finish()
        for ctl in CGROUPS:
            for attempt in range(50):  # the killed tree may take a moment to be reaped
                try:
                    os.rmdir(Path("/sys/fs/cgroup") / ctl / "cfw-ns")
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if attempt == 49:
                        print(f"could not remove cgroup {ctl}/cfw-ns: {exc}", file=sys.stderr)
                    time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
