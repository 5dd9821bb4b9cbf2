#!/usr/bin/env python3
"""The dump checkpointctl's bats suite runs on (its test/Makefile's ``test-imgs``), made our way.

checkpointctl's Makefile starts its test program ``piggie --tcp-socket --zombie`` with
``TEST_ENV=BAR TEST_ENV_EMPTY=`` in the environment and runs ``criu dump --tcp-established``
on it. This script sets up a tree with the same facts, from ``holder`` (scripts/dump-scenarios):

  piggie          PID 1 of a new PID namespace, in a new network namespace (lo up), a session
                  leader; environment TEST_ENV=BAR and TEST_ENV_EMPTY= (empty); every process's
                  argv[0] is piggie/piggie, as where the Makefile starts it
    tcp-server    a TCP socket listening on 0.0.0.0:5000 and the connection it accepted
    tcp-client    the other end, connected to 127.0.0.1:5000 (ESTABLISHED)
    piggie-zombie exited and never reaped (a zombie); its two children went to PID 1:
    stopped-child stopped with SIGSTOP before the dump
    alive-child   sleeping

(`ip link set lo up` ran as PID 2.) A helper (the launcher's child, not dumped) unshares the
PID and network namespaces and forks the init.

Dump: criu dump -t INIT -D OUT/images --shell-job --tcp-established --network-lock skip
Usage: piggie.py OUTDIR   (as root; CRIU at /opt/reference/bin/criu or $CRIU; gcc)
Then: make-fixture.py-style copy into fixtures/checkpointctl-piggie/ (see fixtures/README.md).
This is a by-hand tool; tests never run it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dump-scenarios"))
from _common import Tree, check, libc, sock

NAME = "piggie"
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
PR_SET_NAME = 15
PORT = 5000
ARGV0 = "piggie/piggie"  # as the Makefile starts it, relative to test/


def helper(t: Tree) -> None:
    """The launcher's child: new PID and network namespaces, then fork the init and wait."""
    check(libc.unshare(CLONE_NEWPID | CLONE_NEWNET), "unshare")
    t.run_init(piggie, "piggie")


def piggie(t: Tree) -> None:
    os.setsid()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = {**t.env, "TEST_ENV": "BAR", "TEST_ENV_EMPTY": ""}
    listener = sock(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", PORT))
    listener.listen(5)
    client = sock(socket.AF_INET, socket.SOCK_STREAM)
    client.connect(("127.0.0.1", PORT))
    accepted, _ = listener.accept()
    accepted.set_inheritable(True)
    client.sendall(b"ping")

    def server() -> None:
        client.close()
        t.exec_holder("tcp-server", [], argv0=ARGV0, env=env)

    def tcp_client() -> None:
        listener.close()
        accepted.close()
        t.exec_holder("tcp-client", [], argv0=ARGV0, env=env)

    t.fork(server)
    t.fork(tcp_client)
    for s in (listener, client, accepted):
        s.close()

    def zombie() -> None:
        libc.prctl(PR_SET_NAME, b"piggie-zombie", 0, 0, 0)
        t.fork(lambda: t.exec_holder("stopped-child", [], argv0=ARGV0, env=env))
        t.fork(lambda: t.exec_holder("alive-child", [], argv0=ARGV0, env=env))
        os._exit(0)  # its parent never reaps it; its children go to PID 1

    t.fork(zombie)
    t.exec_holder("piggie", [], argv0=ARGV0, env=env)


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    with t.session():
        t.start(helper, expected=6)
        init = t.pids["piggie-hostpid"]
        comms = {pid: Path(f"/proc/{pid}/comm").read_text().strip() for pid in t.tree_pids(init)}
        stopped = next(pid for pid, comm in comms.items() if comm == "stopped-child")
        os.kill(stopped, signal.SIGSTOP)
        for _ in range(100):
            if Path(f"/proc/{stopped}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
                break
            time.sleep(0.05)
        t.dump(init, ["--tcp-established", "--network-lock", "skip"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
