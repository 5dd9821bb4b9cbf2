#!/usr/bin/env python3
"""The investigation commands against ``memgrep --secrets`` on one big checkpoint.

Issue 22 is done when ``history``, ``timeline`` and ``iocs`` on the 1 GiB benchmark checkpoint
take no longer than ``memgrep --secrets`` on it, with bounded memory. This runs each command and
``memgrep --secrets`` in turn (``--repeat`` rounds after one warm-up each, the order swapped
every round), as ``python3 -m checkforensics ... --format json`` with its output thrown away, and
prints per command the median wall seconds, the largest peak resident set of its runs and
command/memgrep (the median of the round-by-round ratios: at most 1.00x is the target). A
command this checkout does not have is named and skipped.

    python3 benchmarks/make_big_checkpoint.py fixtures/counters-blog.tar.zst /tmp/big.tar --size 1G
    python3 benchmarks/bench_investigation.py /tmp/big.tar --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import Run, byte_compile, measured  # noqa: E402

COMMANDS = ("iocs", "history", "timeline")
PEER = ("memgrep", "--secrets")
SUCCESS = (0, 1)  # 1: nothing found (docs/exit-codes.md)


def run(arguments: list[str], checkpoint: Path) -> Run:
    name, *rest = arguments
    command = [sys.executable, "-m", "checkforensics", name, str(checkpoint), *rest, "--format", "json"]
    done = measured(command, keep_stdout=False, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    if done.status not in SUCCESS:
        raise SystemExit(f"{' '.join(arguments)} exited {done.status}: {done.stderr.decode(errors='replace')}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    byte_compile(ROOT / "checkforensics")
    present = {path.stem for path in (ROOT / "checkforensics" / "cli" / "commands").glob("*.py")}
    print(f"{options.checkpoint} ({options.checkpoint.stat().st_size / 2**30:.2f} GiB), {options.repeat} rounds")
    print(f"{'command':<22}{'median s':>10}{'peak MiB':>10}{'/ memgrep --secrets':>22}")
    for name in options.commands.split(","):
        if name not in present:
            print(f"{name:<22}{'(not in this checkout)':>42}")
            continue
        runs: dict[str, list[Run]] = {name: [], " ".join(PEER): []}
        arguments = {name: [name], " ".join(PEER): list(PEER)}
        order = list(runs)
        for label in order:
            run(arguments[label], options.checkpoint)  # warm-up
        for round_number in range(options.repeat):
            for label in order if round_number % 2 == 0 else reversed(order):
                runs[label].append(run(arguments[label], options.checkpoint))
        ours, peer = runs[name], runs[" ".join(PEER)]
        ratio = statistics.median(a.seconds / b.seconds for a, b in zip(ours, peer, strict=True))
        for label, done in runs.items():
            seconds = statistics.median(r.seconds for r in done)
            peak = max(r.peak_kib for r in done) / 1024
            print(f"{label:<22}{seconds:>10.2f}{peak:>10.0f}{f'{ratio:.2f}x' if done is ours else '':>22}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
