#!/usr/bin/env python3
"""Scenario "jit": a JavaScript runtime whose JIT compiler made executable anonymous memory,
so that malfind's JIT rule is checked on a real runtime and not only on synthetic mappings.

Sets up:
  jit-root    session leader (holder), the parent of
  node        Debian's node running a hot loop until V8 compiled it: V8 keeps its code space
              in anonymous memory mapped rwx

truth.json adds "executable_anonymous_maps" (pid -> every line of /proc/PID/maps that is
executable and has no file behind it, read just before the dump) and "node_pid".

Dump: criu dump -t ROOT -D OUT/images --shell-job
Usage: jit.py OUTDIR   (writes OUTDIR/images, OUTDIR/truth.json, OUTDIR/dump.log)
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Tree

NAME = "jit"
NODE = shutil.which("node") or "/usr/bin/node"
SCRIPT = """
function hot(n) { let s = 0; for (let i = 0; i < n; i++) { s += Math.sqrt(i) * i % 7; } return s; }
let total = 0;
for (let k = 0; k < 200; k++) total += hot(100000);
require("fs").writeFileSync(process.argv[2], String(total));
setInterval(() => { total += hot(10000); }, 200);
"""


def executable_anonymous(pid: int) -> list[str]:
    lines = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if "x" in fields[1] and (len(fields) < 6 or fields[5].startswith("[anon")):
            lines.append(line)
    return lines


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else f"/tmp/cfw-dumps/{NAME}"
    t = Tree(NAME, out)
    script, ready = t.work / "hot.js", t.work / "compiled"
    script.write_text(SCRIPT)

    def root(t: Tree) -> None:
        t.fork(lambda: t.exec_argv([NODE, str(script), str(ready)]))
        t.exec_holder("jit-root", [])

    with t.session():
        pid = t.start(root, expected=1)
        t.wait_processes(pid, 2)
        node = next(p for p in t.tree_pids(pid) if p != pid)
        deadline = time.monotonic() + 60
        while not (ready.exists() and executable_anonymous(node)):
            if time.monotonic() > deadline:
                raise SystemExit(f"{NAME}: node made no executable anonymous memory")
            time.sleep(0.1)
        extra = {"node_pid": node, "executable_anonymous_maps": {str(node): executable_anonymous(node)}}
        t.dump(pid, [], truth_extra=extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
