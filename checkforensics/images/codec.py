"""Decode a CRIU image into protobuf messages, and encode it back byte for byte.

``decode_image`` is pure: bytes in, an ``Image`` out, nothing printed and nothing global.
Every length is checked; every failure is an ImageError naming the image and the offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import EncodeError

from checkforensics.errors import ImageError
from checkforensics.images.framing import (
    Reader,
    frame_entry,
    frame_header,
    parse_entry,
    read_header,
)
from checkforensics.images.magic import MAGIC_BY_NAME
from checkforensics.images.registry import GHOST_CHUNK, KINDS, ImageKind, image_kind, message_class

ENTRY_LIMIT = 1_000_000  # entries decoded from one image (a pstree of a million processes, a pagemap of a million runs)


@dataclass
class Entry:
    """One entry of an image: its message, where it starts, and the payload after it."""

    message: Any
    offset: int
    extra: Any = None  # bytes, TcpQueues, list[int] or list[IpcMessage]; None when there is none
    extra_size: int | None = None  # payload length when decoded without payloads
    # string fields that held invalid UTF-8 (protobuf cannot set those): the message holds a
    # unique placeholder of the same length instead, swapped for the raw bytes when encoding
    raw_strings: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class Image:
    """A decoded image: its kind (from the magic) and its entries in file order."""

    kind: ImageKind
    entries: list[Entry] = field(default_factory=list)
    where: str = ""

    @property
    def magic(self) -> str:
        return self.kind.name

    def messages(self) -> list[Any]:
        return [entry.message for entry in self.entries]


def decode_image(data: bytes | memoryview, where: str, *, payloads: bool = True) -> Image:
    """Decode a whole image held in ``data``.

    With ``payloads=False`` the raw bytes after entries are skipped (only their size is kept),
    which is what ``crit show --nopl`` prints.
    """
    header = read_header(data, where)
    kind = image_kind(header.name, where)
    reader = Reader(data, where, header.body_offset)
    image = Image(kind, where=where)
    if kind.ghost:
        image.entries = _decode_ghost(reader, payloads)
        return image
    message_cls = kind.head_class()
    while not reader.at_end():
        start = reader.offset
        _check_count(len(image.entries), where, start)
        size = reader.entry_size()
        message = message_cls()
        parse_entry(message, reader.take(size, "entry"), where, start)
        entry = Entry(message, start)
        if kind.payload is not None:
            if payloads:
                entry.extra = kind.payload.read(reader, message)
            else:
                entry.extra_size = kind.payload.size(reader, message)
        image.entries.append(entry)
        message_cls = kind.entry_class()
    return image


def _decode_ghost(reader: Reader, payloads: bool) -> list[Entry]:
    """ghost-file-N.img: a GhostFileEntry, then either the whole file content or chunks.

    A chunked ghost (sparse files) has GhostChunkEntry entries, each followed by ``len`` bytes.
    """
    where = reader.where
    start = reader.offset
    size = reader.entry_size()
    ghost = message_class("ghost_file:GhostFileEntry")()
    parse_entry(ghost, reader.take(size, "entry"), where, start)
    first = Entry(ghost, start)
    if not ghost.chunks:
        content = reader.take(reader.remaining, "ghost file content")
        if payloads:
            first.extra = content
        return [first]
    entries = [first]
    while not reader.at_end():
        start = reader.offset
        _check_count(len(entries), where, start)
        size = reader.entry_size()
        chunk = message_class(GHOST_CHUNK)()
        parse_entry(chunk, reader.take(size, "entry"), where, start)
        entry = Entry(chunk, start)
        if payloads:
            entry.extra = reader.take(chunk.len, "ghost file chunk")
        else:
            reader.skip(chunk.len, "ghost file chunk")
        entries.append(entry)
    return entries


def _check_count(count: int, where: str, offset: int) -> None:
    """Refuse to decode more than ENTRY_LIMIT entries of one image: each takes hundreds of bytes
    of memory decoded, whatever few bytes it took in the image."""
    if count >= ENTRY_LIMIT:
        raise ImageError(f"more than {ENTRY_LIMIT} entries, the limit for one image; not decoded", where=where,
                         offset=offset)  # fmt: skip


def count_entries(data: bytes | memoryview, where: str) -> tuple[str, int]:
    """The magic name and the number of top-level entries, as ``crit info`` reports them.

    Plain images are counted by their size fields alone; images with payloads are walked
    entry by entry (crit reads their payload bytes as sizes and miscounts).  The pagemap head
    is not counted, like crit.
    """
    header = read_header(data, where)
    kind = KINDS.get(header.name)
    if kind is not None and (kind.payload is not None or kind.ghost):
        return header.name, len(decode_image(data, where, payloads=False).entries)
    reader = Reader(data, where, header.body_offset)
    count = 0
    while not reader.at_end():
        reader.skip(reader.entry_size(), "entry")
        count += 1
    if header.name == "PAGEMAP":
        count = max(count - 1, 0)
    return header.name, count


def encode_image(image: Image) -> bytes:
    """The bytes of ``image``: magic(s), then each entry framed, followed by its payload."""
    kind = image.kind
    out = bytearray(frame_header(kind.name, MAGIC_BY_NAME[kind.name]))
    for index, entry in enumerate(image.entries):
        try:
            payload = entry.message.SerializeToString()
        except EncodeError as exc:
            raise ImageError(f"cannot encode entry {index} ({exc})", where=image.where) from None
        for placeholder, raw in entry.raw_strings.items():
            if payload.count(placeholder) != 1:
                raise ImageError(f"entry {index}: cannot place a non-UTF-8 string", where=image.where)
            payload = payload.replace(placeholder, raw)
        out += frame_entry(payload)
        if entry.extra is None:
            continue
        if kind.ghost:
            out += entry.extra
        elif kind.payload is not None:
            out += kind.payload.write(entry.extra, entry.message)
        else:
            raise ImageError(f"{kind.name} entries carry no payload", where=image.where)
    return bytes(out)
