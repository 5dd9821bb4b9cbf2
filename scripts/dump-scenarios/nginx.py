#!/usr/bin/env python3
"""Scenario "nginx": a real nginx 1.22 (Debian's) master with two workers and shared zones.

nginx allocates its shared zones with mmap(MAP_SHARED|MAP_ANONYMOUS) in the master before it
forks the workers, so each zone is one shared anonymous object mapped by all three (CRIU 4
dumps each once, as the memfd /dev/zero). The configuration (prefix /tmp/cfw-scenarios/nginx,
listening on 127.0.0.1:58080, everything run as root with `user root` so that the workers share
the master's uid: CRIU could not read the rlimits of a www-data worker here, see
_common.criu_as_user) has two zones besides nginx's own statistics zone:
  cfw_req   limit_req_zone keyed by the query argument k: each key lands in the zone's slab
  cfw_conn  limit_conn_zone keyed by the Host header
Requests from this launcher (outside the tree), in this order:
  closed    a connection closed after its answer: GET /?k=marker-nginx-zone-7a40
  basic     a keep-alive connection, left open: GET /?k=marker-nginx-zone-5e21 with
            "Authorization: Basic " and the base64 of cfw-user and a password made for this run
  bearer    a second keep-alive connection, left open: GET /index.html (no key: limit_req
            leaves an empty key out of its zone) with "Authorization: Bearer " and a token made
            for this run
Each open connection stays with the worker that accepted it. Its request lies in that worker's
heap, headers parsed in place (nginx writes NUL over each header's colon and at the end of its
value), in a buffer nginx freed when the connection went idle: malloc's free-list pointers
overwrite its first 16 bytes, and a later request's buffer may take its place (why the closed
request comes first: after the Basic one, it overwrote "Authorization: Basic" and left the
bare base64). truth.json's "http_credentials" says which client port sent which credential (the
worker's socket names the port as its peer); the credentials are markers too. None is real.
The master's environment holds CFW_SECRET; nginx gives the workers a new environment (only TZ)
and both master and workers write their titles over argv and the old environment.

Dump: criu dump -t MASTER -D OUT/images --shell-job --tcp-established --network-lock skip
Usage: nginx.py OUTDIR
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ALNUM, Tree, random_word

NAME = "nginx"
NGINX = "/usr/sbin/nginx"
PORT = 58080
ZONE_KEYS = ["marker-nginx-zone-5e21", "marker-nginx-zone-7a40"]
PROCESSES = 3  # the master and two workers

CONF = f"""
user root root;
worker_processes 2;
pid nginx.pid;
error_log error.log info;
events {{
    worker_connections 64;
}}
http {{
    access_log access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    keepalive_timeout 600s;
    limit_req_zone $arg_k zone=cfw_req:64k rate=100r/s;
    limit_conn_zone $http_host zone=cfw_conn:64k;
    server {{
        listen 127.0.0.1:{PORT};
        root www;
        location / {{
            limit_req zone=cfw_req burst=10;
            limit_conn cfw_conn 10;
        }}
        location = /status {{
            stub_status;
        }}
    }}
}}
"""


def configure(t: Tree) -> None:
    (t.work / "nginx.conf").write_text(CONF)
    (t.work / "tmp").mkdir()
    (t.work / "www").mkdir()
    (t.work / "www" / "index.html").write_text("cfw nginx scenario\n")


def master(t: Tree) -> None:
    """The tree's root: exec nginx in the foreground (it forks the two workers)."""
    # The pid stays the master's across exec; the ready pipe is close-on-exec.
    os.write(t.ready_w, f"{os.getpid()} nginx-master\n".encode())
    argv = ["nginx", "-p", f"{t.work}/", "-c", "nginx.conf", "-e", "error.log", "-g", "daemon off;"]
    os.execve(NGINX, argv, t.env)


def request(path: str, headers: str = "", close: bool = False, timeout: float = 30.0) -> socket.socket:
    """Send one HTTP/1.1 GET and read its whole answer; the connection stays open unless ``close``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    connection = "close" if close else "keep-alive"
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: cfw\r\n{headers}Connection: {connection}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"cfw nginx scenario\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"{NAME}: unexpected answer to {path}: {answer[:200]!r}")
    if close:
        conn.close()
    return conn


def credentials() -> dict[str, dict[str, str]]:
    """A Basic and a Bearer credential for this run: fake, random."""
    user_password = f"cfw-user:{random_word(20)}"
    basic = base64.b64encode(user_password.encode()).decode()
    bearer = random_word(40, ALNUM + "-._~")
    return {
        "basic": {"header": f"Authorization: Basic {basic}", "value": basic, "decoded": user_password},
        "bearer": {"header": f"Authorization: Bearer {bearer}", "value": bearer},
    }


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    planted = credentials()
    t.markers += ZONE_KEYS
    t.markers += [value for kind in planted.values() for key, value in kind.items() if key != "header"]
    kept: list[socket.socket] = []
    with t.session():
        configure(t)
        root = t.start(master, expected=1)
        try:
            t.wait_processes(root, PROCESSES)
            request(f"/?k={ZONE_KEYS[1]}", close=True)
            kept.append(request(f"/?k={ZONE_KEYS[0]}", headers=planted["basic"]["header"] + "\r\n"))
            kept.append(request("/index.html", headers=planted["bearer"]["header"] + "\r\n"))
            for kind, conn in zip(("basic", "bearer"), kept, strict=True):
                planted[kind]["client_port"] = conn.getsockname()[1]
                del planted[kind]["header"]
            time.sleep(0.3)
            t.dump(root, ["--tcp-established", "--network-lock", "skip"], truth_extra={"http_credentials": planted})
        finally:
            for conn in kept:
                conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
