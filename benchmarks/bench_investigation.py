#!/usr/bin/env python3
"""The investigation commands against ``memgrep --secrets`` on one big checkpoint.

Issue 22 is done when ``history``, ``timeline`` and ``iocs`` on the 1 GiB benchmark checkpoint
take no longer than ``memgrep --secrets`` on it, with bounded memory. This runs each command and
``memgrep --secrets`` on the checkpoint given (a .tar, .tar.gz or .tar.zst), round by round
after one warm-up each, the order swapped every round (bench_memgrep.py's ``rounds``), as
``python3 -m checkforensics ... --format json`` with its output thrown away, and prints per
command its wall seconds (min/median/max), the largest peak resident set of its runs and
command / memgrep --secrets (the median of the round-by-round ratios, with their range; at most
1.00x is the target).

    python3 benchmarks/make_big_checkpoint.py fixtures/counters-blog.tar.zst /tmp/big.tar --size 1G --filler mixed
    python3 benchmarks/bench_investigation.py /tmp/big.tar --repeat 3
    zstd -q -T0 /tmp/big.tar && python3 benchmarks/bench_investigation.py /tmp/big.tar.zst
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_memgrep import PYTHON, Timed, ratio, rounds  # noqa: E402
from timing import byte_compile  # noqa: E402

COMMANDS = ("history", "timeline", "iocs")
TARGET = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    byte_compile(ROOT / "checkforensics")

    def ours(*arguments: str) -> list[str]:
        # a compressed big checkpoint expands past the default bomb limit (64:1): allowed here
        return [PYTHON, "-m", "checkforensics", "--max-expansion", "64G", *arguments, str(options.checkpoint),
                "--format", "json"]  # fmt: skip

    peer = Timed("memgrep --secrets", ours("memgrep", "--secrets"))
    timed = [Timed(name, ours(name)) for name in options.commands.split(",")]
    size = options.checkpoint.stat().st_size / 2**30
    print(f"{options.checkpoint} ({size:.2f} GiB), {options.repeat} rounds", flush=True)
    rounds([(each, peer) for each in timed], options.repeat)

    print(f"\n{'command':<22}{'min s':>8}{'median s':>10}{'max s':>8}{'peak MiB':>10}{'/ memgrep --secrets':>30}")
    met = True
    for each in (*timed, peer):
        s = each.seconds
        shown = ""
        if each is not peer:
            median, low, high = ratio(each, peer)
            met &= median <= TARGET
            shown = f"{median:.2f}x [{low:.2f}-{high:.2f}]"
        print(f"{each.label:<22}{min(s):>8.2f}{statistics.median(s):>10.2f}{max(s):>8.2f}{each.peak_mib:>10.0f}"
              f"{shown:>30}")  # fmt: skip
    print(f"target: each at most {TARGET:.2f}x: {'met' if met else 'NOT met'}")
    print("(times are of this machine in this run: a loaded machine moves both sides of a ratio alike)")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
