#!/usr/bin/env python3
"""Big and many checkpoints: checkforensics against grep, zcat, zstdcat and checkpointctl, in one run.

Builds (once, under --work) a checkpoint with one process holding --size more memory
(make_big_checkpoint.py: markers at the start, across a page edge, across a 10 MiB edge and at
the end), its .tar.gz and .tar.zst, and --archives copies of a small real checkpoint. Then times,
round by round so that the machine's load falls on both sides alike:

- ``memgrep BIG MARKER`` (every process) against ``tar xOf BIG PAGES | grep -a -c MARKER``
  (the blog's way: extract the pages image, grep it); target at most 0.7x;
- ``checkpointctl memparse --search MARKER --pid P`` on a copy with CRIU 4.1 pagemaps (the
  only encoding checkpointctl 1.3 reads memory from) against memgrep on the same copy; target
  at least 15x faster;
- ``memgrep BIG.tar.gz`` against ``zcat BIG.tar.gz | grep -a -c``, and ``memgrep BIG.tar.zst``
  against ``zstdcat BIG.tar.zst | grep -a -c``; target at most 1.5x each (gzip timed through
  python-isal and through zlib when isal is installed);
- ``triage`` and ``memgrep --secrets`` on BIG.tar.gz and BIG.tar.zst against ``zcat | grep``
  and ``zstdcat | grep`` (each compressed archive decompressed once, its pages images spooled;
  no target: the price of reading all of memory several ways, against one pass of grep), and
  ``triage`` on each with no room for a spool (decompressed again for each sweep);
- ``show --no-hash`` over the --archives copies against ``checkpointctl show`` over the same
  files; target below 1x; and ``triage`` over their directory, per checkpoint.

Every command runs once to warm the page cache, then --repeat rounds. It prints each command's
wall seconds (min/median/max) and peak memory (the largest resident set of the command and
what it waited for), each ratio as the median of the round-by-round ratios with their range,
the target beside it, and whether memgrep found every marker in every form.

    python3 benchmarks/bench_memgrep.py                  # 1 GiB, 5 rounds, 100 archives
    python3 benchmarks/bench_memgrep.py --quick          # 256 MiB, 3 rounds, 20 archives
    python3 benchmarks/bench_memgrep.py --size 3G --filler mixed   # peak memory on multi-GiB, real-like data
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_SOURCE = ROOT / "fixtures" / "counters-blog.tar.zst"
sys.path.insert(0, str(ROOT / "benchmarks"))

from make_big_checkpoint import MARKER, marker_offsets, parse_size  # noqa: E402
from timing import Run, byte_compile, measured  # noqa: E402

PYTHON = sys.executable
# this checkout's package, whatever is installed and wherever the script is run from
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
WITHOUT_ISAL = "import runpy, sys; sys.modules['isal'] = None; sys.argv[0] = 'checkforensics'; " \
    "runpy.run_module('checkforensics', run_name='__main__')"  # fmt: skip


@dataclass(eq=False)  # each is itself: kept in dicts by identity
class Timed:
    """The runs of one command in this benchmark."""

    label: str
    command: list[str] | str
    runs: list[Run] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)  # the round of each run (a peer of several runs twice)
    env: dict[str, str] = field(default_factory=lambda: ENV)

    def run(self) -> Run:
        done = measured(self.command, env=self.env)
        if done.status not in (0, 1):  # 1: nothing found, which the caller reports
            shown = self.command if isinstance(self.command, str) else " ".join(self.command)
            raise SystemExit(f"{shown} exited {done.status}: {done.stderr.decode(errors='replace').strip()}")
        return done

    @property
    def seconds(self) -> list[float]:
        return [run.seconds for run in self.runs]

    @property
    def peak_mib(self) -> float:
        return max(run.peak_kib for run in self.runs) / 1024


def rounds(pairs: list[tuple[Timed, ...]], repeat: int) -> None:
    """A warm-up run of every command, then ``repeat`` rounds of each pair (or lone command), the
    order swapped every round."""
    for timed in dict.fromkeys(timed for pair in pairs for timed in pair):
        timed.run()
    for number in range(repeat):
        for pair in pairs:
            for timed in pair if number % 2 == 0 else reversed(pair):
                timed.runs.append(timed.run())
                timed.rounds.append(number)


def ratio(ours: Timed, peer: Timed, invert: bool = False) -> tuple[float, float, float]:
    """Median, min and max of the round-by-round ratios ours/peer (peer/ours with ``invert``),
    each side's time in a round being the mean of its runs in that round."""

    def by_round(timed: Timed) -> dict[int, float]:
        runs: dict[int, list[float]] = {}
        for number, run in zip(timed.rounds, timed.runs, strict=True):
            runs.setdefault(number, []).append(run.seconds)
        return {number: statistics.fmean(seconds) for number, seconds in runs.items()}

    mine, theirs = by_round(ours), by_round(peer)
    values = sorted((theirs[n] / mine[n] if invert else mine[n] / theirs[n]) for n in mine if n in theirs)
    return statistics.median(values), values[0], values[-1]


