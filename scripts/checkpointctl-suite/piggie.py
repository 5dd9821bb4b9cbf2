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

piggie.py --diff OUTDIR: the two dumps A and B of the suite's ``test-imgs-diff`` (its
test/test-imgs-diff.sh, for the ``diff --sockets`` tests), into OUTDIR/a and OUTDIR/b:
piggie, tcp-server and tcp-client as above (no zombie), then two TCP extras (each a
``tcp-client2`` connected to 127.0.0.1:5000 and the ``tcp-conn`` holding the end the server
accepted) and two ``udp-client2`` (a UDP socket connected to 127.0.0.1:5001); dump A with
--leave-running; every extra killed; one TCP extra and one UDP extra made anew; dump B. The
extras are made from outside, in piggie's namespaces: a process joins them (setns), forks one
that sets the sockets up (the listener's descriptor taken from tcp-server with pidfd_getfd) and
forks the extras, then exits, so the extras are reparented to piggie, PID 1, as checkpointctl's
piggie forks them. piggie ignores SIGCHLD, so a killed extra leaves no zombie.
Each OUTDIR/X/truth.json also holds /proc/net/tcp and /proc/net/udp of piggie's network
namespace and ``ss -tuan`` as they were just before that dump.

These are by-hand tools; tests never run them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dump-scenarios"))
from _common import Tree, check, libc, sock, tree_pids

NAME = "piggie"
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
PR_SET_NAME = 15
PORT = 5000
ARGV0 = "piggie/piggie"  # as the Makefile starts it, relative to test/


def helper(t: Tree, zombie: bool = True) -> None:
    """The launcher's child: new PID and network namespaces, then fork the init and wait."""
    check(libc.unshare(CLONE_NEWPID | CLONE_NEWNET), "unshare")
    t.run_init(lambda tree: piggie(tree, zombie), "piggie")


def piggie(t: Tree, zombie: bool = True) -> None:
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

    def make_zombie() -> None:
        libc.prctl(PR_SET_NAME, b"piggie-zombie", 0, 0, 0)
        t.fork(lambda: t.exec_holder("stopped-child", [], argv0=ARGV0, env=env))
        t.fork(lambda: t.exec_holder("alive-child", [], argv0=ARGV0, env=env))
        os._exit(0)  # its parent never reaps it; its children go to PID 1

    if not zombie:  # the diff dumps: killed extras are reaped by the kernel (SIG_IGN survives exec)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        t.exec_holder("piggie", [], argv0=ARGV0, env=env)
    t.fork(make_zombie)
    t.exec_holder("piggie", [], argv0=ARGV0, env=env)


SYS_PIDFD_GETFD = 438
UDP_PORT = 5001


def _listener_fd(server: int) -> int:
    """A duplicate of tcp-server's listening socket, taken with pidfd_getfd(2)."""
    pidfd = os.pidfd_open(server)
    for fd in sorted(int(name) for name in os.listdir(f"/proc/{server}/fd")):
        target = os.readlink(f"/proc/{server}/fd/{fd}")
        if target.startswith("socket:"):
            dup = check(libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0), "pidfd_getfd")
            if socket.socket(fileno=os.dup(dup)).getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                os.close(pidfd)
                return dup
            os.close(dup)
    raise SystemExit(f"tcp-server {server} has no listening socket")


def spawn_extra(t: Tree, init: int, kind: str) -> dict[str, int]:
    """Make one TCP extra (tcp-client2 and tcp-conn) or one UDP extra (udp-client2) inside
    piggie's namespaces, as piggie's children; comm -> host pid."""
    server = next(pid for pid in tree_pids(init) if Path(f"/proc/{pid}/comm").read_text().strip() == "tcp-server")
    env = {**t.env, "TEST_ENV": "BAR", "TEST_ENV_EMPTY": ""}
    ready_r, ready_w = os.pipe()
    joiner = os.fork()
    if joiner == 0:
        try:
            os.close(ready_r)
            listener = _listener_fd(server) if kind == "tcp" else -1
            for ns in ("pid", "net"):
                fd = os.open(f"/proc/{init}/ns/{ns}", os.O_RDONLY)
                check(libc.setns(fd, 0), f"setns {ns}")
                os.close(fd)
            if os.fork() == 0:  # in piggie's PID namespace; its children go to piggie when it exits
                _make_extras(t, kind, listener, ready_w, env)
            os.wait()
        except BaseException as exc:
            print(f"spawn {kind} failed: {exc!r}", file=sys.stderr, flush=True)
            os._exit(1)
        os._exit(0)
    os.close(ready_w)
    reports = b""
    while chunk := os.read(ready_r, 4096):
        reports += chunk
    os.close(ready_r)
    os.waitpid(joiner, 0)
    made = {}
    for line in reports.decode().splitlines():
        nspid, _, comm = line.partition(" ")
        made[comm] = _host_pid(init, int(nspid))
    wanted = {"tcp": {"tcp-client2", "tcp-conn"}, "udp": {"udp-client2"}}[kind]
    if set(made) != wanted:
        raise SystemExit(f"spawn {kind}: got {made}")
    return made


