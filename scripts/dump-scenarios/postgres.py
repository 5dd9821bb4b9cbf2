#!/usr/bin/env python3
"""Scenario "postgres": a real PostgreSQL 15 server (Debian's) using System V shared memory.

A fresh cluster is initdb'ed in /tmp/cfw-scenarios/postgres/data (owner postgres, trust
authentication) and configured small: shared_memory_type = sysv and dynamic_shared_memory_type
= sysv, shared_buffers 1MB, fsync off, autovacuum off, no background workers (so no logical
replication launcher), wal_level minimal, listening on 127.0.0.1:55432 and on a UNIX socket in
the work directory. The postmaster runs as postgres, started like the official container image
does (argv just "postgres", PGDATA from the environment), in a new IPC namespace: CRIU dumps
System V shared memory only with the IPC namespace that holds it, and refuses a task that maps
a segment of its own namespace. Its environment holds CFW_SECRET and a PGPASSWORD marker.

Two psql clients outside the tree (started by this launcher) stay connected while the tree is
dumped:
  tcp     over 127.0.0.1: creates cfw_notes and inserts three committed rows whose text is
          marker-pg-row-4a01..4a03 (in shared buffers, the main System V segment)
  unix    over the UNIX socket, with application_name marker-pg-app-6b18: opens a transaction
          and inserts marker-pg-uncommitted-9d2f, left uncommitted ("idle in transaction")
The tree: the postmaster, checkpointer, background writer, walwriter and the two backends.
The postgres children rewrite their process titles over argv and the environment
(update_process_title), so /proc/PID/cmdline shows titles such as "postgres: checkpointer ".

CRIU must run as postgres (see _common.criu_as_user: prlimit(2) needs CAP_SYS_RESOURCE,
which this machine does not grant to root), so with --unprivileged.

Dump: criu dump --unprivileged -t POSTMASTER -D OUT/images --shell-job --tcp-established
      --ext-unix-sk --network-lock skip     (as user postgres, with root's capabilities)
Usage: postgres.py OUTDIR
"""

from __future__ import annotations

import os
import pwd
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree, check, libc, sockets_of

NAME = "postgres"
USER = "postgres"
BIN = "/usr/lib/postgresql/15/bin"
PORT = 55432
CLONE_NEWIPC = 0x08000000
ROWS = ["marker-pg-row-4a01", "marker-pg-row-4a02", "marker-pg-row-4a03"]
UNCOMMITTED = "marker-pg-uncommitted-9d2f"
APP_NAME = "marker-pg-app-6b18"
PASSWORD = "cfw-pgpass-8d41c2e9a7b3"
# postmaster, checkpointer, background writer, walwriter, one backend for each client
PROCESSES = 6

CONF = f"""
# checkforensics scenario "postgres": System V shared memory, kept small
shared_memory_type = sysv
dynamic_shared_memory_type = sysv
shared_buffers = 1MB
huge_pages = off
listen_addresses = '127.0.0.1'
port = {PORT}
unix_socket_directories = '{{work}}'
max_connections = 8
fsync = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
autovacuum = off
max_worker_processes = 0
max_logical_replication_workers = 0
max_parallel_workers = 0
jit = off
"""


def as_postgres() -> list[str]:
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups"]


