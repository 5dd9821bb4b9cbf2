#!/usr/bin/env python3
"""Whole commands at this checkout against the same commands at a baseline revision, in one run.

Issue 13 (one model of the checkpoint under every command) is done when ``triage``, ``report``
and ``diff A B --secrets`` are measurably faster on a multi-process checkpoint; this measures
that, and any later change, the same way:

- the baseline (``--baseline``, default 970e20b, the last commit before the model layer) is
  copied out of git into a temporary directory (``git archive``); the current tree is this
  checkout as it is on disk, uncommitted changes included;
- both are byte-compiled, then every command runs as ``python3 -m checkforensics ...`` with
  ``PYTHONPATH`` and the working directory set to one tree, its output going to /dev/null;
- per command, one warm-up run of each tree, then ``--repeat`` rounds of one run of each, the
  order swapped every round, so a machine getting faster or slower weighs on both alike;
- per checkpoint and command it prints the wall seconds of each tree (min, median, max) and
  baseline/current: the median of the round-by-round ratios, and their range. Above 1.00x the
  current tree is faster. The last column is the same median for CPU time (user + system of the
  command and its forked workers), which leaves out time spent waiting for a processor. On a
  shared machine two identical trees can differ by 20% in a median of a few rounds: trust a ratio
  well outside 0.8-1.2x, or one that holds with a larger ``--repeat``.

Checkpoints (``--checkpoint`` replaces them): fixtures/scenarios/proc (7 processes, a bare
images directory), fixtures/scenarios/creds.tar.zst (2 processes, 22 MiB of memory),
fixtures/counters-blog.tar, and counters-blog with ``--copies`` more copies of its process tree
(123 processes with the default 40, each with its own images: make_multiprocess_checkpoint.py),
made in the temporary directory. ``diff`` compares counters-blog (either size) with the same made
from counters-blog-later.tar.zst, another checkpoint with ``--later`` or else with itself.

``--count-opens`` times nothing: it runs each command once per tree on the checkpoints as
directories (archives are extracted into the temporary directory), records every file the command
opens (with ``strace -f`` where installed, else an audit hook on Python's ``open`` events), and
prints how often each member was opened, naming those opened more than once.

    python3 benchmarks/bench_commands.py                      # about 8 minutes on 2 CPUs
    python3 benchmarks/bench_commands.py --commands triage,report,diff --repeat 3
    python3 benchmarks/bench_commands.py --checkpoint /tmp/a.tar --later /tmp/b.tar --baseline HEAD~5
    python3 benchmarks/bench_commands.py --count-opens --checkpoint fixtures/scenarios/proc
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
GENERATOR = ROOT / "benchmarks" / "make_multiprocess_checkpoint.py"
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import Run, byte_compile, measured  # noqa: E402

DEFAULT_BASELINE = "970e20b"  # the last commit before issue 13's model layer
SUCCESS = (0, 1)  # 1: a search found nothing (docs/exit-codes.md)

CHECKPOINT, LATER, OUTPUT = "{checkpoint}", "{later}", "{output}"
# name for --commands -> (what the table calls it, the arguments after "checkforensics")
COMMANDS: dict[str, tuple[str, list[str]]] = {
    "triage": ("triage", ["triage", CHECKPOINT]),
    "report": ("report", ["report", CHECKPOINT, "-o", OUTPUT, "--force"]),
    "diff": ("diff A B --secrets", ["diff", CHECKPOINT, LATER, "--secrets", "--format", "json"]),
    "ps": ("ps --env", ["ps", CHECKPOINT, "--env", "--format", "json"]),
    "inspect": ("inspect --all", ["inspect", CHECKPOINT, "--all", "--format", "json"]),
    "memgrep": ("memgrep --secrets", ["memgrep", CHECKPOINT, "--secrets", "--format", "json"]),
    "files": ("files", ["files", CHECKPOINT, "--format", "json"]),
    "show": ("show --no-hash", ["show", CHECKPOINT, "--no-hash"]),
}


@dataclass(frozen=True)
class Tree:
    """A copy of checkforensics' sources that commands run from."""

    name: str  # "baseline" or "current"
    root: Path  # holds the checkforensics package
    revision: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.root)}

    def command(self, arguments: list[str]) -> list[str]:
        return [sys.executable, "-m", "checkforensics", *arguments]

    def run(self, arguments: list[str], *, keep_stdout: bool = False) -> Run:
        # the working directory matters too: ``python -m`` looks there before PYTHONPATH
        return measured(self.command(arguments), keep_stdout=keep_stdout, env=self.env(), cwd=self.root)


