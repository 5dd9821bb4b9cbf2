"""What /proc said about the running container just before the checkpoint, as JSON on stdout.

Usage: live-truth.py PID CONTAINER_LOG [WRITTEN DELETED]
PID is the container's init process on the host (crictl inspect's info.pid). Records every
process of the container (host pid, the pid inside its PID namespace, comm, cmdline, environ,
its executable's path and the sha256 of its bytes as /proc/PID/exe reads them, deleted or not,
and its TCP/UDP sockets with both ends as /proc/PID/net shows them), the files the container
wrote and deleted as seen through /proc/PID/root, and the CRI log. WRITTEN and DELETED: the
paths to look at, colon-separated (default: the busybox scenario's).
A by-hand tool, run by make-fixture.sh; tests never run it.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import sys

WRITTEN = "/etc/cron.d/cfw-job:/tmp/cfw-drop.sh:/root/cfw-later.txt"
DELETED = "/etc/cfw-motd:/srv/cfw-old:/etc/group"


def _text(data: bytes) -> list[str]:
    return [part.decode("utf-8", "backslashreplace") for part in data.split(b"\0")[:-1]]


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for current in found:
        for task in os.listdir(f"/proc/{current}/task"):
            with open(f"/proc/{current}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    return found


def _endpoint(text: str) -> str:
    """``0100007F:1F90`` (IPv4, as /proc/net/tcp writes it) as ``127.0.0.1:8080``."""
    address, port = text.split(":")
    if len(address) == 8:
        return f"{'.'.join(str(b) for b in bytes.fromhex(address)[::-1])}:{int(port, 16)}"
    words = [bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8)]
    return f"[{ipaddress.IPv6Address(b''.join(words)).compressed}]:{int(port, 16)}"


def _sockets(pid: int) -> list[dict[str, object]]:
    """The process's TCP and UDP sockets (by the inodes its descriptors hold) with both ends."""
    inodes = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes[target[8:-1]] = int(fd)
    found = []
    for proto in ("tcp", "udp", "tcp6", "udp6"):
        with open(f"/proc/{pid}/net/{proto}") as handle:
            for line in list(handle)[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    found.append({"fd": inodes[fields[9]], "proto": proto, "local": _endpoint(fields[1]),
                                  "remote": _endpoint(fields[2])})
    return found


def _process(pid: int) -> dict[str, object]:
    with open(f"/proc/{pid}/status") as handle:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        cmdline = _text(handle.read())
    with open(f"/proc/{pid}/environ", "rb") as handle:
        env = _text(handle.read())
    with open(f"/proc/{pid}/exe", "rb") as handle:
        exe_sha256 = hashlib.sha256(handle.read()).hexdigest()
    return {
        "host_pid": pid,
        "pid": int(status["NSpid"].split()[-1]),
        "ppid_host": int(status["PPid"]),
        "comm": status["Name"],
        "cmdline": cmdline,
        "env": env,
        "exe": os.readlink(f"/proc/{pid}/exe"),
        "exe_sha256": exe_sha256,
        "sockets": _sockets(pid),
    }


def main(argv: list[str]) -> int:
    pid, log_path = int(argv[1]), argv[2]
    written_paths, deleted_paths = (argv[3:5] if len(argv) >= 5 else (WRITTEN, DELETED))
    root = f"/proc/{pid}/root"
    written = {}
    for path in written_paths.split(":"):
        if not os.path.lexists(root + path):
            continue  # not written yet
        with open(root + path, "rb") as handle:
            data = handle.read()
        mode = os.stat(root + path).st_mode & 0o7777
        written[path] = {"size": len(data), "mode": f"{mode:04o}", "sha256": hashlib.sha256(data).hexdigest(),
                         "content": None if b"\0" in data else data.decode("utf-8", "backslashreplace")}
    with open(log_path, encoding="utf-8") as handle:
        log = handle.read().splitlines()
    document = {
        "processes": [_process(p) for p in _descendants(pid)],
        "written": written,
        "deleted_exist": {path: os.path.lexists(root + path) for path in deleted_paths.split(":") if path},
        "container_log": log,
    }
    json.dump(document, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
