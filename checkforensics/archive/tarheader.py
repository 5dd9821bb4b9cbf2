"""One tar header block: its fields, its checksum, pax records, and what kind of member it describes.

Pure functions over bytes; walking a whole stream of headers is ``tarscan``'s job.

References: POSIX.1-2017 ``pax`` (ustar and pax interchange formats); GNU tar manual, "Basic Tar
Format" (GNU long names, base-256 numbers, old sparse headers).
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 512  # a tar header or data block
ZERO_BLOCK = bytes(BLOCK)

# typeflag -> kind; "0", "\0" and "7" are regular files, "D" a GNU dump directory (with data)
_TYPEFLAG_KINDS = {b"1": "hardlink", b"2": "symlink", b"3": "device", b"4": "device", b"5": "dir", b"6": "fifo"}
_REGULAR_TYPEFLAGS = (b"0", b"\0", b"7")
_NO_DATA_TYPEFLAGS = frozenset(_TYPEFLAG_KINDS)  # links, devices, directories, FIFOs carry no data blocks
EXTENDED_TYPEFLAGS = (b"L", b"K", b"x", b"X", b"g")


class BadHeader(Exception):
    """A 512-byte block that is not a tar header (internal; turned into a warning or an error)."""


@dataclass(frozen=True)
class Header:
    name: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    typeflag: bytes
    linkname: bytes
    sparse_extended: bool


def cstring(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


def _number(field: bytes, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 when the top bit of the first byte is set."""
    if field and field[0] & 0x80:
        if field[0] == 0xFF:
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = cstring(field).strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise BadHeader(f"bad {what} field {field!r}") from None


def checksum_ok(block: bytes) -> bool:
    """The header checksum, computed over unsigned bytes (POSIX) or signed ones (old tars)."""
    try:
        stored = _number(block[148:156], "checksum")
    except BadHeader:
        return False
    unsigned = sum(block) - sum(block[148:156]) + 8 * 0x20
    signed = unsigned - 256 * sum(1 for byte in block[:148] + block[156:] if byte >= 0x80)
    return stored in (unsigned, signed)


def looks_like_tar_header(block: bytes) -> bool:
    """True for a ustar/GNU header block (``ustar`` at offset 257), or a v7 one with a valid checksum."""
    if len(block) < BLOCK or block[:BLOCK] == ZERO_BLOCK:
        return False
    return block[257:262] == b"ustar" or checksum_ok(block[:BLOCK])


def parse_header(block: bytes) -> Header:
    if not checksum_ok(block):
        raise BadHeader("bad header checksum")
    name = cstring(block[0:100])
    if block[257:263] == b"ustar\0":  # POSIX ustar; GNU's "ustar  \0" keeps other fields there
        prefix = cstring(block[345:500])
        if prefix:
            name = prefix + b"/" + name
    size = _number(block[124:136], "size")
    if size < 0:
        raise BadHeader(f"negative size {size}")
    return Header(
        name=name,
        mode=_number(block[100:108], "mode") & 0o7777,
        uid=_number(block[108:116], "uid"),
        gid=_number(block[116:124], "gid"),
        size=size,
        mtime=_number(block[136:148], "mtime"),
        typeflag=block[156:157],
        linkname=cstring(block[157:257]),
        sparse_extended=block[156:157] == b"S" and block[482] != 0,
    )


def parse_pax(data: bytes) -> dict[str, bytes]:
    """The records of a pax extended header: ``"%d %s=%s\\n"``, the length counting the whole record."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        end = pos + length
        if length <= space - pos or end > len(data) or data[end - 1] != 0x0A:
            raise BadHeader(f"malformed pax record at byte {pos}")
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if not sep:
            raise BadHeader(f"pax record without '=' at byte {pos}")
        records[key.decode("utf-8", "replace")] = value
        pos = end
    return records


def member_kind(header: Header) -> str:
    if header.typeflag in _REGULAR_TYPEFLAGS:
        return "dir" if header.typeflag == b"\0" and header.name.endswith(b"/") else "file"
    if header.typeflag == b"D":
        return "dir"
    return _TYPEFLAG_KINDS.get(header.typeflag, "other")


def data_length(header: Header, kind: str, size: int) -> int:
    """How many data bytes follow the header (tar extraction skips none for links, devices, dirs)."""
    if header.typeflag in _NO_DATA_TYPEFLAGS or (kind == "dir" and header.typeflag != b"D"):
        return 0
    return size