def init_cluster(t: Tree) -> None:
    """initdb a cluster owned by postgres in the work directory and append CONF to its config."""
    pw = pwd.getpwnam(USER)
    os.chown(t.work, pw.pw_uid, pw.pw_gid)
    data = t.work / "data"
    argv = [f"{BIN}/initdb", "-D", str(data), "--auth=trust", "-U", USER, "-E", "UTF8", "--locale=C", "--no-sync"]
    done = subprocess.run([*as_postgres(), *argv], env=t.env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{NAME}: initdb failed:\n{done.stdout}{done.stderr}")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(CONF.format(work=t.work))


def postmaster(t: Tree) -> None:
    """The tree's root: a new IPC namespace, the postgres user, then exec postgres."""
    check(libc.unshare(CLONE_NEWIPC), "unshare ipc")
    pw = pwd.getpwnam(USER)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    # The pid stays the postmaster's across exec; the ready pipe is close-on-exec.
    os.write(t.ready_w, f"{os.getpid()} postmaster\n".encode())
    os.execve(f"{BIN}/postgres", ["postgres"], t.env)


def wait_accepting(t: Tree, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    argv = [f"{BIN}/pg_isready", "-q", "-h", str(t.work), "-p", str(PORT)]
    while subprocess.run(argv).returncode != 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"{NAME}: the server does not accept connections:\n" + _log(t))
        time.sleep(0.2)


def _log(t: Tree) -> str:
    return (t.work / "stderr.log").read_text(errors="replace")


class Client:
    """One psql session outside the tree, fed statements on its stdin; it stays connected."""

    def __init__(self, t: Tree, host: str, env: dict[str, str] | None = None) -> None:
        self.tree = t
        argv = [f"{BIN}/psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(PORT), "-U", USER]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**t.env, **(env or {})},
        )
        self.output = b""
        self.syncs = 0

    def run(self, sql: str, timeout: float = 30.0) -> None:
        """Send ``sql`` and wait until psql has answered a SELECT sent after it."""
        self.syncs += 1
        token = f"cfw-sync-{self.syncs}"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{sql}\nSELECT '{token}';\n".encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while token.encode() not in self.output:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                said = self.output.decode(errors="replace")
                raise SystemExit(f"{NAME}: psql did not answer:\n{said}\n" + _log(self.tree))
            self.output += chunk

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def wait_tree(t: Tree, root: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(t.tree_pids(root)) != PROCESSES:
        if time.monotonic() > deadline:
            raise SystemExit(f"{NAME}: the tree has {len(t.tree_pids(root))} processes, not {PROCESSES}")
        time.sleep(0.1)


def external_unix_streams(t: Tree, root: int) -> list[int]:
    """Inodes of the tree's connected UNIX stream sockets whose peer is outside the tree.

    --ext-unix-sk covers only datagram sockets ("Can't dump half of stream unix connection");
    a stream socket needs naming with --external unix[INODE]."""
    inodes: dict[int, dict] = {}
    for pid in t.tree_pids(root):
        table = sockets_of(pid)
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inode = int(target[len("socket:[") : -1])
                inodes[inode] = table.get(inode, {})
    return sorted(
        inode
        for inode, sock in inodes.items()
        if sock.get("family") == "UNIX"
        and sock.get("type") == "STREAM"
        and sock.get("state") == "CONNECTED"
        and sock.get("peer_ino") not in inodes
    )


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    t.env.update(
        {
            "PATH": f"{BIN}:{t.env['PATH']}",
            "HOME": pwd.getpwnam(USER).pw_dir,
            "PGDATA": str(t.work / "data"),
            "PGPASSWORD": PASSWORD,
        }
    )
    t.markers += [PASSWORD, *ROWS, UNCOMMITTED, APP_NAME]
    clients: list[Client] = []
    with t.session():
        init_cluster(t)
        root = t.start(postmaster, expected=1)
        try:
            wait_accepting(t)
            tcp = Client(t, "127.0.0.1")
            clients.append(tcp)
            values = ", ".join(f"('{row}')" for row in ROWS)
            tcp.run("CREATE TABLE cfw_notes (id serial PRIMARY KEY, note text);")
            tcp.run(f"INSERT INTO cfw_notes (note) VALUES {values};")
            unix = Client(t, str(t.work), {"PGAPPNAME": APP_NAME})
            clients.append(unix)
            unix.run(f"BEGIN; INSERT INTO cfw_notes (note) VALUES ('{UNCOMMITTED}');")
            wait_tree(t, root)
            time.sleep(0.5)  # let the backends go idle and report it in their titles
            flags = ["--tcp-established", "--ext-unix-sk", "--network-lock", "skip"]
            for inode in external_unix_streams(t, root):
                flags += ["--external", f"unix[{inode}]"]
            t.dump(root, flags, run_as=USER)
        finally:
            for client in clients:
                client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
