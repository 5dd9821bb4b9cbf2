"""What /proc said about the running container just before the checkpoint, as JSON on stdout.

Usage: live-truth.py PID CONTAINER_LOG
PID is the container's init process on the host (crictl inspect's info.pid). Records every
process of the container (host pid, the pid inside its PID namespace, comm, cmdline, environ),
the files the container wrote and deleted as seen through /proc/PID/root, and the CRI log.
A by-hand tool, run by make-fixture.sh; tests never run it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

WRITTEN = ("/etc/cron.d/cfw-job", "/tmp/cfw-drop.sh", "/root/cfw-later.txt")
DELETED = ("/etc/cfw-motd", "/srv/cfw-old", "/etc/group")


def _text(data: bytes) -> list[str]:
    return [part.decode("utf-8", "backslashreplace") for part in data.split(b"\0")[:-1]]


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for current in found:
        for task in os.listdir(f"/proc/{current}/task"):
            with open(f"/proc/{current}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    return found


def _process(pid: int) -> dict[str, object]:
    with open(f"/proc/{pid}/status") as handle:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        cmdline = _text(handle.read())
    with open(f"/proc/{pid}/environ", "rb") as handle:
        env = _text(handle.read())
    return {
        "host_pid": pid,
        "pid": int(status["NSpid"].split()[-1]),
        "ppid_host": int(status["PPid"]),
        "comm": status["Name"],
        "cmdline": cmdline,
        "env": env,
    }


def main(argv: list[str]) -> int:
    pid, log_path = int(argv[1]), argv[2]
    root = f"/proc/{pid}/root"
    written = {}
    for path in WRITTEN:
        if not os.path.lexists(root + path):
            continue  # not written yet
        with open(root + path, "rb") as handle:
            data = handle.read()
        mode = os.stat(root + path).st_mode & 0o7777
        written[path] = {"size": len(data), "mode": f"{mode:04o}", "sha256": hashlib.sha256(data).hexdigest(),
                         "content": data.decode()}
    with open(log_path, encoding="utf-8") as handle:
        log = handle.read().splitlines()
    document = {
        "processes": [_process(p) for p in _descendants(pid)],
        "written": written,
        "deleted_exist": {path: os.path.lexists(root + path) for path in DELETED},
        "container_log": log,
    }
    json.dump(document, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