@dataclass
class Subject:
    """A checkpoint to run the commands on, and the one ``diff`` compares it with."""

    name: str
    path: Path
    later: Path
    processes: int | None = None


@dataclass
class Outputs:
    """New file names for ``report -o``, which refuses to overwrite what an earlier run wrote."""

    directory: Path
    made: itertools.count = field(default_factory=itertools.count)

    def new(self) -> Path:
        return self.directory / f"report-{next(self.made)}.html"


def git(*arguments: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(arguments)}: {done.stderr.strip()}")
    return done.stdout.strip()


def materialise(revision: str, into: Path) -> str:
    """Extract the checkforensics package at ``revision`` below ``into``; the full commit id."""
    commit = git("rev-parse", "--verify", f"{revision}^{{commit}}")
    archive = subprocess.Popen(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "checkforensics"], stdout=subprocess.PIPE
    )
    assert archive.stdout is not None
    with archive.stdout, tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
        tar.extractall(into, filter="data")
    if archive.wait() != 0:
        raise SystemExit(f"git archive {commit} failed")
    return commit


def generate(tree: Tree, source: Path, output: Path, copies: int) -> None:
    """make_multiprocess_checkpoint.py ``source`` ``output`` (a directory unless ``.tar``), run on
    ``tree``'s checkforensics: importing the package before the script makes it that tree's, not
    this checkout's (the script puts its own checkout first on sys.path), so the checkpoint made
    does not change with the tree being measured."""
    preload = "import checkforensics, runpy, sys; sys.argv = sys.argv[1:]; "
    preload += "runpy.run_path(sys.argv[0], run_name='__main__')"
    arguments = [str(GENERATOR), str(source), str(output), "--copies", str(copies)]
    done = measured([sys.executable, "-c", preload, *arguments], env=tree.env(), cwd=tree.root)
    if done.status != 0:
        raise SystemExit(f"{GENERATOR.name} {source} failed: {done.stderr.decode(errors='replace').strip()}")


def process_count(tree: Tree, path: Path) -> int | None:
    run = tree.run(["crit", "show", str(path), "pstree.img"], keep_stdout=True)
    return len(json.loads(run.stdout)["entries"]) if run.status == 0 else None


def default_subjects(tree: Tree, work: Path, copies: int, directories: bool) -> list[Subject]:
    blog, later = FIXTURES / "counters-blog.tar", FIXTURES / "counters-blog-later.tar.zst"
    proc, creds = FIXTURES / "scenarios" / "proc", FIXTURES / "scenarios" / "creds.tar.zst"
    subjects = [Subject("proc", proc, proc), Subject("creds", creds, creds), Subject("counters-blog", blog, later)]
    if copies:
        suffix = "" if directories else ".tar"
        many = work / f"counters-blog-x{copies + 1}{suffix}"
        many_later = work / f"counters-blog-later-x{copies + 1}{suffix}"
        print(f"making {many.name} and {many_later.name} ({copies} copies of each process tree) ...", flush=True)
        generate(tree, blog, many, copies)
        generate(tree, later, many_later, copies)
        subjects.append(Subject(f"counters-blog x{copies + 1}", many, many_later))
    return subjects


def as_directories(tree: Tree, subjects: list[Subject], work: Path) -> list[Subject]:
    """``subjects`` with every archive extracted to a directory (the generator with no copies), and
    a copy as the later checkpoint of one diffed with itself, so each side's opens count apart."""
    made: dict[Path, Path] = {}
    (work / "extracted").mkdir()

    def directory(path: Path) -> Path:
        if path.is_dir():
            return path
        if path not in made:
            made[path] = work / "extracted" / f"{len(made)}-{path.name.split('.')[0]}"
            generate(tree, path, made[path], 0)
        return made[path]

    def later(subject: Subject) -> Path:
        if subject.later != subject.path:
            return directory(subject.later)
        copy = work / "extracted" / f"{len(made)}-{subject.path.name.split('.')[0]}-again"
        made[copy] = copy
        shutil.copytree(directory(subject.path), copy, symlinks=True)
        return copy

    return [Subject(s.name, directory(s.path), later(s), s.processes) for s in subjects]


