"""Checkpoints made to cost: small to store and build, expensive to analyse naively.

Built from the real fixtures on demand, never stored in git:

- ``compressed_bomb``: a ``.tar.gz``/``.tar.zst`` holding a real checkpoint and members of
  gigabytes of zeros, written by streaming one compressed chunk of zeros over and over (gzip
  members and zstd frames may follow each other), so a 20 GiB bomb takes a second to build.
- ``process_swarm``: a bare images directory whose pstree lists many processes (a chain, each
  the parent of the next, or a flat tree) that have no images at all.
- ``inconsistent_tree``: a pstree with a parent cycle, a process that is its own parent, a
  duplicate pid and a process below the cycle.
- ``lying_memory``: a bare images directory whose pagemap or mm image lies: runs of 2^40
  pages, runs that overlap or point past the pages image, 300,000 runs, a mapping of 2^46
  bytes and one over the whole address space, 70,000 mappings, 30 million saved auxv values.
- ``layer_bomb``: a tmpfs layer (``tar.gz`` inside the checkpoint) of 2 GiB of zeros.

``python3 tests/costly.py DIR`` writes them all into DIR, for trying commands by hand.
"""

from __future__ import annotations

import functools
import gzip
import shutil
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import zstandard

from checkforensics.images.codec import Image, decode_image, encode_image
from checkforensics.images.flags import PAGE_SIZE, PagemapFlags
from checkforensics.images.framing import frame_entry, frame_header
from checkforensics.images.magic import MAGIC_BY_NAME

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BARE = FIXTURES / "bare-bash-sleep"
BARE_ROOT, BARE_CHILD = 16120, 16122  # the real processes of the bare dump: bash and its sleep
ZERO_CHUNK = 64 << 20  # a bomb is made of this many zeros compressed once, repeated


@functools.cache
def _compressed_zeros(codec: str) -> bytes:
    zeros = bytes(ZERO_CHUNK)
    if codec == "gz":
        return gzip.compress(zeros, 9)
    return zstandard.ZstdCompressor(level=19).compress(zeros)


def _compress(codec: str, data: bytes) -> bytes:
    if codec == "gz":
        return gzip.compress(data, 6)
    return zstandard.ZstdCompressor(level=3).compress(data)


