"""Tar layers inside a checkpoint, read by their content, streaming.

A checkpoint carries tar archives of its own: the container's writable layer
(``rootfs-diff.tar``: a plain tar from Podman and CRI-O, the gzip-compressed OCI layer blob
from containerd, whatever its name says), ``devshm-checkpoint.tar`` and CRIU's
``tmpfs-dev-N.tar.gz.img``. Each is read by its first bytes (plain, gzip, zstd, xz, bzip2),
held to the checkpoint's own expansion limit (``decompression``), and walked member by member
without ever being written anywhere. What the members mean (whiteouts, what the runtime made)
is for the layers above.

References: the OCI image spec, layer.md; containerd's
internal/cri/server/container_checkpoint_linux.go (writeRootFsDiffTar).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from checkforensics.archive.decompression import (
    MAX_EXPANSION_RATIO,
    decompress_errors,
    decompressing_reader,
    expansion_limit,
)
from checkforensics.archive.layout import detect_kind
from checkforensics.archive.tarheader import BLOCK
from checkforensics.errors import ArchiveError


class _Replayed(io.RawIOBase):
    """``head`` (bytes already read from ``rest``) and then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Bounded(io.RawIOBase):
    """A decompressed layer that may not expand past ``budget`` bytes (a decompression bomb
    inside the checkpoint is held to the archive's own limit, which ``limit_text`` names)."""

    def __init__(self, stream: BinaryIO, budget: int, limit_text: str) -> None:
        self._stream = stream
        self._budget = budget
        self._limit_text = limit_text
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        self._position += len(data)
        if self._position > self._budget:
            raise ArchiveError(
                f"the layer expands past {self._limit_text}; not decompressed further (decompression bomb?)"
            )
        buffer[: len(data)] = data
        return len(data)


def layer_stream(stream: BinaryIO, size: int | None = None) -> tuple[BinaryIO, str]:
    """The tar inside a layer member, whatever its name says: ``(reader, kind)``, kind being
    "tar", "tar.gz", "tar.zst" (or xz, bzip2) as the first bytes show. Unrecognised bytes are
    handed on as a tar, for tarfile to reject with its own reason. With the member's ``size``,
    a compressed layer may expand to at most the archive layer's own bound."""
    head = stream.read(BLOCK)
    kind = detect_kind(head) or "tar"
    replayed = io.BufferedReader(_Replayed(head, stream))
    if kind == "tar":
        return replayed, kind
    reader = decompressing_reader(replayed, kind)
    if size is None:
        return reader, kind
    return io.BufferedReader(_Bounded(reader, *expansion_limit(size))), kind


SPARSE_FLOOR = 1 << 20  # a sparse file's holes are expanded up to this, or the ratio times what is stored


def unexpanded(info: tarfile.TarInfo) -> str | None:
    """Why a sparse member's content is not read, or None. Its holes are zeros the archive does
    not store: a few KB can claim a terabyte (GNU 'S' and PAX sparse members), so they are
    expanded only up to ``MAX_EXPANSION_RATIO`` times what the archive stores (at least
    ``SPARSE_FLOOR``), as a compressed stream is; the work stays bounded by the archive."""
    if info.sparse is None:
        return None
    stored = sum(size for _, size in info.sparse)
    if info.size <= max(stored * MAX_EXPANSION_RATIO, SPARSE_FLOOR):
        return None
    return (
        f"sparse file of {info.size} bytes of which the archive stores {stored}: its holes are not expanded "
        f"(more than {MAX_EXPANSION_RATIO} times what is stored), so it is neither hashed nor read"
    )


@dataclass(frozen=True)
class LayerEntry:
    """One member of a layer archive as it streams by: its tar header, the SHA-256 of a regular
    file's content and its first bytes (when asked for), and its content until the walk moves
    on (unless hashed: then ``head`` is what is left of it). ``cut``: why its content is not read
    (a sparse file claiming far more than the archive stores), or None."""

    info: tarfile.TarInfo
    sha256: str | None
    _tar: tarfile.TarFile
    head: bytes = b""
    cut: str | None = None

    def open(self) -> BinaryIO | None:
        """The member's content (a regular file's), to be read before the walk goes on; None
        for any other member, and for one whose content is not read (``cut``)."""
        if self.cut is not None:
            return None
        return self._tar.extractfile(self.info)  # type: ignore[return-value]


def layer_entries(
    stream: BinaryIO, *, where: str, size: int | None = None, digest: bool = True, head: int = 0
) -> Iterator[LayerEntry]:
    """The members of a layer archive (plain, gzip or zstd, told by its content), streaming;
    with ``digest``, regular files hashed as they pass, their first ``head`` bytes kept.
    ``size``: the layer member's, which bounds how far it may expand.

    A damaged or cut archive ends the iteration with an ArchiveError naming ``where``, after
    every whole member before the damage has been yielded.
    """
    try:
        reader, _kind = layer_stream(stream, size)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for info in tar:
                sha, first = None, b""
                cut = unexpanded(info)
                if digest and info.isfile() and cut is None:
                    handle = tar.extractfile(info)
                    if handle is not None:
                        sha, first = _sha256_stream(handle, info.size, head)
                yield LayerEntry(info, sha, tar, first, cut)
    except ArchiveError as exc:
        raise exc.located(where) from None
    except (tarfile.TarError, EOFError, zlib.error, OSError, *decompress_errors()) as exc:
        raise ArchiveError(f"damaged archive ({exc})", where=where) from None


def _sha256_stream(handle: BinaryIO, size: int, head: int = 0) -> tuple[str, bytes]:
    """The SHA-256 of the ``size`` bytes of ``handle``, and the first ``head`` of them."""
    digest = hashlib.sha256()
    first = b""
    remaining = size
    while remaining > 0:
        chunk = handle.read(min(remaining, 1 << 20))
        if not chunk:
            break
        digest.update(chunk)
        if len(first) < head:
            first += chunk[: head - len(first)]
        remaining -= len(chunk)
    return digest.hexdigest(), first