def arguments(template: list[str], subject: Subject, outputs: Outputs) -> list[str]:
    values = {CHECKPOINT: str(subject.path), LATER: str(subject.later)}
    return [str(outputs.new()) if part == OUTPUT else values.get(part, part) for part in template]


# -- timing


@dataclass
class Timing:
    """One command on one checkpoint: each tree's counted runs, or why it could not be timed."""

    runs: dict[str, list[Run]]
    failure: str | None = None


def time_command(trees: list[Tree], template: list[str], subject: Subject, outputs: Outputs, repeat: int) -> Timing:
    timing = Timing({tree.name: [] for tree in trees})
    for round_ in range(repeat + 1):  # round 0 warms the page cache and is not counted
        for tree in trees if round_ % 2 == 0 else trees[::-1]:
            run = tree.run(arguments(template, subject, outputs))
            if run.status not in SUCCESS:
                lines = run.stderr.decode(errors="replace").strip().splitlines() or [""]
                timing.failure = f"{tree.name} exited {run.status}: {lines[-1][:120]}"
                return timing
            if round_:
                timing.runs[tree.name].append(run)
    return timing


def spread(values: list[float]) -> str:
    return f"{min(values):7.3f}{statistics.median(values):7.3f}{max(values):7.3f}"


def timing_row(subject: Subject, label: str, timing: Timing) -> str:
    start = f"{subject.name:<22}{label:<20}"
    if timing.failure:
        return f"{start}  {timing.failure}"
    base, current = ([run.seconds for run in runs] for runs in timing.runs.values())
    ratios = [b / c for b, c in zip(base, current, strict=True)]
    base_cpu, current_cpu = ([run.cpu_seconds for run in runs] for runs in timing.runs.values())
    cpu_ratio = statistics.median(b / c for b, c in zip(base_cpu, current_cpu, strict=True))
    statuses = [sorted({run.status for run in runs}) for runs in timing.runs.values()]
    note = f"  (exit {statuses[0]} vs {statuses[1]})" if statuses[0] != statuses[1] else ""
    ratio = f"{statistics.median(ratios):6.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
    return f"{start}{spread(base)}   {spread(current)}   {ratio:<20}{cpu_ratio:6.2f}x{note}"


def time_all(trees: list[Tree], subjects: list[Subject], commands: list[str], work: Path, repeat: int) -> list[dict]:
    outputs = Outputs(work / "reports")
    outputs.directory.mkdir()
    print(f"\n{'':<42}{trees[0].name + ' s':^21}   {trees[1].name + ' s':^21}   {'baseline/current':<20}cpu time")
    print(f"{'checkpoint':<22}{'command':<20}{'min':>7}{'median':>7}{'max':>7}   {'min':>7}{'median':>7}{'max':>7}"
          f"   {'median (range)':<20}b/c med")  # fmt: skip
    results = []
    for subject in subjects:
        for name in commands:
            label, template = COMMANDS[name]
            timing = time_command(trees, template, subject, outputs, repeat)
            print(timing_row(subject, label, timing), flush=True)
            for report in outputs.directory.iterdir():
                report.unlink()
            results.append(
                {
                    "checkpoint": str(subject.path),
                    "later": str(subject.later),
                    "command": label,
                    "failure": timing.failure,
                    **{f"{tree}_seconds": [run.seconds for run in runs] for tree, runs in timing.runs.items()},
                    **{f"{tree}_cpu_seconds": [run.cpu_seconds for run in runs] for tree, runs in timing.runs.items()},
                    **{f"{tree}_peak_kib": [run.peak_kib for run in runs] for tree, runs in timing.runs.items()},
                }
            )
    return results


# -- counting opens

