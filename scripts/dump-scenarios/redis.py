#!/usr/bin/env python3
"""Scenario "redis": a real redis 7.0 server (Debian's redis-server) with a password, a redis-cli
in the same tree holding the password in REDISCLI_AUTH, and a client outside the tree.

The tree is a container's, as an image such as bitnami/redis builds it: its root, redis-init
(holder, standing in for the entrypoint), runs as redis with REDIS_PASSWORD in its environment
(the password made for this run) and has written it into the configuration as ``requirepass``
(/tmp/cfw-scenarios/redis/redis.conf: 127.0.0.1:56379, no persistence, log in the work
directory). It starts
  redis-server  argv "redis-server CONF", the environment of redis-init; redis moves its
                environment to the heap (setenv of each entry) and writes its title
                "redis-server 127.0.0.1:56379" over argv and the old environment, which it first
                fills with NULs; the title is shorter than argv, so redis puts a "." on argv's
                last NUL and /proc/PID/cmdline shows the title alone (the kernel reads a title up
                to its first NUL once argv's last byte is not NUL)
  redis-cli     once the server accepts, over 127.0.0.1 with the password in REDISCLI_AUTH (its
                own environment: PATH, HOME, LANG, REDISCLI_AUTH), which it sends as AUTH when
                it connects; its stdin and stdout are pipes of this launcher, which feeds it
                commands (redis-cli reads them a line at a time when stdin is no terminal)
redis-cli stores the markers (the string marker-redis-value-8e52 under the key
marker-redis-key-3c71, a hash field, a list element) and fake tokens made for this run
(sk_live_, ghp_, xoxb-, glpat-, npm_) under cfw:token:SERVICE, each a value redis keeps in an
sds string (a header of length, allocation and type bytes right before it). A client outside the
tree (a socket of this launcher) authenticates with AUTH, names itself marker-redis-client-5d09
(CLIENT SETNAME) and stores marker-redis-outside-2b64; it stays connected.

The tree: redis-init; redis-server (its own threads: bio_close_file, bio_aof, bio_lazy_free,
jemalloc's background thread); redis-cli. truth.json's "planted" names the password and each token
with its service. None of these credentials is real.

CRIU must run as redis (see _common.criu_as_user: prlimit(2) needs CAP_SYS_RESOURCE, which this
machine does not grant to root), so with --unprivileged.

Dump: criu dump --unprivileged -t REDIS_INIT -D OUT/images --shell-job --tcp-established
      --network-lock skip  (as user redis, with root's capabilities)
Usage: redis.py OUTDIR
"""

from __future__ import annotations

import os
import pwd
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import PipedClient, Tree, exec_on_pipes, fake_tokens, random_word

NAME = "redis"
USER = "redis"
SERVER = "/usr/bin/redis-server"
CLI = "/usr/bin/redis-cli"
PORT = 56379
KEY = "marker-redis-key-3c71"
VALUE = "marker-redis-value-8e52"
FIELD = "marker-redis-field-61d7"
LIST_ITEM = "marker-redis-list-0f93"
CLIENT_NAME = "marker-redis-client-5d09"
OUTSIDE = "marker-redis-outside-2b64"
PROCESSES = 3  # redis-init, redis-server, redis-cli

CONF = f"""
# checkforensics scenario "redis": loopback, a password, nothing written to disk
bind 127.0.0.1
port {PORT}
protected-mode yes
daemonize no
dir {{work}}
logfile {{work}}/redis.log
save ""
appendonly no
maxclients 16
requirepass {{password}}
"""


def configure(t: Tree, password: str) -> None:
    """The work directory and redis.conf, owned by redis (the entrypoint's job in an image)."""
    pw = pwd.getpwnam(USER)
    os.chown(t.work, pw.pw_uid, pw.pw_gid)
    conf = t.work / "redis.conf"
    conf.write_text(CONF.format(work=t.work, password=password))
    os.chown(conf, pw.pw_uid, pw.pw_gid)
    os.chmod(conf, 0o600)


def redis_init(t: Tree, cli_fds: tuple[int, int], cli_env: dict[str, str]) -> None:
    """The tree's root: become redis, start redis-server, then, once it accepts, redis-cli
    (stdin and stdout on the launcher's pipes); then become holder."""
    pw = pwd.getpwnam(USER)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)

    def server() -> None:
        # The pid stays the server's across exec; the ready pipe is close-on-exec.
        os.write(t.ready_w, f"{os.getpid()} redis-server\n".encode())
        os.execve(SERVER, ["redis-server", str(t.work / "redis.conf")], t.env)

    def cli() -> None:
        exec_on_pipes(cli_fds, CLI, ["redis-cli", "-h", "127.0.0.1", "-p", str(PORT)], cli_env)

    t.fork(server)
    wait_accepting(t)
    t.fork(cli)
    for fd in cli_fds:
        os.close(fd)
    t.exec_holder("redis-init", [])


