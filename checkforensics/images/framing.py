"""CRIU image framing: magics, size-prefixed protobuf entries and the payloads that follow them.

An image file is ``[IMG_COMMON|IMG_SERVICE] MAGIC { SIZE PAYLOAD [EXTRA] }``: little-endian
32-bit magics, then entries, each a little-endian 32-bit size and that many bytes of protobuf,
some followed by raw bytes whose length the entry itself gives.  Everything here works on an
in-memory buffer and never trusts a length: sizes are checked against what is left, and every
error names the image and the byte offset.

References: criu/include/magic.h, criu/include/image.h, criu/protobuf.c (CRIU 4.2).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from checkforensics.errors import ImageError, UnknownMagicError
from checkforensics.images.magic import IMG_COMMON, IMG_SERVICE, NAME_BY_MAGIC, leading_magic

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


@dataclass(frozen=True)
class ImageHeader:
    """The magic of an image and where its first entry starts."""

    name: str
    magic: int
    leading: int | None  # IMG_COMMON / IMG_SERVICE, or None for single-magic images
    body_offset: int


class Reader:
    """A cursor over an image buffer that refuses to read past the end."""

    def __init__(self, data: bytes | memoryview, where: str, offset: int = 0) -> None:
        self.data = memoryview(data)
        self.where = where
        self.offset = offset

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def at_end(self) -> bool:
        return self.offset >= len(self.data)

    def take(self, size: int, what: str) -> bytes:
        """The next ``size`` bytes; ImageError if fewer are left."""
        if size < 0 or size > self.remaining:
            raise ImageError(
                f"truncated {what}: needs {size} bytes, {self.remaining} left", where=self.where, offset=self.offset
            )
        chunk = bytes(self.data[self.offset : self.offset + size])
        self.offset += size
        return chunk

    def skip(self, size: int, what: str) -> None:
        if size < 0 or size > self.remaining:
            raise ImageError(
                f"truncated {what}: needs {size} bytes, {self.remaining} left", where=self.where, offset=self.offset
            )
        self.offset += size

    def u32(self, what: str) -> int:
        return _U32.unpack(self.take(4, what))[0]

    def entry_size(self) -> int:
        """Read an entry's size field, checked against what the buffer still holds."""
        start = self.offset
        if self.remaining < 4:
            self.take(4, "entry size")  # raises, naming what is cut
        size = _I32.unpack_from(self.data, start)[0]
        self.offset = start + 4
        if size < 0 or size > self.remaining:
            raise ImageError(
                f"entry size {size} exceeds the {self.remaining} bytes left in the image",
                where=self.where,
                offset=start,
            )
        return size


def read_header(data: bytes | memoryview, where: str) -> ImageHeader:
    """Identify an image by its magic(s).

    Raises UnknownMagicError for a magic we do not know (e.g. raw pages), ImageError when the
    buffer is too short to hold one.
    """
    reader = Reader(data, where)
    if reader.remaining < 4:
        raise ImageError(f"too short for an image magic ({reader.remaining} bytes)", where=where, offset=0)
    first = reader.u32("image magic")
    leading: int | None = None
    magic = first
    if first in (IMG_COMMON, IMG_SERVICE):
        leading = first
        magic_offset = reader.offset
        if reader.remaining < 4:
            raise ImageError("image ends after its leading magic", where=where, offset=magic_offset)
        magic = reader.u32("image magic")
    name = NAME_BY_MAGIC.get(magic)
    if name is None:
        raise UnknownMagicError(magic, where=where, offset=reader.offset - 4)
    return ImageHeader(name=name, magic=magic, leading=leading, body_offset=reader.offset)


def iter_entry_payloads(reader: Reader) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` for each size-prefixed entry until the buffer ends.

    The offset is that of the entry's size field.  Used by images without extra payloads and
    by ``info``-style counting; images with payloads drive a Reader themselves.
    """
    while not reader.at_end():
        start = reader.offset
        size = reader.entry_size()
        yield start, reader.take(size, "entry")


def frame_entry(payload: bytes) -> bytes:
    """Size-prefix one serialized protobuf entry."""
    return _I32.pack(len(payload)) + payload


def frame_header(name: str, magic: int) -> bytes:
    """The magic(s) an image named ``name`` starts with."""
    lead = leading_magic(name)
    head = b"" if lead is None else _U32.pack(lead)
    return head + _U32.pack(magic)


def round_up(value: int, align: int) -> int:
    """``value`` rounded up to a multiple of ``align`` (a power of two)."""
    return (value + align - 1) & ~(align - 1)


def parse_entry(message: Any, payload: bytes, where: str, offset: int) -> None:
    """Parse protobuf ``payload`` into ``message``; ImageError (with the entry's offset) if it is not one."""
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise ImageError(f"cannot decode {message.DESCRIPTOR.name} entry ({exc})", where=where, offset=offset) from None
