#!/usr/bin/env python3
"""Scenario "cow": private (copy-on-write) mappings of a memfd, beside a shared one.

CRIU dumps the pages a process copied (wrote) in a MAP_PRIVATE mapping of a memfd with the
process (pagemap-PID), and the memfd's own pages once, with the memfd (pagemap-shmem-N): at an
address the process wrote, both hold a page. What the process saw there is its own copy; where
it wrote nothing, the memfd's page at that offset.

Sets up (cowmemfd.c, compiled here, does the work; see its header):
  cow-root    a memfd of 8 pages mapped shared (S), private (A, 8 pages from offset 0) and
              private (B, 4 pages from offset 4 pages); A's pages 1 and 3 and B's page 1 written
              (copied), A's pages 0 and 2 only read, the memfd's pages 1 and 4 then rewritten
              through S
  cow-root-c  its child (forked after all that), which also wrote A's page 6

The truth file adds ``cow``: for each process, each of S, A and B with its /proc/PID/maps line
and, page by page, the sha256 and the first words of what /proc/PID/mem read there, and whether
/proc/PID/pagemap showed a page of the process's own there (present and not a file page: a
copy it wrote), all read just before the dump and independently of checkforensics.

Dump: criu dump -t ROOT -D OUT/images --shell-job
Usage: cow.py OUTDIR   (writes OUTDIR/images, OUTDIR/truth.json, OUTDIR/dump.log)
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import BASE, HERE, READY_FD, Tree

NAME = "cow"
PAGE = os.sysconf("SC_PAGE_SIZE")
PM_PRESENT, PM_FILE = 1 << 63, 1 << 61


def build() -> str:
    out = BASE / "bin" / "cowmemfd"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(out), str(HERE / "cowmemfd.c")], check=True)
    return str(out)


def maps_line(pid: int, address: int) -> str:
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        start, end = (int(v, 16) for v in line.split()[0].split("-"))
        if start <= address < end:
            return line
    raise SystemExit(f"{NAME}: no mapping of pid {pid} holds {address:#x}")


def pages_of(pid: int, line: str) -> list[dict]:
    """Each page of the mapping ``line``: what /proc/PID/pagemap said of it, then what
    /proc/PID/mem read there (pagemap first: reading maps the file's page in)."""
    start, end = (int(v, 16) for v in line.split()[0].split("-"))
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        pagemap.seek(start // PAGE * 8)
        entries = struct.unpack(f"<{(end - start) // PAGE}Q", pagemap.read((end - start) // PAGE * 8))
    pages = []
    with open(f"/proc/{pid}/mem", "rb") as mem:
        for index, entry in enumerate(entries):
            address = start + index * PAGE
            mem.seek(address)
            data = mem.read(PAGE)
            pages.append(
                {
                    "address": hex(address),
                    "own": bool(entry & PM_PRESENT) and not entry & PM_FILE,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "head": data[: data.index(b"|") + 1].decode(),
                }
            )
    return pages


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    program = build()
    t = Tree(NAME, out)

    def root(t: Tree) -> None:
        t.exec_argv([program, "cow-root", str(READY_FD)])

    with t.session():
        pid = t.start(root, expected=2)
        cow = {}
        for line in t.ready_lines:
            head, _, what = line.partition("\t")
            pid_text, _, comm = head.partition(" ")
            mappings = {}
            for word in what.split():
                label, _, address = word.partition("=")
                found = maps_line(int(pid_text), int(address, 16))
                mappings[label] = {"maps_line": found, "pages": pages_of(int(pid_text), found)}
            cow[pid_text] = {"comm": comm, "mappings": mappings}
        t.dump(pid, [], truth_extra={"cow": cow})
    return 0


if __name__ == "__main__":
    sys.exit(main())