def wait_accepting(t: Tree, timeout: float = 30.0) -> None:
    """Until the server's port takes a connection (closed at once, never authenticated).

    This runs as redis, which cannot read the modules of root's Python: the address is given as
    bytes, which needs no "idna" codec (a str host would import it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.connect((b"127.0.0.1", PORT))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{NAME}: the server does not accept connections:\n" + _log(t)) from None
            time.sleep(0.1)


def _log(t: Tree) -> str:
    return (t.work / "stderr.log").read_text(errors="replace") + _read(t.work / "redis.log")


def _read(path: os.PathLike) -> str:
    try:
        return open(path, errors="replace").read()
    except OSError:
        return ""


class Cli(PipedClient):
    """The redis-cli in the tree, fed commands on a pipe, answering on another; it stays connected."""

    def __init__(self, t: Tree, stdin: int, stdout: int) -> None:
        super().__init__(t, stdin, stdout, "redis-cli", _log)

    def run(self, *commands: str, timeout: float = 30.0) -> str:
        """Send ``commands`` (one a line) and wait until redis-cli has answered an ECHO sent after
        them; return what it printed for them."""
        token = self.next_token()
        return self.exchange("".join(f"{command}\n" for command in (*commands, f"ECHO {token}")), token, timeout)


def resp(*words: str) -> bytes:
    """One command in redis's protocol (RESP): an array of bulk strings."""
    out = f"*{len(words)}\r\n"
    for word in words:
        out += f"${len(word.encode())}\r\n{word}\r\n"
    return out.encode()


class Outside:
    """A client outside the tree: a plain socket of this launcher speaking RESP."""

    def __init__(self, password: str) -> None:
        self.conn = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        for words, answer in (
            (("AUTH", password), b"+OK\r\n"),
            (("CLIENT", "SETNAME", CLIENT_NAME), b"+OK\r\n"),
            (("SET", "cfw:outside", OUTSIDE), b"+OK\r\n"),
        ):
            self.conn.sendall(resp(*words))
            got = self.conn.recv(4096)
            if got != answer:
                raise SystemExit(f"{NAME}: {words[0]} from outside answered {got!r}")

    def close(self) -> None:
        self.conn.close()


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    password = f"cfw-redis-{random_word(20)}"
    tokens = fake_tokens()
    home = pwd.getpwnam(USER).pw_dir
    t.env.update({"HOME": home, "REDIS_PASSWORD": password})
    cli_env = {"PATH": t.env["PATH"], "HOME": home, "LANG": "C", "REDISCLI_AUTH": password}
    t.markers += [password, KEY, VALUE, FIELD, LIST_ITEM, CLIENT_NAME, OUTSIDE, *tokens.values()]
    cli_in_r, cli_in_w = os.pipe()
    cli_out_r, cli_out_w = os.pipe()
    t.keep_fds += [cli_in_r, cli_out_w]
    clients: list[Cli | Outside] = []
    with t.session():
        configure(t, password)
        root = t.start(lambda t: redis_init(t, (cli_in_r, cli_out_w), cli_env), expected=2)
        os.close(cli_in_r)
        os.close(cli_out_w)
        try:
            cli = Cli(t, cli_in_w, cli_out_r)
            clients.append(cli)
            said = cli.run(
                f"SET {KEY} {VALUE}",
                f"HSET cfw:session user cfw-user {FIELD} 1",
                f"RPUSH cfw:queue {LIST_ITEM}",
                *(f"SET cfw:token:{service} {token}" for service, token in tokens.items()),
            )
            if said.split()[:3] != ["OK", "2", "1"] or "ERR" in said or "NOAUTH" in said:
                raise SystemExit(f"{NAME}: redis-cli said:\n{said}")
            clients.append(Outside(password))
            t.wait_processes(root, PROCESSES)
            time.sleep(0.3)
            planted = {"password": password, "tokens": tokens}
            t.dump(root, ["--tcp-established", "--network-lock", "skip"], truth_extra={"planted": planted}, run_as=USER)
        finally:
            for client in clients:
                client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
