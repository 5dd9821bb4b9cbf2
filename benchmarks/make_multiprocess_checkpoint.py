#!/usr/bin/env python3
"""Build a checkpoint with many processes from a small real one, for benchmarks.

The source's process tree is copied ``--copies`` times under its root process. Copy ``k`` of a
process with pid (or thread id) ``p`` gets ``p + k * stride``, where ``stride`` is the power of
ten above the largest id (at least 1000): copy 3 of pid 7 is pid 3007. Every copy has its own
``core``, ``mm``, ``fs``, ``ids``, ``pagemap``, ``fdinfo`` and ``pages`` images (the last two
under new ids, written in ``ids`` and the pagemap header); ``files.img``, shared memory and
every other image stay as they are and are shared by the copies, as after a fork. Commands that
decode an image once per process, or once per question about a process, show it here.

The output is an uncompressed ``.tar`` when its name ends in ``.tar``, otherwise a directory
(the extracted-archive layout, or a bare images directory when the source is one).

    python3 benchmarks/make_multiprocess_checkpoint.py fixtures/counters-blog.tar /tmp/many.tar --copies 40
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkforensics.archive import Checkpoint
from checkforensics.images.codec import decode_image, encode_image


def power_of_ten_above(number: int, at_least: int = 1) -> int:
    power = at_least
    while power <= number:
        power *= 10
    return power


def numbered(names: list[str], kind: str) -> list[int]:
    """The N of every ``<kind>-N.img`` in ``names``."""
    numbers = []
    for name in names:
        number = name[len(kind) + 1 : -len(".img")]
        if name.startswith(kind + "-") and name.endswith(".img") and number.isdigit():
            numbers.append(int(number))
    return numbers


@dataclass
class Copies:
    """The images to add (name in the images directory -> bytes) and the new pstree image."""

    images: dict[str, bytes] = field(default_factory=dict)
    pstree: bytes = b""
    processes: int = 0
    stride: int = 0


def plan_copies(checkpoint: Checkpoint, copies: int, stride: int | None) -> Copies:
    """Every image the copies need, read and rewritten from ``checkpoint``."""
    names = checkpoint.image_names()
    present = set(names)
    pstree = decode_image(checkpoint.read_image("pstree.img"), "pstree.img")
    tasks = [entry.message for entry in pstree.entries]
    pids = {task.pid for task in tasks}
    # a zombie's thread list can hold anything (its core image is named by its pid): only ids
    # that name a core image move
    tids = {tid for task in tasks for tid in (task.pid, *task.threads) if f"core-{tid}.img" in present}
    stride = stride or power_of_ten_above(max(pids | tids), at_least=1000)
    fdinfo_stride = power_of_ten_above(max(numbered(names, "fdinfo"), default=0))
    pages_stride = power_of_ten_above(max(numbered(names, "pages"), default=0))
    root = tasks[0].pid
    out = Copies(stride=stride, processes=len(tasks) * (copies + 1))
    cache: dict[str, bytes] = {}

    def image(name: str) -> bytes:
        if name not in cache:
            cache[name] = checkpoint.read_image(name)
        return cache[name]

    for k in range(1, copies + 1):

        def moved(number: int, k: int = k) -> int:
            return number + k * stride if number in pids or number in tids else number

        for task in tasks:
            copy = type(task)()
            copy.CopyFrom(task)
            copy.pid, copy.pgid, copy.sid = moved(task.pid), moved(task.pgid), moved(task.sid)
            copy.ppid = moved(task.ppid) if task.ppid else root
            copy.threads[:] = [moved(tid) for tid in task.threads]
            pstree.entries.append(type(pstree.entries[0])(copy, -1))
            for tid in dict.fromkeys((task.pid, *task.threads)):
                if tid in tids:
                    out.images[f"core-{moved(tid)}.img"] = image(f"core-{tid}.img")
            pid = task.pid
            for kind in ("mm", "fs"):
                if f"{kind}-{pid}.img" in present:
                    out.images[f"{kind}-{moved(pid)}.img"] = image(f"{kind}-{pid}.img")
            if f"ids-{pid}.img" in present:
                ids = decode_image(image(f"ids-{pid}.img"), f"ids-{pid}.img")
                files_id = ids.entries[0].message.files_id
                if f"fdinfo-{files_id}.img" in present:
                    ids.entries[0].message.files_id = files_id + k * fdinfo_stride
                    out.images[f"fdinfo-{files_id + k * fdinfo_stride}.img"] = image(f"fdinfo-{files_id}.img")
                out.images[f"ids-{moved(pid)}.img"] = encode_image(ids)
            if f"pagemap-{pid}.img" in present:
                pagemap = decode_image(image(f"pagemap-{pid}.img"), f"pagemap-{pid}.img")
                pages_id = pagemap.entries[0].message.pages_id
                if f"pages-{pages_id}.img" in present:
                    pagemap.entries[0].message.pages_id = pages_id + k * pages_stride
                    out.images[f"pages-{pages_id + k * pages_stride}.img"] = image(f"pages-{pages_id}.img")
                out.images[f"pagemap-{moved(pid)}.img"] = encode_image(pagemap)
    out.pstree = encode_image(pstree)
    return out


@contextlib.contextmanager
def _writer(output: Path) -> Iterator[Callable[[str, bytes | None, int], None]]:
    """``write(name, data, mode)``: a member of a new ``.tar``, or a file below a new directory (a
    directory when ``data`` is None)."""
    if output.suffix == ".tar":
        with tarfile.open(output, "w", format=tarfile.PAX_FORMAT) as tar:

            def add(name: str, data: bytes | None, mode: int) -> None:
                info = tarfile.TarInfo(name)
                info.mode = mode
                if data is None:
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                else:
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))

            yield add
        return

    def place(name: str, data: bytes | None, mode: int) -> None:
        if data is None:
            (output / name).mkdir(parents=True, exist_ok=True)
        else:
            (output / name).write_bytes(data)

    output.mkdir(parents=True)
    yield place


def build(source: Path, output: Path, copies: int, stride: int | None = None) -> Copies:
    """Write ``source`` with ``copies`` more copies of its process tree to ``output`` (see above)."""
    if output.exists():
        raise SystemExit(f"{output} exists; give a new name")
    with Checkpoint.open(source) as checkpoint, _writer(output) as write:
        plan = plan_copies(checkpoint, copies, stride)
        prefix = checkpoint.images_prefix
        for member in checkpoint.members():
            if member.kind == "dir":
                write(member.name, None, member.mode)
            elif member.kind == "file":
                data = plan.pstree if member.name == prefix + "pstree.img" else checkpoint.read(member.name)
                write(member.name, data, member.mode)
        for name, data in plan.images.items():
            write(prefix + name, data, 0o644)
    return plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a real checkpoint archive or directory")
    parser.add_argument("output", type=Path, help="a new .tar, or a new directory")
    parser.add_argument("--copies", type=int, default=40, help="copies of the process tree to add (default 40)")
    parser.add_argument("--pid-stride", type=int, help="what copy k adds k times to each pid (default: see above)")
    args = parser.parse_args()
    plan = build(args.source, args.output, args.copies, args.pid_stride)
    print(f"{args.output}: {plan.processes} processes ({args.copies} copies, pid stride {plan.stride})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