# strace -ff writes one log per process; a successful open of a path looks like
# ``openat(AT_FDCWD, "/x/core-1.img", O_RDONLY|O_CLOEXEC) = 3``
_TRACED_OPEN = re.compile(r'^open(?:at2?)?\((?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)"')

# runs checkforensics in this interpreter and appends the path of every ``open`` audit event to a
# log; forked workers inherit the hook and the descriptor, so their opens are written too. It sees
# attempts, not successes: where O_NOATIME is refused (files of another user) an open counts twice.
_AUDIT_WRAPPER = """
import os, sys
log = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
def record(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        os.write(log, os.fsencode(os.path.abspath(os.fspath(args[0]))) + b"\\n")
sys.addaudithook(record)
from checkforensics.cli import run
sys.exit(run(sys.argv[2:]))
"""


def traced_opens(tree: Tree, command: list[str], logs: Path) -> tuple[int, list[str]]:
    """The exit status of ``command`` and the paths it opened with success, by strace."""
    prefix = logs / "trace"
    trace = ["strace", "-f", "-ff", "-qq", "-s", "4096", "-e", "trace=open,openat,openat2", "-e", "status=successful"]
    run = measured([*trace, "-o", str(prefix), *command], keep_stdout=False, env=tree.env(), cwd=tree.root)
    paths = []
    for log in logs.glob("trace.*"):
        for line in log.read_text(errors="replace").splitlines():
            match = _TRACED_OPEN.match(line)
            if match:  # strace writes unprintable bytes as C escapes
                path = match.group(1).encode().decode("unicode_escape")
                paths.append(os.path.normpath(os.path.join(tree.root, path)))
        log.unlink()
    return run.status, paths


def audited_opens(tree: Tree, command: list[str], logs: Path) -> tuple[int, list[str]]:
    """The exit status of ``command`` and the paths it asked Python to open, by an audit hook."""
    log = logs / "audit.log"
    checkforensics_arguments = command[3:]  # after python3 -m checkforensics
    run = measured(
        [sys.executable, "-c", _AUDIT_WRAPPER, str(log), *checkforensics_arguments],
        keep_stdout=False,
        env=tree.env(),
        cwd=tree.root,
    )
    paths = log.read_bytes().decode(errors="replace").splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return run.status, paths


def member_files(subject: Subject) -> dict[str, str]:
    """Every regular file of the checkpoint directories, by path -> the name counts are shown under
    (``B:`` before the later checkpoint's, when it is another directory)."""
    names = {}
    for root, mark in ((subject.later, "B:"), (subject.path, "")):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                names[os.path.normpath(path)] = mark + path.relative_to(root).as_posix()
    return names


def natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def repeated_lines(counts: collections.Counter, width: int = 100) -> list[str]:
    """The members opened more than once, by how often: named, or by kind where there are many."""
    by_count = collections.defaultdict(list)
    for name, count in counts.items():
        if count > 1:
            by_count[count].append(name)
    lines = []
    for count in sorted(by_count, reverse=True):
        names = sorted(by_count[count], key=natural)
        if len(names) > 24:
            kinds = collections.Counter(re.sub(r"\d+", "N", name) for name in names)
            names = [f"{kind} ({number})" if number > 1 else kind for kind, number in sorted(kinds.items())]
        lines += wrapped([f"{name}," for name in names[:-1]] + names[-1:], f"{'x' + str(count):>6}: ", width)
    return lines


def wrapped(items: list[str], first: str, width: int) -> list[str]:
    """``items`` on lines of at most ``width`` (an item is never cut), the first after ``first``,
    the others indented as far."""
    lines = [first]
    for item in items:
        if len(lines[-1]) > len(first) and len(lines[-1]) + 1 + len(item) > width:
            lines.append(" " * len(first))
        lines[-1] += item if len(lines[-1]) == len(first) else " " + item
    return lines


