#!/usr/bin/env python3
"""Scenario "postgres": a real PostgreSQL 15 server (Debian's) using System V shared memory, and
a psql client in the same tree holding its password in PGPASSWORD.

A fresh cluster is initdb'ed in /tmp/cfw-scenarios/postgres/data (owner postgres; trust over the
UNIX socket, scram-sha-256 over TCP, the superuser's password made for this run and given to
initdb in a file) and configured small: shared_memory_type = sysv and
dynamic_shared_memory_type = sysv, shared_buffers 1MB, fsync off, autovacuum off, no background
workers (so no logical replication launcher), wal_level minimal, listening on 127.0.0.1:55432 and
on a UNIX socket in the work directory.

The tree is a container's: its root, pg-init (holder, standing in for tini), runs as postgres in
a new IPC namespace (CRIU dumps System V shared memory only with the IPC namespace that holds
it, and refuses a task that maps a segment of its own namespace) and starts
  the postmaster  as the official image does (argv just "postgres", PGDATA in the environment,
                  with CFW_SECRET and POSTGRES_PASSWORD, the superuser's password)
  psql            once the server accepts, over 127.0.0.1 with the password in PGPASSWORD (its
                  own environment: PATH, HOME, LANG, PGPASSWORD), fed statements by this
                  launcher on a pipe: it creates cfw_notes and inserts three committed rows
                  marker-pg-row-4a01..4a03, then creates cfw_tokens and inserts fake tokens made
                  for this run (sk_live_, ghp_, xoxb-, glpat-, npm_), each followed by its
                  service's name: in shared buffers each lies after its text's length byte
                  (PostgreSQL's short varlena: (1 + length) * 2 + 1, "S" for 40 characters)
A second psql outside the tree (started by this launcher) stays connected over the UNIX socket
with application_name marker-pg-app-6b18: it opens a transaction and inserts
marker-pg-uncommitted-9d2f, left uncommitted ("idle in transaction").

The tree: pg-init; the postmaster, checkpointer, background writer, walwriter and the two
backends; psql. The postgres children rewrite their process titles over argv and the
environment (update_process_title), so /proc/PID/cmdline shows titles such as
"postgres: checkpointer ". truth.json's "planted" names the password and each token with its
service. None of these credentials is real.

CRIU must run as postgres (see _common.criu_as_user: prlimit(2) needs CAP_SYS_RESOURCE,
which this machine does not grant to root), so with --unprivileged.

Dump: criu dump --unprivileged -t PG_INIT -D OUT/images --shell-job --tcp-established
      --ext-unix-sk --network-lock skip --external unix[INODE]  (as user postgres, with root's
      capabilities; INODE: the backend's end of the outside psql's UNIX socket)
Usage: postgres.py OUTDIR
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import PipedClient, Tree, check, exec_on_pipes, fake_tokens, libc, random_word, sockets_of

NAME = "postgres"
USER = "postgres"
BIN = "/usr/lib/postgresql/15/bin"
PORT = 55432
CLONE_NEWIPC = 0x08000000
ROWS = ["marker-pg-row-4a01", "marker-pg-row-4a02", "marker-pg-row-4a03"]
UNCOMMITTED = "marker-pg-uncommitted-9d2f"
APP_NAME = "marker-pg-app-6b18"
# pg-init, psql; postmaster, checkpointer, background writer, walwriter, one backend per client
PROCESSES = 8

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


def init_cluster(t: Tree, password: str) -> None:
    """initdb a cluster owned by postgres in the work directory (the superuser's password from a
    file, scram-sha-256 over TCP) and append CONF to its config."""
    pw = pwd.getpwnam(USER)
    os.chown(t.work, pw.pw_uid, pw.pw_gid)
    data = t.work / "data"
    pwfile = t.work / "pwfile"
    pwfile.write_text(password + "\n")
    os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    argv = [
        f"{BIN}/initdb", "-D", str(data), "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
        "-U", USER, "-E", "UTF8", "--locale=C", "--no-sync",
    ]  # fmt: skip
    done = subprocess.run([*as_postgres(), *argv], env=t.env, capture_output=True, text=True)
    pwfile.unlink()
    if done.returncode != 0:
        raise SystemExit(f"{NAME}: initdb failed:\n{done.stdout}{done.stderr}")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(CONF.format(work=t.work))


def pg_init(t: Tree, psql_fds: tuple[int, int], psql_env: dict[str, str]) -> None:
    """The tree's root: a new IPC namespace and the postgres user; start the postmaster, then,
    once it accepts, psql (stdin and stdout on the launcher's pipes); then become holder."""
    check(libc.unshare(CLONE_NEWIPC), "unshare ipc")
    pw = pwd.getpwnam(USER)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)

    def postmaster() -> None:
        # The pid stays the postmaster's across exec; the ready pipe is close-on-exec.
        os.write(t.ready_w, f"{os.getpid()} postmaster\n".encode())
        os.execve(f"{BIN}/postgres", ["postgres"], t.env)

    def psql() -> None:
        exec_on_pipes(psql_fds, f"{BIN}/psql", [f"{BIN}/psql", *PSQL_OPTIONS, "-h", "127.0.0.1"], psql_env)

    t.fork(postmaster)
    wait_accepting(t)
    t.fork(psql)
    for fd in psql_fds:
        os.close(fd)
    t.exec_holder("pg-init", [])


