"""Sparse tar members, written by hand (Python's tarfile reads them and cannot write them), and
a real checkpoint whose rootfs-diff.tar holds some whose apparent size is huge.

Facts from the GNU tar manual, "Sparse Files" and "Storing Sparse Files" (GNU 'S' members: the
old GNU header's four sparse entries at offset 386, isextended at 482, realsize at 483; PAX
format 1.0: GNU.sparse.major/minor/name/realsize in the extended header, the map in decimal at
the start of the member's data, padded to a block), and from POSIX ustar for the rest of the
header. Numbers too big for a field's octal digits are GNU's base-256 (a first byte of 0x80).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from mutants import read_members, write_members

BLOCK = 512
TERABYTE = 1 << 40


def _number(value: int, width: int) -> bytes:
    """``value`` in a header field of ``width`` bytes: octal digits and NUL, or base-256."""
    if value < 8 ** (width - 1):
        return f"{value:0{width - 1}o}".encode() + b"\0"
    return b"\x80" + value.to_bytes(width - 1, "big")


def _header(name: str, size: int, typeflag: bytes, *, gnu: bool, sparse: bytes = b"", realsize: int = 0) -> bytes:
    header = bytearray(BLOCK)
    header[0:100] = name.encode().ljust(100, b"\0")
    header[100:108] = _number(0o644, 8)
    header[108:116] = _number(0, 8)
    header[116:124] = _number(0, 8)
    header[124:136] = _number(size, 12)
    header[136:148] = _number(1_764_000_000, 12)
    header[156:157] = typeflag
    header[257:265] = b"ustar  \0" if gnu else b"ustar\x0000"
    if sparse:
        header[386 : 386 + len(sparse)] = sparse
        header[483:495] = _number(realsize, 12)
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}".encode() + b"\0 "
    return bytes(header)


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def gnu_sparse(name: str, apparent: int, chunks: list[tuple[int, bytes]]) -> bytes:
    """An old GNU sparse member ('S'): at most four chunks in the header, no extension block."""
    assert len(chunks) <= 4
    entries = b"".join(_number(offset, 12) + _number(len(data), 12) for offset, data in chunks)
    stored = b"".join(data for _, data in chunks)
    return _header(name, len(stored), b"S", gnu=True, sparse=entries, realsize=apparent) + _padded(stored)


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return f"{length}{body}".encode()


def pax_sparse(name: str, apparent: int, chunks: list[tuple[int, bytes]]) -> bytes:
    """A PAX format 1.0 sparse member: its extended header, then the map and the chunks."""
    records = b"".join(
        _pax_record(key, value)
        for key, value in (("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.name", name),
                           ("GNU.sparse.realsize", str(apparent)))
    )  # fmt: skip
    extended = _header(f"PaxHeaders/{name}"[:99], len(records), b"x", gnu=False) + _padded(records)
    mapped = f"{len(chunks)}\n" + "".join(f"{offset}\n{len(data)}\n" for offset, data in chunks)
    data = _padded(mapped.encode()) + b"".join(data for _, data in chunks)
    return extended + _header(f"GNUSparseFile.0/{name}"[:99], len(data), b"0", gnu=False) + _padded(data)


def with_members(layer: bytes, extra: bytes) -> bytes:
    """The tar ``layer`` with the raw members ``extra`` after its own, then its end blocks."""
    import io

    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        last = tar.getmembers()[-1]
        end = last.offset_data + last.size + (-last.size % BLOCK) if last.isfile() else last.offset_data
    return layer[:end] + extra + bytes(2 * BLOCK)


def sparse_checkpoint(source: Path, target: Path, *, apparent: int = TERABYTE, count: int = 3) -> Path:
    """``source`` (a real checkpoint archive with a plain rootfs-diff.tar) whose rootfs-diff.tar
    also holds ``count`` GNU and ``count`` PAX 1.0 sparse files of ``apparent`` bytes each, a few
    KB stored (text at the start, the middle and the end)."""
    members = read_members(source)
    chunks = [(0, b"#!/bin/sh\necho start\n" * 50), (apparent // 2, b"middle " * 300), (apparent - 4096, b"e" * 4096)]
    extra = b"".join(
        gnu_sparse(f"var/log/gnu-{n}.log", apparent, chunks) + pax_sparse(f"var/log/pax-{n}.log", apparent, chunks)
        for n in range(count)
    )
    for index, (info, data) in enumerate(members):
        if info.name == "rootfs-diff.tar":
            members[index] = (info, with_members(data, extra))
    return write_members(members, target)
