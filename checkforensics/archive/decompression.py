"""Decompressing a stream, and how far one may expand.

Every compressed stream the checkpoint holds is read through here: the archive itself (a
``.tar.gz``, ``.tar.zst``, ``.tar.xz``, ``.tar.bz2``, listed by ``compressed``) and the tar layers
inside it (``layers``: containerd's gzip rootfs-diff.tar, CRIU's tmpfs archives). Both are held to
one expansion limit: ``MAX_EXPANSION_RATIO`` times the compressed size, at least
``MIN_EXPANSION_BUDGET`` (``--max-expansion`` sets another), so that a decompression bomb is
never inflated whatever it hides in.

The decompressors are imported when one is needed: a plain tar or a directory never pays for
them (start-up is much of a small command's time).
"""

from __future__ import annotations

import io
from typing import BinaryIO

from checkforensics.archive.fileio import CHUNK

MAX_EXPANSION_RATIO = 64  # one pass over a compressed archive expands it at most this many times...
MIN_EXPANSION_BUDGET = 1 << 30  # ...or this many bytes, whichever is more (a second or two of inflating)
_expansion_override: int | None = None  # --max-expansion


def allow_expansion(limit: int | None) -> None:
    """Let every compressed archive opened from now on expand to ``limit`` bytes, whatever its
    compressed size (None: back to the ratio rule). The CLI's ``--max-expansion``."""
    global _expansion_override
    _expansion_override = limit


def expansion_limit(compressed_size: int) -> tuple[int, str]:
    """How many bytes an archive of ``compressed_size`` may expand to in one pass, and how to
    name that limit in a message."""
    if _expansion_override is not None:
        return _expansion_override, f"the limit of {_expansion_override} bytes set by --max-expansion"
    limit = max(MIN_EXPANSION_BUDGET, compressed_size * MAX_EXPANSION_RATIO)
    return limit, (
        f"the decompression limit of {limit} bytes ({MAX_EXPANSION_RATIO} times the compressed size, at least "
        f"{MIN_EXPANSION_BUDGET >> 30} GiB; --max-expansion raises it)"
    )


def decompressing_reader(raw: BinaryIO, kind: str) -> BinaryIO:
    """A reader of what ``raw`` holds once decompressed, ``kind`` being what ``detect_kind``
    said of its first bytes ("tar.gz", "tar.zst", "tar.xz", "tar.bz2"). ``decompress_errors()``
    lists what it raises on damage."""
    if kind == "tar.gz":
        return _gzip_reader(raw)
    if kind == "tar.xz":
        import lzma

        return lzma.LZMAFile(raw, "rb")
    if kind == "tar.bz2":
        import bz2

        return bz2.BZ2File(raw, "rb")
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]


def decompress_errors() -> tuple[type[BaseException], ...]:
    """What a damaged stream raises, whichever decompressor reads it."""
    import lzma
    import zlib

    import zstandard

    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError)
    try:
        from isal import isal_zlib
    except ImportError:
        return errors
    return (*errors, isal_zlib.error)


def _gzip_reader(raw: BinaryIO) -> BinaryIO:
    """gzip through python-isal (Intel's ISA-L inflate, the ``fast`` extra) where installed:
    2 to 5 times the speed of Python's zlib on checkpoints; else through zlib (the same bytes)."""
    import gzip

    try:
        from isal import igzip
    except ImportError:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return _SalvagingGzip(raw, igzip.IGzipFile(fileobj=raw, mode="rb"))  # type: ignore[arg-type]


class _SalvagingGzip(io.RawIOBase):
    """ISA-L's gzip reader, until the data breaks. ISA-L inflates its input in big blocks and
    gives nothing of a block that holds damage, where zlib gives every byte before it: on damage
    the stream is read again from its start through zlib, past what was already handed out, so
    a damaged archive yields as much evidence with isal installed as without (one more pass,
    only then)."""

    def __init__(self, raw: BinaryIO, fast: BinaryIO) -> None:
        self._raw = raw
        self._stream = fast
        self._given = 0
        self._salvaging = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            got = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        except decompress_errors():
            if self._salvaging or not self._raw.seekable():
                raise
            self._salvage()
            got = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        self._given += got
        return got

    def _salvage(self) -> None:
        import gzip

        self._salvaging = True
        self._raw.seek(0)
        self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[assignment]
        left = self._given
        while left:  # what ISA-L handed out already; zlib's error, if it breaks sooner, is raised
            skipped = len(self._stream.read(min(left, CHUNK)))
            if not skipped:
                raise EOFError(f"gzip data ends after {self._given - left} bytes")
            left -= skipped
