#!/usr/bin/env python3
"""Metadata questions must not read memory: time them on a small and a large checkpoint.

Runs ``checkforensics show`` (and ``ps``/``files`` where this version has them) on a small real
checkpoint and on a large one built by make_big_checkpoint.py, next to ``checkpointctl show`` on
the same files when checkpointctl is installed, and prints the times and ratios measured in this
run. Each command runs ``--repeat`` times; the best time counts.

    python3 benchmarks/bench_metadata.py                       # builds /tmp/checkforensics-big.tar
    python3 benchmarks/bench_metadata.py --big /tmp/big.tar --checkpointctl /opt/reference/bin/checkpointctl
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_SOURCE = ROOT / "fixtures" / "counters-blog.tar.zst"


def best_time(command: list[str], repeat: int) -> float | None:
    best = None
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            print(f"  ! {' '.join(command)} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
            return None
        best = elapsed if best is None else min(best, elapsed)
    return best


def available_commands() -> list[str]:
    help_text = subprocess.run(
        [sys.executable, "-m", "checkforensics", "--help"], capture_output=True, text=True, check=True
    ).stdout
    return [name for name in ("show", "ps", "files") if f"  {name} " in help_text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=Path, default=Path("/tmp/checkforensics-big.tar"))
    parser.add_argument("--size", default="1G")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--checkpointctl", default=shutil.which("checkpointctl") or "/opt/reference/bin/checkpointctl")
    args = parser.parse_args()

    small = Path("/tmp/checkforensics-small.tar")
    if not small.exists():
        subprocess.run(f"zstd -dc {SMALL_SOURCE} > {small}", shell=True, check=True)
    if not args.big.exists():
        print(f"building {args.big} ({args.size} of memory) ...")
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "make_big_checkpoint.py"), str(small), str(args.big),
             "--size", args.size],
            check=True,
        )
    ctl = args.checkpointctl if Path(args.checkpointctl).exists() else None

    print(f"small: {small} ({small.stat().st_size} bytes); big: {args.big} ({args.big.stat().st_size} bytes)")
    print(f"{'command':<28}{'small s':>10}{'big s':>10}{'big/small':>11}{'vs checkpointctl show (big)':>30}")
    ctl_big = best_time([ctl, "show", str(args.big)], args.repeat) if ctl else None
    if ctl:
        ctl_small = best_time([ctl, "show", str(small)], args.repeat)
        print(f"{'checkpointctl show':<28}{ctl_small or 0:>10.3f}{ctl_big or 0:>10.3f}"
              f"{(ctl_big or 0) / (ctl_small or 1):>11.2f}{'1.00':>30}")
    for name in available_commands():
        extra = ["--no-hash"] if name == "show" else []
        command = [sys.executable, "-m", "checkforensics", name, *extra]
        t_small = best_time([*command, str(small)], args.repeat)
        t_big = best_time([*command, str(args.big)], args.repeat)
        if t_small is None or t_big is None:
            continue
        versus = f"{t_big / ctl_big:.2f}" if ctl_big else "(checkpointctl not installed)"
        print(f"{'checkforensics ' + name:<28}{t_small:>10.3f}{t_big:>10.3f}{t_big / t_small:>11.2f}{versus:>30}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
