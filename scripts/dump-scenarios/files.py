#!/usr/bin/env python3
"""Scenario "files": pipes, FIFOs, anonymous-inode files, memfds, deleted files and locks.

Two processes, fd-root and its child fd-child (which shares some of the root's files):
  pipes     one with unread bytes (its write end also in the child, O_ASYNC with F_SETOWN and
            F_SETSIG on the read end), one empty, one resized to 128 KiB (F_SETPIPE_SZ) holding
            20 KiB unread
  FIFOs     fifo1 opened O_RDWR with unread bytes; fifo2 opened separately for reading
            (O_NONBLOCK) and writing, empty
  eventfd   count 42 (non-blocking) and count 7 (EFD_SEMAPHORE)
  epoll     one watching the eventfd, a pipe (EPOLLET) and a socketpair end with custom data
            words; a second epoll watching the first (nested)
  signalfd  SIGUSR1 and SIGRTMIN+5, non-blocking
  timerfd   CLOCK_MONOTONIC armed (1000 s, interval 100 s), CLOCK_REALTIME absolute, CLOCK_BOOTTIME
            disarmed
  inotify   watching the work directory and watched.txt
  fanotify  an inode mark on watched.txt (FAN_MODIFY | FAN_CLOSE_WRITE)
  memfd     cfw-memfd (64 KiB, sealed against shrinking and growing, mapped MAP_SHARED by the
            root) and cfw-memfd-small (offset 5)
  regular   regular.txt read-only at offset 7; append.log O_APPEND; mapped.bin mapped private
            and dirtied; the work directory (O_DIRECTORY); an O_PATH fd; /dev/null, /dev/zero
  deleted   ghost-small.txt (deleted, open); ghost-big.bin (deleted, sparse, 1.5 MiB, data at
            0 and past 1 MiB; with CFW_DENSE_GHOST=1 all 1.5 MiB are data); an O_TMPFILE file;
            linked-orig.txt unlinked while a hard link linked-other.txt remains (a link remap)
  locks     flock LOCK_EX (flock.txt), POSIX write lock 0..99 and read lock 200..299 (posix.txt,
            the child holds 400..499), OFD write lock (ofd.txt), a read lease (lease.txt)
  bpf       (only with CFW_BPF=1: this CRIU build cannot dump BPF maps) an ARRAY map (4 x u64)
            and a HASH map with two entries

Dump: criu dump -t ROOT -D OUT/images --shell-job --file-locks --link-remap --ghost-limit 2M
      --ghost-fiemap
Usage: files.py OUTDIR
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, check, inheritable, libc

NAME = "files"
F_SETSIG, F_SETPIPE_SZ, F_OFD_SETLK, F_SETLEASE = 10, 1031, 37, 1024
F_ADD_SEALS, F_SEAL_SHRINK, F_SEAL_GROW = 1033, 0x2, 0x4
NR_BPF, NR_FANOTIFY_INIT, NR_FANOTIFY_MARK = 321, 300, 301


def sigset(*signals: int) -> ctypes.Array:
    words = (ctypes.c_ulong * 16)()
    for s in signals:
        words[(s - 1) // 64] |= 1 << ((s - 1) % 64)
    return words


class Itimerspec(ctypes.Structure):
    _fields_ = [
        ("interval_s", ctypes.c_long),
        ("interval_ns", ctypes.c_long),
        ("value_s", ctypes.c_long),
        ("value_ns", ctypes.c_long),
    ]


def timerfd(clock: int, value: int, interval: int, flags: int = 0, absolute: bool = False) -> int:
    fd = check(libc.timerfd_create(clock, os.O_NONBLOCK), "timerfd_create")
    if value:
        spec = Itimerspec(interval, 0, value, 0)
        check(libc.timerfd_settime(fd, 1 if absolute else 0, ctypes.byref(spec), None), "timerfd_settime")
    return fd


def epoll_add(epfd: int, fd: int, events: int, data: int) -> None:
    event = struct.pack("=IQ", events, data)  # struct epoll_event is packed on x86-64
    check(libc.epoll_ctl(epfd, 1, fd, ctypes.c_char_p(event)), "epoll_ctl")


def bpf_map(map_type: int, key_size: int, value_size: int, entries: int, name: bytes) -> int:
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("IIIII", attr, 0, map_type, key_size, value_size, entries, 0)
    attr[28 : 28 + len(name)] = name  # map_name at offset 28 (after inner_map_fd, numa_node)
    return check(libc.syscall(NR_BPF, 0, attr, 128), "bpf map create")


def bpf_update(fd: int, key: bytes, value: bytes) -> None:
    k, v = ctypes.create_string_buffer(key, len(key)), ctypes.create_string_buffer(value, len(value))
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("IIQQQ", attr, 0, fd, 0, ctypes.addressof(k), ctypes.addressof(v), 0)
    check(libc.syscall(NR_BPF, 2, attr, 128), "bpf map update")


def flock_struct(kind: int, start: int, length: int) -> bytes:
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0)


def write_file(name: str, data: bytes) -> None:
    with open(name, "wb") as f:
        f.write(data)


def root(t: Tree) -> None:
    keep: list[int] = []  # every fd the holder must keep
    shared: list[int] = []  # of those, the ones the child keeps too

    # Pipes.
    r1, w1 = os.pipe()
    os.write(w1, b"pipe data unread")
    fcntl.fcntl(r1, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(r1, F_SETSIG, signal.SIGRTMIN + 6)
    fcntl.fcntl(r1, fcntl.F_SETFL, fcntl.fcntl(r1, fcntl.F_GETFL) | os.O_ASYNC)
    r2, w2 = os.pipe()
    r3, w3 = os.pipe()
    fcntl.fcntl(w3, F_SETPIPE_SZ, 128 * 1024)
    os.write(w3, (b"big pipe buffer marker-pipe-5e11 " * 700)[:20480])
    keep += [r1, w1, r2, w2, r3, w3]
    shared += [w1]

    # FIFOs.
    os.mkfifo("fifo1")
    f1 = os.open("fifo1", os.O_RDWR)
    os.write(f1, b"fifo data unread")
    os.mkfifo("fifo2")
    f2r = os.open("fifo2", os.O_RDONLY | os.O_NONBLOCK)
    f2w = os.open("fifo2", os.O_WRONLY)
    keep += [f1, f2r, f2w]

    # eventfd, epoll, signalfd, timerfd.
    e1 = os.eventfd(42, os.EFD_NONBLOCK)
    e2 = os.eventfd(7, os.EFD_SEMAPHORE)
    sp1, sp2 = socket.socketpair()
    sp1.send(b"socketpair data for epoll")
    ep = select.epoll()
    epfd = ep.fileno()
    epoll_add(epfd, e1, select.EPOLLIN, 0xC0FFEE)
    epoll_add(epfd, r1, select.EPOLLIN | select.EPOLLET, 0x1234_5678_9ABC)
    epoll_add(epfd, sp2.fileno(), select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP, 42)
    ep2 = select.epoll()
    epoll_add(ep2.fileno(), epfd, select.EPOLLIN, 7)
    sfd = check(libc.signalfd(-1, sigset(signal.SIGUSR1, signal.SIGRTMIN + 5), os.O_NONBLOCK), "signalfd")
    tfd1 = timerfd(time.CLOCK_MONOTONIC, 1000, 100)
    tfd2 = timerfd(time.CLOCK_REALTIME, int(time.time()) + 5000, 0, absolute=True)
    tfd3 = timerfd(time.CLOCK_BOOTTIME, 0, 0)
    keep += [e1, e2, sp1.detach(), sp2.detach(), ep.fileno(), ep2.fileno(), sfd, tfd1, tfd2, tfd3]
    shared += [e1, epfd]

    # inotify and fanotify.
    write_file("watched.txt", b"watched file\n")
    ino = check(libc.inotify_init1(os.O_NONBLOCK), "inotify_init1")
    check(libc.inotify_add_watch(ino, str(t.work).encode(), 0x100 | 0x200 | 0x80), "inotify_add_watch dir")
    check(libc.inotify_add_watch(ino, b"watched.txt", 0x2 | 0x8), "inotify_add_watch file")
    fan = check(libc.syscall(NR_FANOTIFY_INIT, 0x2 | 0x0, os.O_RDONLY | os.O_LARGEFILE), "fanotify_init")  # NONBLOCK
    check(libc.syscall(NR_FANOTIFY_MARK, fan, 0x1, ctypes.c_uint64(0x2 | 0x8), -100, b"watched.txt"), "fanotify_mark")
    keep += [ino, fan]

    # memfds.
    m1 = os.memfd_create("cfw-memfd", os.MFD_ALLOW_SEALING)
    os.write(m1, b"memfd content marker-memfd-a9d4\n" * 64)
    os.ftruncate(m1, 65536)
    fcntl.fcntl(m1, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)
    m2 = os.memfd_create("cfw-memfd-small", 0)
    os.write(m2, b"small memfd marker-memfd-small-02c7")
    os.lseek(m2, 5, os.SEEK_SET)
    keep += [m1, m2]

    # Regular files, a directory, O_PATH, devices.
    write_file("regular.txt", b"regular file contents, read from offset 7\n")
    reg = os.open("regular.txt", os.O_RDONLY)
    os.lseek(reg, 7, os.SEEK_SET)
    app = os.open("append.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.write(app, b"appended line\n")
    write_file("mapped.bin", b"\0" * 16384)
    mapped = os.open("mapped.bin", os.O_RDWR)
    dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    opath = os.open("regular.txt", os.O_PATH)
    keep += [reg, app, mapped, dfd, opath, os.open("/dev/null", os.O_RDWR), os.open("/dev/zero", os.O_RDONLY)]

    # Deleted files.
    g1 = os.open("ghost-small.txt", os.O_RDWR | os.O_CREAT, 0o600)
    os.write(g1, b"deleted but open: marker-ghost-small-6b2e\n")
    os.unlink("ghost-small.txt")
    g2 = os.open("ghost-big.bin", os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(g2, 1536 * 1024)
    if os.environ.get("CFW_DENSE_GHOST") == "1":  # a variant: no holes (1.5 MiB in the image)
        os.pwrite(g2, (b"dense ghost filler marker-ghost-dense-77e2\n" * 40000)[: 1536 * 1024], 0)
    os.pwrite(g2, b"big ghost head marker-ghost-big-head-1f0d\n" * 90, 0)
    os.pwrite(g2, b"big ghost tail marker-ghost-big-tail-8c3a\n" * 90, 1024 * 1024 + 17)
    os.unlink("ghost-big.bin")
    tmpf = os.open(".", os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(tmpf, b"O_TMPFILE contents marker-tmpfile-4d6c\n")
    write_file("linked-orig.txt", b"hard-linked file, first name removed\n")
    os.link("linked-orig.txt", "linked-other.txt")
    lnk = os.open("linked-orig.txt", os.O_RDONLY)
    os.unlink("linked-orig.txt")
    keep += [g1, g2, tmpf, lnk]

    # Locks.
    for name in ("flock.txt", "posix.txt", "ofd.txt", "lease.txt"):
        write_file(name, b"x" * 1024)
    fl = os.open("flock.txt", os.O_RDWR)
    fcntl.flock(fl, fcntl.LOCK_EX)
    px = os.open("posix.txt", os.O_RDWR)
    fcntl.lockf(px, fcntl.LOCK_EX, 100, 0)
    fcntl.lockf(px, fcntl.LOCK_SH, 100, 200)
    ofd = os.open("ofd.txt", os.O_RDWR)
    fcntl.fcntl(ofd, F_OFD_SETLK, flock_struct(fcntl.F_WRLCK, 0, 0))
    lease = os.open("lease.txt", os.O_RDONLY)
    fcntl.fcntl(lease, F_SETLEASE, fcntl.F_RDLCK)
    keep += [fl, px, ofd, lease]

    # BPF maps: this CRIU 4.2.1 build cannot dump them ("Can't dump file ... anon_inode:bpf-map",
    # it was built without libbpf), so only with CFW_BPF=1.
    if os.environ.get("CFW_BPF") != "1":
        return finish(t, keep, shared, m1, mapped)
    arr = bpf_map(2, 4, 8, 4, b"cfw_array")
    for i in range(4):
        bpf_update(arr, struct.pack("I", i), struct.pack("Q", 0x1111 * (i + 1)))
    hsh = bpf_map(1, 8, 16, 8, b"cfw_hash")
    bpf_update(hsh, b"key-one\0", b"value-one-bpf\0\0\0")
    bpf_update(hsh, b"key-two\0", b"value-two-bpf\0\0\0")
    keep += [arr, hsh]
    finish(t, keep, shared, m1, mapped)


def finish(t: Tree, keep: list[int], shared: list[int], m1: int, mapped: int) -> None:
    inheritable(*keep)

    def child() -> None:
        for fd in keep:
            if fd not in shared:
                os.close(fd)
        # Its own descriptor: closing any descriptor of posix.txt in the root would drop the
        # root's POSIX locks on it.
        posix_child = os.open("posix.txt", os.O_RDWR)
        fcntl.lockf(posix_child, fcntl.LOCK_EX, 100, 400)
        os.set_inheritable(posix_child, True)
        t.exec_holder("fd-child", ["-m", "marker-fd-child-e5a0"], extra=["cfw-argv-marker-child"])

    t.fork(child)
    t.exec_holder(
        "fd-root", ["-m", "marker-fd-root-b7c3", "-M", str(m1), "-p", str(mapped)], extra=["cfw-argv-marker-root"]
    )


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.markers += [
        "marker-fd-root-b7c3",
        "marker-fd-child-e5a0",
        "marker-memfd-a9d4",
        "marker-ghost-small-6b2e",
        "marker-ghost-big-head-1f0d",
        "marker-ghost-big-tail-8c3a",
        "marker-tmpfile-4d6c",
        "marker-pipe-5e11",
    ]
    with t.session():
        pid = t.start(root, expected=2)
        t.dump(pid, ["--file-locks", "--link-remap", "--ghost-limit", "2M", "--ghost-fiemap"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
