#!/usr/bin/env python3
"""Small commands on a small checkpoint, next to checkpointctl answering the same question.

On a checkpoint of a few MiB almost all of a command's time is starting: the interpreter, click,
the protobuf runtime and our own modules. This script times each everyday command and its
checkpointctl counterpart in the same run, interleaved (ours, theirs, ours, ...), and prints each
one's milliseconds (min, median, max), the median of the per-round ratios and the issue's target.
It also times the floor every Python CLI stands on: the interpreter alone, and importing click.

By default checkforensics runs from a clean virtual environment it builds in /tmp (this checkout
installed with its dependencies, everything byte-compiled), as a user's ``pip install`` runs it:
an editable install or a site-packages full of .pth hooks would time this machine, not the tool.
``--here`` runs it with this interpreter and ``PYTHONPATH`` at the checkout instead.

    python3 benchmarks/bench_startup.py
    python3 benchmarks/bench_startup.py --repeat 31 --checkpoint fixtures/counters-blog.tar
    python3 benchmarks/bench_startup.py --here
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from timing import byte_compile, measured

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = ROOT / "fixtures" / "counters-blog.tar"
VENV = Path("/tmp/checkforensics-bench-venv")

# (our arguments, checkpointctl's arguments, the target ratio); CKPT stands for the checkpoint.
PAIRS = [
    (["show", "CKPT"], ["show", "CKPT"], 4),
    (["ps", "CKPT", "--tree"], ["inspect", "CKPT", "--ps-tree"], 4),
    (["files", "CKPT"], ["inspect", "CKPT", "--files"], 4),
    (["sockets", "CKPT"], ["inspect", "CKPT", "--sockets"], 4),
    (["inspect", "CKPT", "--all"], ["inspect", "CKPT", "--all"], 4),
    (["memparse", "CKPT"], ["memparse", "CKPT"], 4),
    (["--help"], ["--help"], 10),
    (["show", "--help"], ["show", "--help"], 10),
]


def clean_venv(rebuild: bool) -> Path:
    """A virtual environment with this checkout installed (not editable) and byte-compiled;
    returns its python."""
    python = VENV / "bin" / "python"
    if rebuild and VENV.exists():
        shutil.rmtree(VENV)
    if not python.exists():
        print(f"building {VENV} (this checkout and its dependencies, from the package index) ...", flush=True)
        venv.create(VENV, with_pip=True)
    # reinstalled every run: the tree on disk, uncommitted changes included, is what is timed
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--force-reinstall",
         "--no-deps", str(ROOT)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)], check=True
    )  # the dependencies, once
    subprocess.run([str(python), "-m", "compileall", "-q", str(VENV / "lib")], check=True, stdout=subprocess.DEVNULL)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--checkpointctl", default=shutil.which("checkpointctl") or "/opt/reference/bin/checkpointctl")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--here", action="store_true", help="run with this interpreter, not a clean venv")
    parser.add_argument("--rebuild", action="store_true", help="build the venv anew")
    args = parser.parse_args()

    if not Path(args.checkpointctl).exists():
        print(f"checkpointctl not found at {args.checkpointctl} (--checkpointctl PATH): nothing to compare with")
        return 2
    env = dict(os.environ)
    if args.here:
        python = Path(sys.executable)
        byte_compile(ROOT / "checkforensics")
        env["PYTHONPATH"] = str(ROOT)
        how = f"{python} with PYTHONPATH={ROOT}"
    else:
        python = clean_venv(args.rebuild)
        how = f"a clean venv ({VENV}), this checkout installed and byte-compiled"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # run from an empty directory: 'python -m' looks in the working directory first, and in the
    # repository's root that would time the checkout's sources instead of the installed package
    cwd = Path(tempfile.mkdtemp(prefix="checkforensics-bench-"))
    checkpoint = str(args.checkpoint.resolve())
    ours_base = [str(python), "-m", "checkforensics", "--no-progress"]

    def ours(argv: list[str]) -> list[str]:
        if argv and argv[0] == "--help":
            return [str(python), "-m", "checkforensics", *argv]
        return ours_base + [checkpoint if a == "CKPT" else a for a in argv]

    def theirs(argv: list[str]) -> list[str]:
        return [args.checkpointctl, *(checkpoint if a == "CKPT" else a for a in argv)]

    floors = {
        "python -c pass": [str(python), "-c", "pass"],
        "python -c 'import click'": [str(python), "-c", "import click"],
    }
    print(f"checkforensics: {how}")
    print(f"checkpoint: {checkpoint} ({args.checkpoint.stat().st_size / 2**20:.1f} MiB); {args.repeat} rounds")
    for name, command in floors.items():
        times = [measured(command, keep_stdout=False, env=env, cwd=cwd).seconds for _ in range(args.repeat)]
        print(f"  floor {name:<28} {_ms(times)}")

    print()
    print(f"{'command':<24} {'checkforensics ms':>24} {'checkpointctl ms':>24} {'ratio':>7} {'target':>7}")
    missed = 0
    for our_argv, their_argv, target in PAIRS:
        a, b = ours(our_argv), theirs(their_argv)
        for command in (a, b):  # warm-up, and a check that both answer
            run = measured(command, keep_stdout=False, env=env, cwd=cwd)
            if run.status != 0:
                print(f"  ! {' '.join(command)} exited {run.status}: {run.stderr.decode(errors='replace').strip()}")
                cwd.rmdir()
                return 1
        ours_times, their_times, ratios = [], [], []
        for round_number in range(args.repeat):
            order = (a, b) if round_number % 2 == 0 else (b, a)
            timed = {tuple(c): measured(c, keep_stdout=False, env=env, cwd=cwd).seconds for c in order}
            ours_times.append(timed[tuple(a)])
            their_times.append(timed[tuple(b)])
            ratios.append(timed[tuple(a)] / timed[tuple(b)])
        ratio = statistics.median(ratios)
        verdict = "ok" if ratio <= target else "MISSED"
        missed += ratio > target
        print(
            f"{' '.join(our_argv).replace('CKPT', 'C'):<24} {_ms(ours_times):>24} {_ms(their_times):>24} "
            f"{ratio:>6.1f}x {target:>5}x  {verdict}"
        )
    cwd.rmdir()
    print()
    print("ms: min / median / max; ratio: median of the per-round ratios (checkforensics / checkpointctl)")
    if missed:
        print(f"{missed} target(s) missed: the floor lines above are what any Python command pays before its work")
    return 0


def _ms(times: list[float]) -> str:
    return f"{min(times) * 1e3:6.1f} / {statistics.median(times) * 1e3:6.1f} / {max(times) * 1e3:6.1f}"


if __name__ == "__main__":
    sys.exit(main())
