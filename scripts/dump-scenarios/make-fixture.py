#!/usr/bin/env python3
"""Turn one scenario's dump into committed fixtures, with CRIU 4.2.1's crit as the oracle.

    make-fixture.py NAME OUTDIR [--repo DIR] [--crit PATH]

OUTDIR is what a scenario script wrote (OUTDIR/images, OUTDIR/truth.json,
OUTDIR/criu-command.txt). This writes, under the repository's fixtures/:

  scenarios/NAME/                  OUTDIR/images, file for file
  golden/scenario-NAME/decode/I.json   ``crit decode -i I -o FILE`` (no trailing newline)
  golden/scenario-NAME/show/I.json     ``crit show I`` (its stdout)
  scenarios/NAME.truth.json        the scenario's /proc observations, plus:
      processes[].dump_pid        the pid the images use (the last NSpid)
      processes[].markers_in_memory  for each planted marker found in the process's dumped
                                  pages: how often and at which addresses (pagemap and pages read
                                  with crit's decode of pagemap-*.img)
      sockets /proc cannot describe (unbound TCP, unbound netlink) are completed from crit's
      files.img and say so ("from": "crit show files.img")

Images crit cannot decode (ip(8)'s raw ifaddr/route/rule dumps, an empty nftables image) get no
golden file; tarballs (tmpfs-dev-*.tar.gz.img) and pages-*.img get none either.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PE_PRESENT = 4


def crit(crit_bin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([crit_bin, *args], capture_output=True)


def write_goldens(crit_bin: str, images: Path, golden: Path) -> list[str]:
    skipped = []
    for mode in ("decode", "show"):
        (golden / mode).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for img in sorted(images.iterdir()):
            name = img.name
            if name.startswith("pages-") or ".tar" in name:
                continue
            out = Path(tmp) / "out.json"
            dec = crit(crit_bin, "decode", "-i", str(img), "-o", str(out))
            show = crit(crit_bin, "show", str(img))
            if dec.returncode != 0 or show.returncode != 0:
                last = (dec.stderr or show.stderr).decode(errors="replace").strip().splitlines()[-1:]
                skipped.append(f"{name}: {last[0] if last else 'crit failed'}")
                continue
            (golden / "decode" / f"{name}.json").write_bytes(out.read_bytes())
            (golden / "show" / f"{name}.json").write_bytes(show.stdout)
    return skipped


def decoded(crit_bin: str, path: Path, pretty: bool = False) -> dict:
    res = crit(crit_bin, "show", str(path)) if pretty else crit(crit_bin, "decode", "-i", str(path))
    if res.returncode != 0:
        raise SystemExit(f"crit cannot decode {path}: {res.stderr.decode(errors='replace')[-300:]}")
    return json.loads(res.stdout)


def memory_of(crit_bin: str, images: Path, pagemap: Path) -> list[tuple[int, bytes]]:
    """(start address, bytes) of each run of dumped pages that a pagemap image describes."""
    entries = decoded(crit_bin, pagemap)["entries"]
    pages = (images / f"pages-{entries[0]['pages_id']}.img").read_bytes()
    runs, offset = [], 0
    for entry in entries[1:]:
        n = entry.get("nr_pages", entry.get("compat_nr_pages", 0))
        if entry.get("flags", 0) & PE_PRESENT:
            runs.append((entry["vaddr"], pages[offset : offset + n * 4096]))
            offset += n * 4096
    return runs


def find_markers(runs: list[tuple[int, bytes]], markers: list[str]) -> dict:
    found = {}
    for marker in markers:
        needle = marker.encode()
        where = [hex(start + m.start()) for start, data in runs for m in re.finditer(re.escape(needle), data)]
        if where:
            found[marker] = {"count": len(where), "addresses": where}
    return found


def complete_sockets(crit_bin: str, images: Path, truth: dict) -> None:
    files = decoded(crit_bin, images / "files.img", pretty=True)["entries"]
    by_ino = {}
    for entry in files:
        for value in entry.values():
            if isinstance(value, dict) and "ino" in value and entry["type"].endswith("SK"):
                by_ino[value["ino"]] = (entry["type"], value)
    for proc in truth["processes"]:
        for fd in proc["fds"]:
            sock = fd.get("socket")
            if not sock or not sock.get("family", "").startswith("unknown"):
                continue
            ino = int(fd["target"][len("socket:[") : -1])
            if ino in by_ino:
                kind, value = by_ino[ino]
                fields = {k: value[k] for k in ("family", "type", "proto", "protocol", "state") if k in value}
                fd["socket"] = {"from": "crit show files.img", "kind": kind, **fields}


def criu_flags(out: Path) -> list[str]:
    words = (out / "criu-command.txt").read_text().splitlines()[0].split()
    start = words.index("dump") + 1  # after "criu dump", or after "setpriv ... criu dump"
    flags, skip = [], False
    for i, word in enumerate(words[start:], start=start):
        if skip:
            skip = False
            continue
        if word in ("-t", "-D", "-o"):
            skip = True
            continue
        if word == "-v4":
            continue
        if words[i - 1] == "--skip-mnt":
            word = "<each mount under /mnt>"
        flags.append(word)
    return flags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--crit", default="/opt/reference/bin/crit")
    args = parser.parse_args()

    images = args.outdir / "images"
    fixtures = args.repo / "fixtures"
    dest = fixtures / "scenarios" / args.name
    golden = fixtures / "golden" / f"scenario-{args.name}"
    for old in (dest, golden):
        shutil.rmtree(old, ignore_errors=True)
    shutil.copytree(images, dest)
    skipped = write_goldens(args.crit, dest, golden)

    truth = json.loads((args.outdir / "truth.json").read_text())
    markers = truth["markers"]
    for proc in truth["processes"]:
        nspid = proc["status"].get("NSpid", str(proc["pid"])).split()
        proc["dump_pid"] = int(nspid[-1])
        pagemap = dest / f"pagemap-{proc['dump_pid']}.img"
        if pagemap.exists():
            proc["markers_in_memory"] = find_markers(memory_of(args.crit, dest, pagemap), markers)
    shmem = {}
    for pagemap in sorted(dest.glob("pagemap-shmem-*.img")):
        hits = find_markers(memory_of(args.crit, dest, pagemap), markers)
        if hits:
            shmem[pagemap.name] = hits
    if shmem:
        truth["markers_in_shared_memory"] = shmem
    if (dest / "files.img").exists():
        complete_sockets(args.crit, dest, truth)
    truth["criu_dump_flags"] = criu_flags(args.outdir)
    truth["images_without_golden"] = skipped
    (fixtures / "scenarios" / f"{args.name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    size = sum(p.stat().st_size for p in dest.iterdir())
    print(f"{args.name}: {len(list(dest.iterdir()))} files, {size} bytes; no golden for: {skipped or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
