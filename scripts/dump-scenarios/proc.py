#!/usr/bin/env python3
"""Scenario "proc": a process tree with threads, timers, signals, a pty and odd task states.

Sets up (all holders get the env marker CFW_SECRET and an argv marker):
  proc-root   session leader; 3 threads (comm proc-roo-t1..t3); POSIX timers (3 clocks, one
              SIGEV_THREAD_ID); itimers (real, virtual, prof); pending signals (process-wide
              SIGUSR2 and 2 queued SIGRTMIN+1 with values, SIGUSR1 for thread 1, SIGRTMIN+3 for the
              main thread); sigactions + sigaltstack; a seccomp filter; rlimits; child subreaper;
              umask 027; a 64 KiB shared anonymous mapping shared with its fork child proc-roo-c1;
              the pty master; a pidfd of proc-stopped; marker strings in heap/data/mmap/stack
  proc-roo-c1 fork child of the holder (shares the anonymous shared mapping)
  proc-a      started by bash `exec -a cfw-renamed-argv0 holder ...` (argv[0] changed), in its own
              process group, 1 thread, its own fork child proc-a-c1 (a grandchild of the root)
  proc-tty    its own session with the pty slave as controlling terminal and stdio; unread bytes
              queued in both directions of the pty
  proc-stopped stopped with SIGSTOP before the dump
  (zombie)    a child that exited and is never reaped

Dump: criu dump -t ROOT -D OUT/images --shell-job
Usage: proc.py OUTDIR   (writes OUTDIR/images, OUTDIR/truth.json, OUTDIR/dump.log)
"""

from __future__ import annotations

import fcntl
import os
import shlex
import signal
import sys
import termios
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, inheritable

NAME = "proc"


def root(t: Tree) -> None:
    os.umask(0o027)
    master, slave = os.openpty()
    inheritable(master, slave)

    def child_a() -> None:
        os.setpgid(0, 0)
        argv = t.holder_argv(
            "proc-a", ["-t", "1", "-A", "-m", "marker-proc-a-5d1c", "-f", "1"], extra=["cfw-argv-marker-a"]
        )
        os.close(master)
        os.close(slave)
        cmd = "exec -a cfw-renamed-argv0 " + " ".join(shlex.quote(a) for a in argv)
        t.exec_argv(["/bin/bash", "-c", cmd])

    def child_tty() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.close(slave)
        t.exec_holder("proc-tty", ["-m", "marker-proc-tty-9e2b"], extra=["cfw-argv-marker-tty"])

    def child_stopped() -> None:
        os.close(master)
        os.close(slave)
        t.exec_holder("proc-stopped", ["-m", "marker-proc-stopped-41aa"], extra=["cfw-argv-marker-stopped"])

    t.fork(child_a)
    t.fork(child_tty)
    stopped = t.fork(child_stopped)
    zombie = os.fork()
    if zombie == 0:
        os._exit(3)
    pidfd = os.pidfd_open(stopped)
    inheritable(pidfd)
    os.close(slave)
    # Bytes typed into the terminal that nobody read, and output nobody read from the master.
    os.write(master, b"typed-but-unread pty input\n")
    t.exec_holder(
        "proc-root",
        ["-t", "3", "-T", "-I", "-P", "-A", "-C", "-L", "-R", "-m", "marker-proc-root-c0de", "-S", "-f", "1"],
        extra=["cfw-argv-marker-root"],
    )


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.markers += [
        "marker-proc-root-c0de",
        "marker-proc-a-5d1c",
        "marker-proc-tty-9e2b",
        "marker-proc-stopped-41aa",
        "cfw-argv-marker-root",
        "cfw-renamed-argv0",
    ]
    with t.session():
        pid = t.start(root, expected=6)
        stopped = t.pids["proc-stopped"]
        os.kill(stopped, signal.SIGSTOP)
        for _ in range(100):
            if Path(f"/proc/{stopped}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
                break
            time.sleep(0.05)
        tty_pid = t.pids["proc-tty"]
        # Output the terminal's program wrote that the master side never read.
        tty = os.open(f"/proc/{tty_pid}/fd/1", os.O_WRONLY | os.O_NOCTTY)
        os.write(tty, b"tty output nobody read\n")
        os.close(tty)
        t.dump(pid, [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
