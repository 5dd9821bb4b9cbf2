"""What the archive tests open: the real fixtures in every form, and tar archives built by hand.

The hand-built archives (hostile and damaged ones too) are written with ``tarfile`` into the
test's ``tmp_path``; the compressed and extracted forms of the real fixtures are made here, by
the tests, never by the code under test.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import tarfile
from pathlib import Path

import zstandard

from conftest import FIXTURES

BUSYBOX = FIXTURES / "busybox-counter-criu41.tar"
COUNTERS_GZ = FIXTURES / "counters-blog.tar.gz"
COUNTERS_ZST = FIXTURES / "counters-blog.tar.zst"
LATER_ZST = FIXTURES / "counters-blog-later.tar.zst"
INFLIGHT_ZST = FIXTURES / "inflight.tar.zst"
BARE = FIXTURES / "bare-bash-sleep"
PSTREE = b"\x16\x12\x11\x54pstree-image"  # content does not matter to this layer
INVENTORY = b"\x16\x12\x11\x54inventory-image"


def tar_info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mtime = 1_700_000_000
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info


Member = tuple[tarfile.TarInfo, bytes]


def file_member(name: str, data: bytes) -> Member:
    return tar_info(name, len(data)), data


def images(*extra: Member) -> list[Member]:
    """A minimal container checkpoint: metadata, ``checkpoint/`` with two images, then ``extra``."""
    return [
        file_member("config.dump", b'{"id": "abc"}'),
        (tar_info("checkpoint", kind=tarfile.DIRTYPE), b""),
        file_member("checkpoint/inventory.img", INVENTORY),
        file_member("checkpoint/pstree.img", PSTREE),
        *extra,
    ]


def tar_bytes(members: list[Member], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def compress(data: bytes, kind: str) -> bytes:
    if kind == "tar.gz":
        return gzip.compress(data, mtime=0)
    if kind == "tar.zst":
        return zstandard.ZstdCompressor().compress(data)
    if kind == "tar.xz":
        return lzma.compress(data, preset=0)
    if kind == "tar.bz2":
        return bz2.compress(data, 1)
    return data


def without_end(data: bytes) -> bytes:
    """A tar archive without its end-of-archive blocks, to append hand-made headers to."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        last = tar.getmembers()[-1]
    return data[: last.offset_data + (last.size + 511) // 512 * 512]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def safe_extract(source: Path, target: Path) -> None:
    """Extract a real fixture for the directory tests (the test does this, never the code under test)."""
    with tarfile.open(source) as tar:
        tar.extractall(
            target,
            filter=lambda member, dest: (
                member.replace(mode=0o755) if member.isdir() else tarfile.data_filter(member, dest)
            ),
        )


def tarfile_members(path: Path) -> list[tarfile.TarInfo]:
    """What Python's own tarfile lists (an implementation independent of ours)."""
    if path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd":
        with path.open("rb") as raw:
            stream = zstandard.ZstdDecompressor().stream_reader(raw)
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                return list(tar)
    with tarfile.open(path) as tar:
        return tar.getmembers()


def with_big_member(kind: str) -> tuple[bytes, int]:
    """An archive whose last member is 64 KiB of pages, and where in the tar stream its data starts."""
    pages = random.Random(65536).randbytes(65536)  # incompressible, and the same every run (damage lands alike)
    data = tar_bytes(images(file_member("checkpoint/pages-1.img", pages)))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        start = tar.getmember("checkpoint/pages-1.img").offset_data
    return data, start


def make_counters_forms(folder: Path) -> dict[str, Path]:
    """counters-blog.tar.zst, and the same checkpoint as a plain tar and as an extracted directory in ``folder``."""
    plain = folder / "counters-blog.tar"
    with COUNTERS_ZST.open("rb") as raw, plain.open("wb") as out:
        zstandard.ZstdDecompressor().copy_stream(raw, out)
    extracted = folder / "extracted"
    safe_extract(plain, extracted)
    return {"tar.zst": COUNTERS_ZST, "tar": plain, "directory": extracted}


def make_busybox_forms(folder: Path) -> dict[str, Path]:
    """busybox-counter-criu41.tar in every compression we read, and extracted, in ``folder``."""
    data = BUSYBOX.read_bytes()
    forms = {"tar": BUSYBOX}
    for kind in ("tar.gz", "tar.zst", "tar.xz", "tar.bz2"):
        forms[kind] = folder / f"busybox.{kind.replace('.', '-')}.bin"  # a name that says nothing
        forms[kind].write_bytes(compress(data, kind))
    forms["directory"] = folder / "extracted"
    safe_extract(BUSYBOX, forms["directory"])
    return forms
