"""Getting image bytes from wherever they are: a checkpoint (archive or directory) or a lone file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from checkforensics.archive import Checkpoint, MemberInfo
from checkforensics.archive.members import is_pages_image
from checkforensics.errors import ArchiveError, ImageError, InputError
from checkforensics.images.codec import Image, decode_image
from checkforensics.images.framing import read_header
from checkforensics.images.magic import kind_by_file_name
from checkforensics.images.registry import KINDS

# No protobuf image comes near this; pages-*.img can, but they are raw and never loaded whole.
IMAGE_SIZE_LIMIT = 1 << 30
# An image of protobuf entries alone (no raw payload: mm, pagemap, pstree, files...) decodes to
# 8 to 60 times its size in memory; real ones are a few MiB at most.
MESSAGES_SIZE_LIMIT = 32 << 20
_READ_WHOLE = 64 << 20  # smaller images are read in one go; bigger ones have their magic checked first


def text(value: str | bytes) -> str:
    """A protobuf string field as text, also when the dumped process put bytes that are not
    UTF-8 there (protobuf then hands out ``bytes``): those bytes become ``\\xNN`` escapes."""
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value


def resolve_image_member(checkpoint: Checkpoint, name: str) -> str:
    """The archive member that ``name`` means: an image name (``pstree.img``), or a member path.

    ``stats-dump`` sits beside ``checkpoint/`` in container archives and among the images in a
    bare directory; both forms are found.
    """
    clean = name.strip("/")
    for candidate in (checkpoint.images_prefix + clean, clean):
        info = checkpoint.member(candidate)
        if info is not None and info.kind == "file":
            return candidate
    raise checkpoint.not_found(f"no image {name!r} in this checkpoint")


def load_image(checkpoint: Checkpoint, name: str, *, payloads: bool = True) -> Image:
    """Decode image ``name`` of ``checkpoint`` (see resolve_image_member for the name forms)."""
    member = resolve_image_member(checkpoint, name)
    where = f"{checkpoint.path.name}:{member}"
    return decode_image(read_image_member(checkpoint, member, where), where, payloads=payloads)


def read_image_member(checkpoint: Checkpoint, member: str, where: str) -> bytes:
    """The bytes of image ``member``, opened once: the magic is checked before the rest is read,
    so raw data such as a multi-gigabyte ``pages-1.img`` is refused at once."""
    info = checkpoint.member(member)
    if info is not None and info.size <= _READ_WHOLE:  # one read, which the archive may keep for hashing
        data = checkpoint.read(member, limit=IMAGE_SIZE_LIMIT)
        _check_kind(member, read_header(data[:8], where).name, where)
        _check_size(len(data), where, data)
        return data
    with checkpoint.open_member(member) as stream:
        head = stream.read(8)
        name = read_header(head, where).name
        _check_kind(member, name, where)
        if info is not None and info.size > IMAGE_SIZE_LIMIT:
            raise ImageError(f"larger than {IMAGE_SIZE_LIMIT} bytes; not a CRIU protobuf image", where=where)
        if info is not None:
            _check_entries_size(name, info.size, where)
        data = head + stream.read(IMAGE_SIZE_LIMIT + 1 - len(head))
    _check_size(len(data), where, data)
    if checkpoint.kind != "directory" and info is not None and len(data) != info.size:
        raise ArchiveError(f"truncated: only {len(data)} of {info.size} bytes could be read", where=where)
    return data


def read_image_bytes(source: str | os.PathLike[str] | None, image: str | None, stdin: BinaryIO) -> tuple[bytes, str]:
    """The bytes of one image and the name to use for it in messages.

    ``source`` is an image file, or (with ``image``) a checkpoint archive or directory to take
    ``image`` from; ``None`` or ``-`` reads standard input.  The magic is checked before the
    rest is read, so raw data such as a multi-gigabyte ``pages-1.img`` is refused at once.
    """
    if source in (None, "-"):
        if image:
            raise InputError("an image name needs a checkpoint to take it from, not standard input")
        data = stdin.read(IMAGE_SIZE_LIMIT + 1)
        _check_size(len(data), "<stdin>", data)
        return data, "<stdin>"
    path = Path(source)
    if image is not None:
        clean = image.strip("/")

        def wanted(info: MemberInfo) -> bool:  # a big image is kept by the one pass (raw pages are refused)
            return not is_pages_image(info) and (info.name == clean or info.name.endswith("/" + clean))

        with Checkpoint.open(path, spool=wanted) as checkpoint:
            member = resolve_image_member(checkpoint, image)
            where = f"{path.name}:{member}"
            return read_image_member(checkpoint, member, where), where
    if path.is_dir():
        raise InputError("is a directory; name the image to read from it, e.g. pstree.img", where=str(path))
    if not path.exists():
        raise InputError("no such file", where=str(path))
    with path.open("rb") as stream:
        if _looks_like_archive(stream):
            raise InputError(
                "is a checkpoint archive; name the image to read from it, e.g. pstree.img", where=str(path)
            )
        _check_magic(stream, str(path))
        stream.seek(0)
        data = stream.read(IMAGE_SIZE_LIMIT + 1)
    _check_size(len(data), str(path), data)
    return data, str(path)


def _check_kind(member: str, found: str, where: str) -> None:
    """Refuse an image whose magic is not the one its file name says (a pstree.img holding a
    core image): every reader of it would take its entries for what they are not."""
    expected = kind_by_file_name(member)
    if expected is not None and found != expected:
        raise ImageError(
            f"holds a {found} image (so its magic says), not the {expected} image its name says; refused",
            where=where,
        )


def _check_magic(stream: BinaryIO, where: str) -> None:
    _check_magic_bytes(stream.read(8), where)


def _check_magic_bytes(head: bytes, where: str) -> None:
    read_header(head, where)


def _check_size(size: int, where: str, data: bytes | None = None) -> None:
    if size > IMAGE_SIZE_LIMIT:
        raise ImageError(f"larger than {IMAGE_SIZE_LIMIT} bytes; not a CRIU protobuf image", where=where)
    if data is not None and size > MESSAGES_SIZE_LIMIT:
        _check_entries_size(read_header(data[:8], where).name, size, where)


def _check_entries_size(name: str, size: int, where: str) -> None:
    """Refuse an image of protobuf entries alone bigger than MESSAGES_SIZE_LIMIT."""
    kind = KINDS.get(name)
    if size > MESSAGES_SIZE_LIMIT and kind is not None and kind.payload is None and not kind.ghost:
        raise ImageError(
            f"{size} bytes of {name} entries, more than the {MESSAGES_SIZE_LIMIT >> 20} MiB limit for an image "
            "without raw data; not decoded",
            where=where,
        )


_ARCHIVE_SIGNATURES = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ\x00", b"BZh")


def _looks_like_archive(stream: BinaryIO) -> bool:
    head = stream.read(512)
    stream.seek(0)
    return head.startswith(_ARCHIVE_SIGNATURES) or head[257:262] == b"ustar"
