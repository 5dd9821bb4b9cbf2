#!/usr/bin/env python3
"""Scenario "states": processes stopped by a signal other than SIGSTOP, and zombies that ended
in different ways, so that what CRIU records of each (task_core_entry's stop_signo, and the
wait status in exit_code) can be checked against what the kernel said.

Sets up:
  st-root     session leader (holder), the parent of all below; it never reaps its children
  st-tstp     holder in its own process group (a stop signal other than SIGSTOP is discarded
              in an orphaned one), stopped with SIGTSTP by this launcher
  (zombies)   three children of st-root forked before it execs the holder: one calls
              _exit(7), one is killed by SIGTERM, one by SIGKILL (each sends it to itself)

truth.json adds "stopped_by" (pid -> the signal this launcher sent) and "zombie_exit_code"
(pid -> the exit_code field of /proc/PID/stat, the wait status the parent would get).

Dump: criu dump -t ROOT -D OUT/images --shell-job
Usage: states.py OUTDIR   (writes OUTDIR/images, OUTDIR/truth.json, OUTDIR/dump.log)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree

NAME = "states"
STOPS = {"st-tstp": signal.SIGTSTP}  # CRIU 4.2.1 refuses SIGTTIN: "SEIZE PID: unsupported stop signal 21"


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the comm: field 3 (state) is [0], field 52 (exit_code) is [49]."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def root(t: Tree) -> None:
    for comm in STOPS:

        def child(comm: str = comm) -> None:
            os.setpgid(0, 0)
            t.exec_holder(comm, [])

        t.fork(child)
    for end in ("exit", "SIGTERM", "SIGKILL"):
        pid = os.fork()
        if pid == 0:
            if end == "exit":
                os._exit(7)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), getattr(signal, end))
            time.sleep(5)
            os._exit(1)
    t.exec_holder("st-root", [])


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    with t.session():
        pid = t.start(root, expected=2)
        t.wait_processes(pid, 5)
        for comm, number in STOPS.items():
            os.kill(t.pids[comm], number)
        stopped_by = {}
        for comm, number in STOPS.items():
            for _ in range(100):
                if _stat_fields(t.pids[comm])[0] == "T":
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f"{NAME}: {comm} did not stop on {number.name}")
            stopped_by[str(t.pids[comm])] = number.name
        zombies = {}
        for _ in range(100):
            children = [p for p in t.tree_pids(pid) if p != pid and str(p) not in stopped_by]
            zombies = {str(p): int(_stat_fields(p)[49]) for p in children if _stat_fields(p)[0] == "Z"}
            if len(zombies) == 3:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"{NAME}: only {len(zombies)} zombies")
        t.dump(pid, [], truth_extra={"stopped_by": stopped_by, "zombie_exit_code": zombies})
    return 0


if __name__ == "__main__":
    sys.exit(main())