def build(args: argparse.Namespace) -> dict[str, Path]:
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    small = work / "small.tar"
    if not small.exists():
        subprocess.run(f"zstd -q -dc {SMALL_SOURCE} > {small}", shell=True, check=True)
    big = work / f"big-{args.size}-{args.filler}.tar"
    if not big.exists():
        print(f"building {big} ({args.size} of {args.filler} memory) ...", flush=True)
        subprocess.run(
            [PYTHON, str(ROOT / "benchmarks" / "make_big_checkpoint.py"), str(small), str(big), "--size", args.size,
             "--filler", args.filler],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    gz, zst = big.with_name(big.name + ".gz"), big.with_name(big.name + ".zst")
    if not gz.exists():
        print(f"compressing {gz} ...", flush=True)
        subprocess.run(f"gzip -c {big} > {gz}.partial && mv {gz}.partial {gz}", shell=True, check=True)
    if not zst.exists():
        print(f"compressing {zst} ...", flush=True)
        subprocess.run(["zstd", "-q", "-T0", "-3", str(big), "-o", str(zst)], check=True)
    many = work / f"many-{args.archives}"
    if not many.exists():
        many.mkdir()
        for number in range(args.archives):
            shutil.copy(small, many / f"checkpoint-{number:03d}.tar")
    return {"small": small, "big": big, "gz": gz, "zst": zst, "many": many, "compat": compat_copy(big)}


def compat_copy(archive: Path) -> Path:
    """``archive`` with its pagemaps in CRIU 4.1's encoding (``compat_nr_pages``), which is the
    only one checkpointctl 1.3 reads: on CRIU 4.2's it sees no memory and searches nothing."""
    target = archive.with_name(archive.stem + "-criu41.tar")
    if target.exists():
        return target
    sys.path.insert(0, str(ROOT))
    from checkforensics.images.codec import decode_image, encode_image

    partial = target.with_name(target.name + ".partial")
    with tarfile.open(archive) as source, tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as out:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            if data is not None and Path(member.name).name.startswith("pagemap-"):
                image = decode_image(data.read(), member.name)
                for entry in image.entries[1:]:
                    if entry.message.HasField("nr_pages"):
                        entry.message.compat_nr_pages = entry.message.nr_pages
                        entry.message.ClearField("nr_pages")
                encoded = encode_image(image)
                member.size = len(encoded)
                out.addfile(member, io.BytesIO(encoded))
            else:
                out.addfile(member, data)
    partial.rename(target)
    return target


def pages_member(archive: Path) -> str:
    """The biggest pages image: the one the filler went into."""
    with tarfile.open(archive) as tar:
        pages = [m for m in tar.getmembers() if Path(m.name).name.startswith("pages-")]
    return max(pages, key=lambda m: m.size).name


def isal_installed() -> bool:
    done = subprocess.run([PYTHON, "-c", "import isal.igzip"], capture_output=True, check=False, env=ENV)
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/checkforensics-bench"), help="where inputs are built")
    parser.add_argument("--size", default=None, help="memory added to the big checkpoint (default 1G; --quick 256M)")
    parser.add_argument("--filler", choices=["pattern", "mixed"], default="pattern",
                        help="pattern: a 1 MiB repeated pattern (compresses 100:1); mixed: zero, text, "
                             "pointer and random pages (about 2:1)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=None, help="rounds (default 5; --quick 3)")
    parser.add_argument("--archives", type=int, default=None, help="small checkpoints for show/triage (default 100)")
    parser.add_argument("--quick", action="store_true", help="256 MiB, 3 rounds, 20 archives")
    parser.add_argument("--checkpointctl", default=shutil.which("checkpointctl") or "/opt/reference/bin/checkpointctl")
    parser.add_argument("--json", type=Path, help="also write every run's seconds and peak memory here")
    args = parser.parse_args()
    args.size = args.size or ("256M" if args.quick else "1G")
    args.repeat = args.repeat or (3 if args.quick else 5)
    args.archives = args.archives or (20 if args.quick else 100)

    inputs = build(args)
    markers = len(marker_offsets(parse_size(args.size) // 4096 * 4096))
    member = pages_member(inputs["big"])
    marker = MARKER.decode()
    ctl = args.checkpointctl if Path(args.checkpointctl).exists() else None
    byte_compile(ROOT / "checkforensics")

    def ours(*arguments: str, python: list[str] | None = None) -> list[str]:
        # the compressed big checkpoint expands past the default bomb limit (64:1): allowed here
        return [*(python or [PYTHON, "-m", "checkforensics"]), "--max-expansion", "64G", *arguments]

    memgrep = Timed("memgrep BIG.tar (all processes)", ours("memgrep", str(inputs["big"]), marker, "--format", "json"))
    grep = Timed(f"tar xOf BIG.tar {Path(member).name} | grep -a -c", f"tar xOf {inputs['big']} {member} | grep -a -c {marker}")  # noqa: E501
    gz = Timed("memgrep BIG.tar.gz", ours("memgrep", str(inputs["gz"]), marker, "--format", "json"))
    zcat = Timed("zcat BIG.tar.gz | grep -a -c", f"zcat {inputs['gz']} | grep -a -c {marker}")
    zst = Timed("memgrep BIG.tar.zst", ours("memgrep", str(inputs["zst"]), marker, "--format", "json"))
    zstdcat = Timed("zstdcat BIG.tar.zst | grep -a -c", f"zstdcat {inputs['zst']} | grep -a -c {marker}")
    pairs: list[tuple[Timed, ...]] = [(memgrep, grep), (gz, zcat), (zst, zstdcat)]
    gz_zlib = None
    if isal_installed():
        gz.label += " (isal)"
        python = [PYTHON, "-c", WITHOUT_ISAL]
        gz_zlib = Timed("memgrep BIG.tar.gz (zlib)", ours("memgrep", str(inputs["gz"]), marker, "--format", "json",
                                                          python=python))  # fmt: skip
        pairs.append((gz_zlib, zcat))
    # reading all of memory several ways (command lines, secret rules, malfind): one pass, a spool
    sweeps = []
    for form, peer in (("gz", zcat), ("zst", zstdcat)):
        for label, arguments in (("triage", ["triage"]), ("memgrep --secrets", ["memgrep", "--secrets"])):
            timed = Timed(f"{label} BIG.tar.{form}", ours(*arguments, str(inputs[form]), "--format", "json"))
            sweeps.append(timed)
            pairs.append((timed, peer))
    # the spool's directory missing: each sweep decompresses the archive again (as before the spool)
    no_spool_env = {**ENV, "CHECKFORENSICS_TMPDIR": str(args.work / "no-such-directory")}
    no_spool = {
        form: Timed(f"triage BIG.tar.{form}, no spool", ours("triage", str(inputs[form]), "--format", "json"),
                    env=no_spool_env)
        for form in ("gz", "zst")
    }  # fmt: skip
    plain_triage = Timed("triage BIG.tar", ours("triage", str(inputs["big"]), "--format", "json"))
    pairs.append((sweeps[0], no_spool["gz"]))
    pairs.append((sweeps[2], no_spool["zst"]))
    pairs.append((plain_triage, sweeps[0]))
    copies = sorted(str(path) for path in inputs["many"].iterdir())
    show = Timed(f"show --no-hash x{len(copies)}", ours("show", "--no-hash", *copies))
    triage = Timed(f"triage DIR of {len(copies)}", ours("triage", str(inputs["many"]), "--format", "jsonl"))
    ctl_search = ctl_show = compat = None
    if ctl:
        compat = Timed("memgrep BIG-criu41.tar", ours("memgrep", str(inputs["compat"]), marker, "--format", "json"))
        ctl_search = Timed("checkpointctl memparse --search --pid P (BIG-criu41.tar)", [])
        ctl_show = Timed(f"checkpointctl show x{len(copies)}", [ctl, "show", *copies])
        pairs.append((show, ctl_show))
    else:
        pairs.append((show,))
    pairs.append((triage,))

    print(f"{inputs['big'].name}: {inputs['big'].stat().st_size} bytes, {args.filler} filler; .gz "
          f"{inputs['gz'].stat().st_size}, .zst {inputs['zst'].stat().st_size} bytes; {args.repeat} rounds; "
          f"isal {'installed' if gz_zlib else 'not installed'}", flush=True)  # fmt: skip
    found = {}
    for timed in (memgrep, gz, zst, *((compat,) if compat else ())):
        doc = json.loads(timed.run().stdout)
        found[timed.label] = (len(doc["matches"]), sorted({m["pid"] for m in doc["matches"]}))
    if ctl and compat:
        pid = found[memgrep.label][1][0]
        ctl_search.command = [ctl, "memparse", "--search", marker, "--pid", str(pid), str(inputs["compat"])]
        pairs.insert(1, (compat, ctl_search))
    rounds(pairs, args.repeat)

    print(f"\n{'command':<62}{'min s':>8}{'median s':>10}{'max s':>8}{'peak MiB':>10}")
    for timed in dict.fromkeys(t for pair in pairs for t in pair):
        s = timed.seconds
        print(f"{timed.label:<62}{min(s):>8.3f}{statistics.median(s):>10.3f}{max(s):>8.3f}{timed.peak_mib:>10.0f}")

    print(f"\n{'ratio (median of rounds, [min-max])':<62}{'':>8}{'target':>10}")

    def line(text: str, values: tuple[float, float, float], target: str, unit: str = "x") -> None:
        median, low, high = values
        print(f"{text:<62}{median:>7.2f}{unit} [{low:.2f}-{high:.2f}]  {target}")

    line("memgrep BIG.tar / tar xOf | grep", ratio(memgrep, grep), "at most 0.70x")
    if ctl_search is not None and compat is not None:
        line("checkpointctl memparse --search / memgrep (CRIU 4.1 copy)", ratio(compat, ctl_search, invert=True),
             "at least 15x")  # fmt: skip
    line("memgrep BIG.tar.gz / zcat | grep" + (" (isal)" if gz_zlib else ""), ratio(gz, zcat), "at most 1.50x")
    if gz_zlib is not None:
        line("memgrep BIG.tar.gz / zcat | grep (zlib)", ratio(gz_zlib, zcat), "at most 1.50x")
    line("memgrep BIG.tar.zst / zstdcat | grep", ratio(zst, zstdcat), "at most 1.50x")
    for timed, peer in zip(sweeps, (zcat, zcat, zstdcat, zstdcat), strict=True):
        line(f"{timed.label} / {peer.label}", ratio(timed, peer), "(none)")
    for form, spooled in (("gz", sweeps[0]), ("zst", sweeps[2])):
        line(f"triage BIG.tar.{form}, no spool / with the spool", ratio(no_spool[form], spooled),
             "(above 1: the spool pays)")  # fmt: skip
    line("triage BIG.tar.gz / triage BIG.tar", ratio(sweeps[0], plain_triage), "(the price of gzip)")
    if ctl_show is not None:
        line(f"show x{len(copies)} / checkpointctl show x{len(copies)}", ratio(show, ctl_show), "below 1.00x")
    per = statistics.median(triage.seconds) / len(copies)
    print(f"{'triage per checkpoint (DIR of ' + str(len(copies)) + ')':<62}{per * 1000:>7.1f}ms")
    peaks = {t.label: t.peak_mib for t in (memgrep, gz, zst)}
    print(f"{'peak memory of memgrep, largest of .tar/.tar.gz/.tar.zst':<62}{max(peaks.values()):>7.0f}MiB "
          "  below 300 MiB")  # fmt: skip
    print(f"{'peak memory of triage/memgrep --secrets, .tar.gz/.tar.zst':<62}"
          f"{max(t.peak_mib for t in sweeps):>7.0f}MiB   below 300 MiB")  # fmt: skip
    every = all(count == markers and len(pids) == 1 for count, pids in found.values())
    print(f"\nevery marker found by memgrep in every form: {'yes' if every else 'NO'} ({markers} planted; {found})")
    print("(times are of this machine in this run: a loaded machine moves both sides of a ratio alike)")
    if args.json:
        every_run = {t.label: [[r.seconds, r.peak_kib] for r in t.runs] for pair in pairs for t in pair}
        args.json.write_text(json.dumps(every_run, indent=1))
    return 0 if every else 1


if __name__ == "__main__":
    raise SystemExit(main())
