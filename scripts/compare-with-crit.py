#!/usr/bin/env python3
"""Compare ``checkforensics crit`` with CRIU's own crit on every image of a dump directory.

For a directory written by ``criu dump -D DIR`` this runs, for every image (all files except
pages-*.img, tarballs such as tmpfs-dev-*.tar.gz.img, and logs), both tools' ``decode -i``,
``decode --pretty``, ``decode -o``, ``show``, ``show --nopl`` and ``info`` and compares their
output byte for byte; it feeds crit's plain and pretty JSON to our ``crit encode`` and compares
the result with the original bytes; it packs the directory as a tar.zst (``tar c -C DIR . |
zstd``) and checks that ours prints the same from ``crit show ARCHIVE IMAGE`` and ``crit decode
-i ARCHIVE IMAGE``; and it compares ``crit x DIR ps|fds|mems|rss`` (from the directory and, for
ours, from the archive too).

Prints a table with one row per image (SAME/DIFF per check) and, for each DIFF, the JSON paths
that differ (crit's value vs ours) or a short text diff. Where crit fails, the row says CRIT-ERR
and shows what ours printed; a Python traceback from ours is reported as OURS-TRACEBACK; where
both refuse an image that is not a CRIU protobuf image (ip(8)'s ifaddr/route/rule dumps, an empty
nftables image) the row says RAW.

This is a by-hand tool: it needs CRIU's crit (default /opt/reference/bin/crit), and neither
tests nor .ci/run call it.

    python3 scripts/compare-with-crit.py DIR [DIR ...] [--crit PATH] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE_CHECKS = ["decode", "pretty", "out", "show", "nopl", "info", "enc", "enc-pretty", "archive", "arch-dec"]
X_MODES = ["ps", "fds", "mems", "rss"]


@dataclass
class Run:
    argv: list[str]
    rc: int
    out: bytes
    err: bytes

    @property
    def traceback(self) -> bool:
        return b"Traceback (most recent call last)" in self.err

    def cmdline(self) -> str:
        return " ".join(self.argv)


@dataclass
class Result:
    status: str  # SAME, DIFF, CRIT-ERR, BOTH-ERR, OURS-ERR, OURS-TRACEBACK
    detail: list[str] = field(default_factory=list)


def run(argv: list[str], stdin: bytes | None = None) -> Run:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=600)
    return Run(argv, proc.returncode, proc.stdout, proc.stderr)


def json_paths(a, b, path: str = "", out: list[str] | None = None, limit: int = 12) -> list[str]:
    """The paths where two JSON values differ, as ``path: crit=<a> ours=<b>``."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if type(a) is not type(b):
        out.append(f"{path or '.'}: crit={_short(a)} ours={_short(b)}")
    elif isinstance(a, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in b:
                out.append(f"{path}.{key}: crit={_short(a[key])} ours=<absent>")
            elif key not in a:
                out.append(f"{path}.{key}: crit=<absent> ours={_short(b[key])}")
            else:
                json_paths(a[key], b[key], f"{path}.{key}", out, limit)
            if len(out) >= limit:
                break
        if not out and list(a) != list(b):
            out.append(f"{path or '.'}: key order crit={list(a)} ours={list(b)}")
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: list length crit={len(a)} ours={len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            json_paths(x, y, f"{path}[{i}]", out, limit)
            if len(out) >= limit:
                break
    elif a != b:
        out.append(f"{path or '.'}: crit={_short(a)} ours={_short(b)}")
    return out


def _short(value, width: int = 160) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def text_diff(a: bytes, b: bytes, lines: int = 14) -> list[str]:
    sa = a.decode("utf-8", "replace").splitlines(keepends=True)
    sb = b.decode("utf-8", "replace").splitlines(keepends=True)
    diff = [d.rstrip("\n") for d in difflib.unified_diff(sa, sb, "crit", "ours", n=1)]
    if not diff and a != b:
        tail_a, tail_b = a[-40:], b[-40:]
        diff = [f"(same lines; bytes differ) crit ends {tail_a!r}, ours ends {tail_b!r}"]
    return diff[:lines] + ([f"... ({len(diff) - lines} more diff lines)"] if len(diff) > lines else [])


def explain(crit: bytes, ours: bytes) -> list[str]:
    try:
        ja, jb = json.loads(crit), json.loads(ours)
    except ValueError:
        return text_diff(crit, ours)
    paths = json_paths(ja, jb)
    if paths:
        return paths
    return ["same JSON value, different text:", *text_diff(crit, ours)]


def compare(crit: Run, ours: Run, crit_text: bytes | None = None, ours_text: bytes | None = None) -> Result:
    a = crit.out if crit_text is None else crit_text
    b = ours.out if ours_text is None else ours_text
    if ours.traceback:
        return Result("OURS-TRACEBACK", [f"$ {ours.cmdline()}", *_tail(ours.err)])
    if crit.rc != 0 and ours.rc != 0:
        partial = "same" if a == b else "DIFFERENT"
        detail = [f"crit: {_last(crit.err)}", f"ours: {_last(ours.err)}", f"output before the error: {partial}"]
        return Result("BOTH-ERR", detail + ([] if a == b else explain(a, b)))
    if crit.rc != 0:
        return Result(
            "CRIT-ERR",
            [f"crit: {_last(crit.err)}", f"ours (rc={ours.rc}) prints: " + _head(b)],
        )
    if ours.rc != 0:
        return Result("OURS-ERR", [f"$ {ours.cmdline()}", f"ours: {_last(ours.err)}"])
    if a == b:
        return Result("SAME")
    return Result("DIFF", explain(a, b))


def _last(err: bytes) -> str:
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def _tail(err: bytes, n: int = 6) -> list[str]:
    return ["  " + line for line in err.decode("utf-8", "replace").splitlines()[-n:]]


def _head(out: bytes, width: int = 200) -> str:
    text = out.decode("utf-8", "replace").replace("\n", " ")
    return text if len(text) <= width else text[:width] + "..."


def is_image(path: Path) -> bool:
    name = path.name
    if not path.is_file() or name.startswith("pages-"):
        return False
    return not (name.endswith((".tar", ".tar.gz", ".tar.zst", ".tar.gz.img", ".log")) or name.startswith("rootfs-diff"))


class Comparer:
    def __init__(self, crit: str, ours: list[str], tmp: Path) -> None:
        self.crit = crit
        self.ours = ours
        self.tmp = tmp

    def image(self, directory: Path, archive: Path, name: str) -> tuple[str, str, dict[str, Result]]:
        img = str(directory / name)
        crit, ours = [self.crit], [*self.ours, "crit"]
        res: dict[str, Result] = {}
        c_dec, o_dec = run([*crit, "decode", "-i", img]), run([*ours, "decode", "-i", img])
        res["decode"] = compare(c_dec, o_dec)
        c_pre, o_pre = run([*crit, "decode", "--pretty", "-i", img]), run([*ours, "decode", "--pretty", "-i", img])
        res["pretty"] = compare(c_pre, o_pre)
        work = Path(tempfile.mkdtemp(dir=self.tmp))
        c_file, o_file = work / "crit.json", work / "ours.json"
        c_out = run([*crit, "decode", "-i", img, "-o", str(c_file)])
        o_out = run([*ours, "decode", "-i", img, "-o", str(o_file)])
        res["out"] = compare(
            c_out,
            o_out,
            c_file.read_bytes() if c_file.exists() else b"",
            o_file.read_bytes() if o_file.exists() else b"",
        )
        c_show, o_show = run([*crit, "show", img]), run([*ours, "show", img])
        res["show"] = compare(c_show, o_show)
        res["nopl"] = compare(run([*crit, "show", "--nopl", img]), run([*ours, "show", "--nopl", img]))
        c_info, o_info = run([*crit, "info", img]), run([*ours, "info", img])
        res["info"] = compare(c_info, o_info)
        original = (directory / name).read_bytes()
        for key, source in (("enc", c_dec), ("enc-pretty", c_show)):
            if source.rc != 0:
                res[key] = Result("CRIT-ERR", ["crit could not decode, so there is no crit JSON to encode"])
                continue
            src = work / f"{key}.json"
            src.write_bytes(source.out)
            dst = work / f"{key}.img"
            enc = run([*ours, "encode", "-i", str(src), "-o", str(dst)])
            if enc.traceback:
                res[key] = Result("OURS-TRACEBACK", [f"$ {enc.cmdline()}", *_tail(enc.err)])
            elif enc.rc != 0:
                res[key] = Result("OURS-ERR", [f"$ {enc.cmdline()}", f"ours: {_last(enc.err)}"])
            elif dst.read_bytes() == original:
                res[key] = Result("SAME")
            else:
                got = dst.read_bytes()
                pairs = enumerate(zip(original, got, strict=False))
                where = next((i for i, (x, y) in pairs if x != y), min(len(got), len(original)))
                res[key] = Result(
                    "DIFF",
                    [f"encoded {len(got)} bytes, original {len(original)}; first difference at offset {where:#x}"],
                )
                crit_enc = work / f"{key}.crit.img"
                ce = run([*crit, "encode", "-i", str(src), "-o", str(crit_enc)])
                same = ce.rc == 0 and crit_enc.read_bytes() == original
                res[key].detail.append(f"crit encode of the same JSON gives the original bytes: {same}")
        o_arch = run([*ours, "show", str(archive), name])
        res["archive"] = compare(c_show, o_arch)
        res["arch-dec"] = compare(c_dec, run([*ours, "decode", "-i", str(archive), name]))
        shutil.rmtree(work, ignore_errors=True)
        kind = _magic(c_info) or _magic(o_info) or "?"
        if c_dec.rc != 0 and o_dec.rc != 0 and not o_dec.traceback and not o_show.traceback:
            # Not a CRIU protobuf image (e.g. ip(8)'s ifaddr/route dumps): both refuse it.
            kind = "(not protobuf)"
            note = Result("RAW", [f"crit: {_last(c_dec.err)}", f"ours: {_last(o_dec.err)}"])
            res = {c: (note if c == "decode" else Result("RAW")) for c in IMAGE_CHECKS}
        return name, kind, res

    def explore(self, directory: Path, archive: Path) -> dict[str, Result]:
        res = {}
        for mode in X_MODES:
            c = run([self.crit, "x", str(directory), mode])
            res[f"x {mode}"] = compare(c, run([*self.ours, "crit", "x", str(directory), mode]))
            res[f"x {mode} (archive)"] = compare(c, run([*self.ours, "crit", "x", str(archive), mode]))
        return res


def _magic(info: Run) -> str | None:
    try:
        return json.loads(info.out)["magic"]
    except (ValueError, KeyError, TypeError):
        return None


def make_archive(directory: Path, tmp: Path) -> Path:
    archive = Path(tempfile.mkdtemp(dir=tmp)) / f"{directory.name}.tar.zst"
    tar = subprocess.run(["tar", "c", "-C", str(directory), "."], capture_output=True, check=True)
    zst = subprocess.run(["zstd", "-q", "-c"], input=tar.stdout, capture_output=True, check=True)
    archive.write_bytes(zst.stdout)
    return archive


def report_dir(comparer: Comparer, directory: Path, tmp: Path, jobs: int) -> dict:
    archive = make_archive(directory, tmp)
    names = sorted(p.name for p in directory.iterdir() if is_image(p))
    with ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(lambda n: comparer.image(directory, archive, n), names))
    x = comparer.explore(directory, archive)

    print(f"\n=== {directory}  ({len(names)} images)")
    width = max([len(n) for n in names] + [10])
    kwidth = max([len(k) for _, k, _ in rows] + [4])
    print(f"{'image':<{width}}  {'kind':<{kwidth}}  " + " ".join(f"{c:<10}" for c in IMAGE_CHECKS))
    for name, kind, res in rows:
        print(f"{name:<{width}}  {kind:<{kwidth}}  " + " ".join(f"{res[c].status:<10}" for c in IMAGE_CHECKS))
    for key, r in x.items():
        print(f"crit {key:<20} {r.status}")
    details = [
        (f"{name} [{c}]", res[c])
        for name, _, res in rows
        for c in IMAGE_CHECKS
        if res[c].status != "SAME" and (res[c].status != "RAW" or res[c].detail)
    ]
    details += [(f"crit {k}", r) for k, r in x.items() if r.status != "SAME"]
    if details:
        print("\n--- details")
    for label, r in details:
        print(f"* {label}: {r.status}")
        for line in r.detail:
            print(f"    {line}")
    return {
        "dir": str(directory),
        "images": {name: {"kind": kind, **{c: vars(res[c]) for c in IMAGE_CHECKS}} for name, kind, res in rows},
        "x": {k: vars(r) for k, r in x.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="images directories written by criu dump")
    parser.add_argument("--crit", default="/opt/reference/bin/crit", help="CRIU's crit")
    parser.add_argument(
        "--ours",
        default=f"{sys.executable} -m checkforensics",
        help="how to run checkforensics (the repository is put on PYTHONPATH)",
    )
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--json-out", type=Path, help="also write every result as JSON here")
    args = parser.parse_args()
    missing = [str(d) for d in args.dirs if not d.is_dir()]
    if missing:
        parser.error(f"not a directory: {', '.join(missing)}")

    everything = []
    with tempfile.TemporaryDirectory(prefix="compare-with-crit-") as tmp:
        comparer = Comparer(args.crit, args.ours.split(), Path(tmp))
        for directory in args.dirs:
            everything.append(report_dir(comparer, directory.resolve(), Path(tmp), args.jobs))
    if args.json_out:
        args.json_out.write_text(json.dumps(everything, indent=1))
    bad = sum(
        r["status"] not in ("SAME", "RAW")
        for d in everything
        for img in d["images"].values()
        for c, r in img.items()
        if c != "kind"
    ) + sum(r["status"] != "SAME" for d in everything for r in d["x"].values())
    print(f"\n{bad} check(s) not SAME")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