def wait_accepting(t: Tree, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    argv = [f"{BIN}/pg_isready", "-q", "-h", str(t.work), "-p", str(PORT)]
    while subprocess.run(argv).returncode != 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"{NAME}: the server does not accept connections:\n" + _log(t))
        time.sleep(0.2)


def _log(t: Tree) -> str:
    return (t.work / "stderr.log").read_text(errors="replace")


PSQL_OPTIONS = ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-p", str(PORT), "-U", USER]


class Session(PipedClient):
    """A psql fed statements on a pipe, answering on another; it stays connected."""

    def __init__(self, t: Tree, stdin: int, stdout: int) -> None:
        super().__init__(t, stdin, stdout, "psql", _log)

    def run(self, sql: str, timeout: float = 30.0) -> None:
        """Send ``sql`` and wait until psql has answered a SELECT sent after it."""
        token = self.next_token()
        self.exchange(f"{sql}\nSELECT '{token}';\n", token, timeout)


class Client(Session):
    """One psql session outside the tree."""

    def __init__(self, t: Tree, host: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [f"{BIN}/psql", *PSQL_OPTIONS, "-h", host],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**t.env, **(env or {})},
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        super().__init__(t, self.proc.stdin.fileno(), self.proc.stdout.fileno())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


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
    password = f"cfw-pg-{random_word(20)}"
    tokens = fake_tokens()
    home = pwd.getpwnam(USER).pw_dir
    t.env.update(
        {"PATH": f"{BIN}:{t.env['PATH']}", "HOME": home, "PGDATA": str(t.work / "data"), "POSTGRES_PASSWORD": password}
    )
    psql_env = {"PATH": t.env["PATH"], "HOME": home, "LANG": "C", "PGPASSWORD": password}
    t.markers += [password, *ROWS, UNCOMMITTED, APP_NAME, *tokens.values()]
    psql_in_r, psql_in_w = os.pipe()
    psql_out_r, psql_out_w = os.pipe()
    t.keep_fds += [psql_in_r, psql_out_w]
    sessions: list[Session] = []
    with t.session():
        init_cluster(t, password)
        root = t.start(lambda t: pg_init(t, (psql_in_r, psql_out_w), psql_env), expected=2)
        os.close(psql_in_r)
        os.close(psql_out_w)
        try:
            psql = Session(t, psql_in_w, psql_out_r)
            sessions.append(psql)
            values = ", ".join(f"('{row}')" for row in ROWS)
            psql.run("CREATE TABLE cfw_notes (id serial PRIMARY KEY, note text);")
            psql.run(f"INSERT INTO cfw_notes (note) VALUES {values};")
            psql.run("CREATE TABLE cfw_tokens (id serial PRIMARY KEY, token text NOT NULL, service text NOT NULL);")
            rows = ", ".join(f"('{token}', '{service}')" for service, token in tokens.items())
            psql.run(f"INSERT INTO cfw_tokens (token, service) VALUES {rows};")
            unix = Client(t, str(t.work), {"PGAPPNAME": APP_NAME})
            sessions.append(unix)
            unix.run(f"BEGIN; INSERT INTO cfw_notes (note) VALUES ('{UNCOMMITTED}');")
            t.wait_processes(root, PROCESSES)
            time.sleep(0.5)  # let the backends go idle and report it in their titles
            flags = ["--tcp-established", "--ext-unix-sk", "--network-lock", "skip"]
            for inode in external_unix_streams(t, root):
                flags += ["--external", f"unix[{inode}]"]
            planted = {"password": password, "tokens": tokens}
            t.dump(root, flags, truth_extra={"planted": planted}, run_as=USER)
        finally:
            for session in sessions:
                session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