def _host_pid(init: int, nspid: int) -> int:
    """The host pid of the process whose pid in piggie's namespace is ``nspid``."""
    for pid in tree_pids(init):
        status = Path(f"/proc/{pid}/status").read_text()
        if next(line for line in status.splitlines() if line.startswith("NSpid:")).split()[-1] == str(nspid):
            return pid
    raise SystemExit(f"no process {nspid} in piggie's namespace")


def _make_extras(t: Tree, kind: str, listener: int, ready_w: int, env: dict[str, str]) -> None:
    """In the forked process inside piggie's namespaces: set the sockets up, fork the holders, exit."""
    try:
        null = os.open("/dev/null", os.O_RDWR)
        log = os.open(t.work / "stderr.log", os.O_WRONLY | os.O_APPEND)
        for target, source in ((0, null), (1, null), (2, log)):
            os.dup2(source, target)
        os.chdir(t.work)
        t.ready_w = ready_w
        if kind == "tcp":
            client = sock(socket.AF_INET, socket.SOCK_STREAM)
            client.connect(("127.0.0.1", PORT))
            accepted, _ = socket.socket(fileno=listener).accept()
            accepted.set_inheritable(True)
            ends = {"tcp-client2": client, "tcp-conn": accepted}
        else:
            udp = sock(socket.AF_INET, socket.SOCK_DGRAM)
            udp.connect(("127.0.0.1", UDP_PORT))
            ends = {"udp-client2": udp}
        keep = {0, 1, 2, ready_w}
        for comm, end in ends.items():

            def extra(comm: str = comm, end: socket.socket = end) -> None:
                os.setsid()  # its own session: the forking process is gone
                for other in ends.values():
                    if other is not end:
                        other.close()
                for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):
                    if fd not in keep and fd != end.fileno():
                        with contextlib.suppress(OSError):
                            os.close(fd)
                t.exec_holder(comm, [], argv0=ARGV0, env=env)

            t.fork(extra)
    except BaseException as exc:
        print(f"extras {kind} failed: {exc!r}", file=sys.stderr, flush=True)
        os._exit(1)
    os._exit(0)


def kill_extras(init: int, made: dict[str, int]) -> None:
    """SIGKILL the extras and wait until piggie's kernel-side reaping made them go."""
    for pid in made.values():
        os.kill(pid, signal.SIGKILL)
    for _ in range(200):
        if not set(made.values()) & set(tree_pids(init)):
            return
        time.sleep(0.05)
    raise SystemExit(f"extras {made} still there")


def net_truth(init: int) -> dict:
    """What piggie's network namespace showed: /proc/net/tcp, /proc/net/udp and ss -tuan."""
    ss = subprocess.run(["nsenter", "-t", str(init), "-n", "ss", "-tuan"], capture_output=True, text=True, check=True)
    return {
        "proc_net_tcp": Path(f"/proc/{init}/net/tcp").read_text().splitlines(),
        "proc_net_udp": Path(f"/proc/{init}/net/udp").read_text().splitlines(),
        "ss_tuan": ss.stdout.splitlines(),
    }


def main_diff(out: str) -> int:
    """The two dumps of checkpointctl's test-imgs-diff.sh, into OUT/a and OUT/b."""
    t = Tree(f"{NAME}-diff", out)
    base = t.out
    with t.session():
        t.start(lambda tree: helper(tree, zombie=False), expected=4)
        init = t.pids["piggie-hostpid"]
        extras = [spawn_extra(t, init, kind) for kind in ("tcp", "tcp", "udp", "udp")]
        t.out = base / "a"
        t.out.mkdir()
        t.dump(init, ["--tcp-established", "--network-lock", "skip", "--leave-running"], truth_extra=net_truth(init))
        for made in reversed(extras):
            kill_extras(init, made)
        for kind in ("tcp", "udp"):
            spawn_extra(t, init, kind)
        time.sleep(0.3)
        t.out = base / "b"
        t.out.mkdir()
        t.dump(init, ["--tcp-established", "--network-lock", "skip"], truth_extra=net_truth(init))
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--diff":
        return main_diff(sys.argv[2] if len(sys.argv) > 2 else f"/tmp/cfw-dumps/{NAME}-diff")
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