def _tar_member(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 1_700_000_000
    return info.tobuf(format=tarfile.GNU_FORMAT)


def _tar_blocks(source: Path) -> Iterator[tuple[str, bytes]]:
    """Each member of the tar ``source`` as (name, header + data + padding)."""
    with tarfile.open(source) as tar:
        for info in tar.getmembers():
            data = tar.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            yield info.name, info.tobuf(format=tarfile.GNU_FORMAT) + data + bytes(-len(data) % 512)


def compressed_bomb(
    target: Path,
    codec: str = "gz",
    *,
    bomb: int = 20 << 30,
    pieces: int = 1,
    before: str | None = None,
    source: Path = FIXTURES / "counters-blog.tar",
) -> Path:
    """``target``: ``source`` compressed with ``codec`` ("gz" or "zst"), with ``pieces`` members
    of zeros (``bomb`` bytes in all, a multiple of ZERO_CHUNK per piece) inserted before member
    ``before`` (at the end when None)."""
    per_piece = bomb // pieces
    assert per_piece % ZERO_CHUNK == 0, "each piece must be a whole number of zero chunks"
    zeros = _compressed_zeros(codec)
    pending = bytearray()
    with target.open("wb") as out:

        def flush() -> None:
            if pending:
                out.write(_compress(codec, bytes(pending)))
                pending.clear()

        def add_bomb() -> None:
            for index in range(pieces):
                pending.extend(_tar_member(f"zeros-{index}.bin", per_piece))
                flush()
                for _ in range(per_piece // ZERO_CHUNK):
                    out.write(zeros)

        placed = False
        for name, blocks in _tar_blocks(source):
            if name == before:
                add_bomb()
                placed = True
            pending.extend(blocks)
        if not placed:
            add_bomb()
        pending.extend(bytes(1024))
        flush()
    return target


def layer_bomb(target: Path, size: int = 2 << 30) -> Path:
    """A bare dump with a tmpfs layer (``tmpfs-dev-99.tar.gz.img``) holding ``size`` bytes of zeros
    in one file, in a few MiB: a bomb inside the checkpoint, which ``diff`` hashes."""
    _copy_bare(target)
    assert size % ZERO_CHUNK == 0
    with (target / "tmpfs-dev-99.tar.gz.img").open("wb") as out:
        out.write(_compress("gz", _tar_member("zeros", size)))
        for _ in range(size // ZERO_CHUNK):
            out.write(_compressed_zeros("gz"))
        out.write(_compress("gz", bytes(1024)))
    return target


# --- process trees ----------------------------------------------------------------------------


def _copy_bare(target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(BARE, target)
    return target


def _image(path: Path) -> Image:
    return decode_image(path.read_bytes(), path.name)


def _write_pstree(target: Path, rows: list[tuple[int, int]]) -> None:
    """pstree.img of ``target``: the two real processes, then ``(pid, ppid)`` for each row."""
    image = _image(target / "pstree.img")
    entry_type = type(image.entries[0])
    message_type = type(image.entries[0].message)
    for pid, ppid in rows:
        message = message_type(pid=pid, ppid=ppid, pgid=BARE_ROOT, sid=BARE_ROOT)
        message.threads.append(pid)
        image.entries.append(entry_type(message, -1))
    (target / "pstree.img").write_bytes(encode_image(image))


def process_swarm(target: Path, count: int = 100_000, shape: str = "chain") -> Path:
    """A bare dump listing ``count`` more processes, none with any image: ``chain`` (each the
    parent of the next, below the real sleep) or ``flat`` (all children of the real bash)."""
    _copy_bare(target)
    first = 200_000
    if shape == "chain":
        rows = [(first + i, first + i - 1 if i else BARE_CHILD) for i in range(count)]
    else:
        rows = [(first + i, BARE_ROOT) for i in range(count)]
    _write_pstree(target, rows)
    return target


CYCLE = (500, 501, 502)  # 500's parent is 502, 501's is 500, 502's is 501
BELOW_CYCLE = 503  # a child of 501
SELF_PARENT = 600


def inconsistent_tree(target: Path) -> Path:
    """A bare dump whose pstree holds a parent cycle of three (with a child below it), a process
    that is its own parent, and the real sleep listed a second time under another parent."""
    _copy_bare(target)
    a, b, c = CYCLE
    _write_pstree(target, [(a, c), (b, a), (c, b), (BELOW_CYCLE, b), (SELF_PARENT, SELF_PARENT), (BARE_CHILD, a)])
    return target


# --- memory -----------------------------------------------------------------------------------


def _runs(image: Image) -> list:
    return [entry.message for entry in image.entries[1:]]


def _add_run(image: Image, vaddr: int, nr_pages: int, flags: int = PagemapFlags.PE_PRESENT) -> None:
    entry_type, message_type = type(image.entries[1]), type(image.entries[1].message)
    run = message_type(vaddr=vaddr, nr_pages=nr_pages, compat_nr_pages=0, flags=flags)
    image.entries.append(entry_type(run, -1))


MEMORY_CASES = ("huge-run", "overlapping-runs", "past-pages", "many-runs", "huge-vma", "many-vmas", "giant-auxv")
MANY_VMAS = 70_000  # many-vmas: more program headers than an ELF header can count (65,535)
AUXV_VALUES = 30_000_000  # giant-auxv: values in mm_saved_auxv (a 30 MB mm image, under the 32 MiB limit)


def lying_memory(target: Path, case: str) -> Path:
    """A bare dump whose bash (pid 16120) has one of MEMORY_CASES in its pagemap or mm image."""
    _copy_bare(target)
    pagemap_path, mm_path = target / f"pagemap-{BARE_ROOT}.img", target / f"mm-{BARE_ROOT}.img"
    pagemap, mm = _image(pagemap_path), _image(mm_path)
    runs = _runs(pagemap)
    if case == "huge-run":  # the first run claims 2^40 pages, so every run after it points far away
        runs[0].nr_pages = 1 << 40
        _add_run(pagemap, 1 << 46, 1 << 40)
    elif case == "overlapping-runs":  # every run twice, and one run over all of them
        for run in list(runs):
            _add_run(pagemap, run.vaddr, run.nr_pages)
        _add_run(pagemap, runs[0].vaddr, (runs[-1].vaddr - runs[0].vaddr) // PAGE_SIZE + 1)
    elif case == "past-pages":  # runs far more than the pages image holds
        _add_run(pagemap, 0x7F0000000000, 1 << 20)
        _add_run(pagemap, 0x7F0100000000, 3)
    elif case == "many-runs":  # 300,000 one-page runs, every other one dumped, in one mapping
        vmas = mm.entries[0].message.vmas
        vma = vmas.add()
        vma.CopyFrom(vmas[-2])
        vma.start, vma.end = 0x10000000000, 0x10000000000 + 600_000 * PAGE_SIZE
        for index in range(300_000):
            flags = PagemapFlags.PE_PRESENT if index % 2 == 0 else 0
            _add_run(pagemap, vma.start + 2 * index * PAGE_SIZE, 1, flags)
    elif case == "huge-vma":  # a mapping of 2^46 bytes below the real ones, a page dumped at each end;
        vmas = mm.entries[0].message.vmas  # one over the whole address space; one that ends before it starts
        huge = vmas.add()
        huge.CopyFrom(vmas[-2])
        huge.start, huge.end = 1 << 32, (1 << 32) + (1 << 46)
        everything = vmas.add()
        everything.CopyFrom(vmas[-3])
        everything.start, everything.end = 0, 1 << 47
        backwards = vmas.add()
        backwards.CopyFrom(vmas[-4])
        backwards.start, backwards.end = 0x7FFF00000000, 0x7FFE00000000
        _add_run(pagemap, huge.start, 1)
        _add_run(pagemap, huge.end - PAGE_SIZE, 1)
        with (target / f"pages-{pagemap.entries[0].message.pages_id}.img").open("ab") as pages:
            pages.write(b"HUGE-VMA" * (2 * PAGE_SIZE // 8))  # the pages of the two runs
    elif case == "many-vmas":  # one-page mappings above the real ones, every eighth one dumped
        vmas = mm.entries[0].message.vmas
        template = type(vmas[0])()
        template.CopyFrom(vmas[-2])
        base = 0x200000000000
        for index in range(MANY_VMAS):
            vma = vmas.add()
            vma.CopyFrom(template)
            vma.start, vma.end = base + 2 * index * PAGE_SIZE, base + (2 * index + 1) * PAGE_SIZE
            if index % 8 == 0:
                _add_run(pagemap, vma.start, 1)
        with (target / f"pages-{pagemap.entries[0].message.pages_id}.img").open("ab") as pages:
            pages.write(b"\x5a" * (-(-MANY_VMAS // 8) * PAGE_SIZE))
    elif case == "giant-auxv":  # written by hand: protobuf would hold the values as 8 bytes each
        message = mm.entries[0].message
        del message.mm_saved_auxv[:]
        with mm_path.open("wb") as out:
            out.write(frame_header("MM", MAGIC_BY_NAME["MM"]))
            out.write(frame_entry(message.SerializeToString() + _packed_auxv(AUXV_VALUES)))
        return target
    else:
        raise ValueError(case)
    pagemap_path.write_bytes(encode_image(pagemap))
    mm_path.write_bytes(encode_image(mm))
    return target


def _packed_auxv(count: int) -> bytes:
    """Field ``mm_saved_auxv`` (13, packed varints) holding ``count`` values of 1."""
    length, out = count, bytearray([13 << 3 | 2])
    while True:
        out.append((length & 0x7F) | (0x80 if length > 0x7F else 0))
        length >>= 7
        if not length:
            break
    return bytes(out) + b"\x01" * count


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    compressed_bomb(out / "bomb-20g.tar.gz", "gz")
    compressed_bomb(out / "bomb-20g.tar.zst", "zst")
    compressed_bomb(out / "bomb-first.tar.gz", "gz", bomb=2 << 30, pieces=32, before="config.dump")
    layer_bomb(out / "layer-bomb")
    for shape in ("chain", "flat"):
        process_swarm(out / f"swarm-{shape}", shape=shape)
    inconsistent_tree(out / "inconsistent-tree")
    for case in MEMORY_CASES:
        lying_memory(out / f"memory-{case}", case)
    print(f"written into {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "costly"))