def count_all(trees: list[Tree], subjects: list[Subject], commands: list[str], work: Path, counter: str) -> list[dict]:
    outputs = Outputs(work / "reports")
    outputs.directory.mkdir()
    logs = work / "opens"
    logs.mkdir()
    opens = traced_opens if counter == "strace" else audited_opens
    print(f"\nopens of each member per command ({counter}); pages images aside, issue 13 wants none above 1")
    results = []
    for subject in subjects:
        members = member_files(subject)
        processes = f", {subject.processes} processes" if subject.processes else ""
        files = sum(not name.startswith("B:") for name in members.values())
        print(f"\n{subject.name} ({subject.path}{processes}; {files} files)")
        for name in commands:
            label, template = COMMANDS[name]
            print(f"  {label}")
            for tree in trees:
                status, paths = opens(tree, tree.command(arguments(template, subject, outputs)), logs)
                counts = collections.Counter(members[path] for path in paths if path in members)
                repeated = sorted((n for n in counts if counts[n] > 1), key=natural)
                most = max(counts.values(), default=0)
                failed = "" if status in SUCCESS else f"; exit {status}"
                print(f"    {tree.name:<9} {len(counts)} members opened {sum(counts.values())} times, "
                      f"{len(repeated)} more than once (at most {most}){failed}")  # fmt: skip
                for line in repeated_lines(counts):
                    print(f"    {line}")
                results.append({"checkpoint": str(subject.path), "command": label, "tree": tree.name,
                                "status": status, "opens": dict(sorted(counts.items()))})  # fmt: skip
            for report in outputs.directory.iterdir():
                report.unlink()
    return results


# -- main


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help=f"git revision to compare ({DEFAULT_BASELINE})")
    parser.add_argument("--repeat", type=int, default=7, help="counted runs of each command and tree (7)")
    parser.add_argument("--checkpoint", type=Path, action="append", help="a checkpoint to use (repeatable)")
    parser.add_argument("--later", type=Path, help="what diff compares the one --checkpoint with (itself)")
    parser.add_argument("--copies", type=int, default=40, help="copies in the generated checkpoint (40; 0: none)")
    parser.add_argument("--commands", default=",".join(COMMANDS), help=f"some of {','.join(COMMANDS)}")
    parser.add_argument("--count-opens", action="store_true", help="count the members each command opens; no timing")
    parser.add_argument("--counter", choices=("strace", "audit"), help="how to count opens (strace where installed)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args()
    args.commands = [name.strip() for name in args.commands.split(",") if name.strip()]
    unknown = [name for name in args.commands if name not in COMMANDS]
    if unknown:
        parser.error(f"unknown command {', '.join(unknown)}; choose from {', '.join(COMMANDS)}")
    if args.later and len(args.checkpoint or []) != 1:
        parser.error("--later goes with exactly one --checkpoint")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.counter = args.counter or ("strace" if shutil.which("strace") else "audit")
    return args


def main() -> int:
    args = parse_arguments()
    work = Path(tempfile.mkdtemp(prefix="checkforensics-bench-"))
    try:
        commit = materialise(args.baseline, work / "baseline")
        current = git("describe", "--always", "--dirty", "--abbrev=7")
        trees = [Tree("baseline", work / "baseline", commit[:7]), Tree("current", ROOT, current)]
        for tree in trees:
            byte_compile(tree.root / "checkforensics")
        if args.checkpoint:
            subjects = [Subject(p.name, p.resolve(), (args.later or p).resolve()) for p in args.checkpoint]
        else:
            subjects = default_subjects(trees[0], work, args.copies, directories=args.count_opens)
        if args.count_opens:
            subjects = as_directories(trees[0], subjects, work)
        for subject in subjects:
            subject.processes = process_count(trees[0], subject.path)
        print(f"baseline {args.baseline} = {commit[:12]} ({work / 'baseline'}); current {ROOT} at {current}")
        runs = "" if args.count_opens else f"; --repeat {args.repeat}"
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs{runs}")
        for subject in subjects:
            against = "itself" if subject.later == subject.path else subject.later
            print(f"  {subject.name}: {subject.path} ({subject.processes} processes); diff against {against}")
        if args.count_opens:
            results = count_all(trees, subjects, args.commands, work, args.counter)
        else:
            results = time_all(trees, subjects, args.commands, work, args.repeat)
        if args.json:
            summary = {"baseline": commit, "current": current, "repeat": args.repeat, "results": results}
            args.json.write_text(json.dumps(summary, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
