#!/usr/bin/env python3
"""Build a large, real-format checkpoint from a small real one, for benchmarks.

The source checkpoint's images are kept as they are, except for one process (the one with the
most memory): its mm image gains one anonymous read-write mapping above all others, its pagemap
a present run covering it, and its pages image that many bytes of filler, appended after the
pages it already had, so every existing page keeps its offset. Markers (``--marker``) are
planted at known places in the filler: at the start, across a page boundary, across a 10 MiB
boundary (where checkpointctl's chunked search splits) and at the very end.

    python3 benchmarks/make_big_checkpoint.py fixtures/counters-blog.tar.zst /tmp/big.tar --size 1G
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkforensics.archive import Checkpoint
from checkforensics.images.codec import decode_image, encode_image
from checkforensics.images.flags import PAGE_SIZE, MapFlags, PagemapFlags, Prot, VmaStatus

MARKER = b"BIG_CHECKPOINT_MARKER_7f3a"
TEN_MIB = 10 * 1024 * 1024


def free_gap(vmas, size: int) -> int:
    """A gigabyte-aligned address where ``size`` bytes fit between existing mappings."""
    spans = sorted((vma.start, vma.end) for vma in vmas)
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        start = (end + (1 << 30)) & ~((1 << 30) - 1)
        if start + size + (1 << 30) <= next_start:
            return start
    raise SystemExit("no gap large enough in the address space")


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(text)


def marker_offsets(size: int) -> list[int]:
    """Where the markers go in the filler: they must be found wherever a reader's chunks end."""
    spots = [0, PAGE_SIZE - len(MARKER) // 2, TEN_MIB - len(MARKER) // 2, size - len(MARKER)]
    return sorted({spot for spot in spots if 0 <= spot <= size - len(MARKER)})


def mixed_pool(size: int = 16 << 20, seed: int = 1432) -> bytes:
    """``size`` bytes of pages like a process's: a quarter zero pages, a quarter random bytes,
    a quarter pointers near a few bases, a quarter words of text; gzip and zstd make about a
    third of it. Deterministic (``seed``)."""
    import random
    import struct

    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_=/.") for _ in range(rng.randrange(2, 12)))
             for _ in range(4000)]  # fmt: skip
    bases = [0x7F0000000000 + rng.randrange(1 << 32) * PAGE_SIZE for _ in range(8)]
    pages = []
    for _ in range(size // PAGE_SIZE):
        kind = rng.randrange(4)
        if kind == 0:
            pages.append(bytes(PAGE_SIZE))
        elif kind == 1:
            pages.append(rng.randbytes(PAGE_SIZE))
        elif kind == 2:
            values = [rng.choice(bases) + rng.randrange(1 << 20) * 8 for _ in range(PAGE_SIZE // 8)]
            pages.append(struct.pack(f"<{PAGE_SIZE // 8}Q", *values))
        else:
            text = b" ".join(rng.choices(words, k=PAGE_SIZE // 5))
            pages.append(text[:PAGE_SIZE].ljust(PAGE_SIZE, b"\n"))
    return b"".join(pages)


def filler(size: int, chunk: int = 1 << 20, kind: str = "pattern"):
    """Deterministic, not all-zero bytes (so nothing gets compressed away) with the markers in:
    ``pattern``, a 1 MiB pattern over and over (compresses 100:1); ``mixed``, pages of a 16 MiB
    ``mixed_pool`` taken from a different page each time round (about 2:1)."""
    pool = mixed_pool() if kind == "mixed" else bytes((i * 131 + 7) & 0xFF for i in range(chunk))
    spots = marker_offsets(size)
    position = 0
    while position < size:
        # each time round the pool starts 7 pages further: no 16 MiB repeats itself byte for byte
        at = (position + position // len(pool) * 7 * PAGE_SIZE) % len(pool)
        if at + chunk > len(pool):
            at = 0
        block = bytearray(pool[at : at + min(chunk, size - position)])
        for spot in spots:
            for i, byte in enumerate(MARKER):
                if position <= spot + i < position + len(block):
                    block[spot + i - position] = byte
        yield bytes(block)
        position += len(block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a real checkpoint archive or directory")
    parser.add_argument("output", help="where to write the uncompressed .tar")
    parser.add_argument("--size", default="1G", help="bytes of memory to add (e.g. 512M, 1G)")
    parser.add_argument("--filler", choices=["pattern", "mixed"], default="pattern", help="what the memory holds")
    args = parser.parse_args()
    extra = parse_size(args.size) // PAGE_SIZE * PAGE_SIZE

    with Checkpoint.open(args.source) as checkpoint:
        prefix = checkpoint.images_prefix
        pids = [entry.message.pid for entry in decode_image(checkpoint.read_image("pstree.img"), "pstree").entries]
        sizes = {}
        for pid in pids:
            head = decode_image(checkpoint.read_image(f"pagemap-{pid}.img"), "pagemap").entries[0].message
            sizes[pid] = (checkpoint.member(f"{prefix}pages-{head.pages_id}.img").size, head.pages_id)
        pid = max(sizes, key=lambda p: sizes[p][0])
        pages_name = f"{prefix}pages-{sizes[pid][1]}.img"

        mm = decode_image(checkpoint.read_image(f"mm-{pid}.img"), "mm")
        start = free_gap(mm.entries[0].message.vmas, extra)
        vma = mm.entries[0].message.vmas.add()
        vma.start, vma.end, vma.pgoff, vma.shmid = start, start + extra, 0, 0
        vma.prot = Prot.PROT_READ | Prot.PROT_WRITE
        vma.flags = MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON
        vma.status = VmaStatus.VMA_AREA_REGULAR | VmaStatus.VMA_ANON_PRIVATE
        vma.fd = -1
        pagemap = decode_image(checkpoint.read_image(f"pagemap-{pid}.img"), "pagemap")
        run = type(pagemap.entries[1].message)()
        run.vaddr, run.compat_nr_pages, run.nr_pages = start, 0, extra // PAGE_SIZE
        run.flags = PagemapFlags.PE_PRESENT
        pagemap.entries.append(type(pagemap.entries[1])(run, -1))
        replaced = {f"{prefix}mm-{pid}.img": encode_image(mm), f"{prefix}pagemap-{pid}.img": encode_image(pagemap)}

        with tarfile.open(args.output, "w", format=tarfile.PAX_FORMAT) as out:
            for member in checkpoint.members():
                info = tarfile.TarInfo(member.name)
                info.mode, info.mtime, info.uid, info.gid = member.mode, int(member.mtime), member.uid, member.gid
                if member.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    out.addfile(info)
                    continue
                if member.kind != "file":
                    continue
                if member.name == pages_name:
                    info.size = member.size + extra
                    out.addfile(info, _Concat([checkpoint.read(member.name)], filler(extra, kind=args.filler)))
                    continue
                data = replaced.get(member.name) or checkpoint.read(member.name)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
    print(f"{args.output}: {os.path.getsize(args.output)} bytes; pid {pid} has {extra} more bytes at {start:#x}")
    print(f"markers {MARKER.decode()} at " + ", ".join(f"{start + o:#x}" for o in marker_offsets(extra)))
    return 0


class _Concat(io.RawIOBase):
    """A read-only stream over some byte strings followed by a generator of chunks."""

    def __init__(self, head: list[bytes], tail) -> None:
        self._parts = iter([*head])
        self._tail = tail
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._parts, None)
            if piece is None:
                piece = next(self._tail, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


if __name__ == "__main__":
    raise SystemExit(main())
