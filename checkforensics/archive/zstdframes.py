"""Whether a zstd file ends where its last frame ends.

zstandard's stream reader ends quietly where its input ends, also inside a frame: a ``.tar.zst``
cut in its last kilobytes (the tar's record padding, the frame's checksum) then decompresses
without an error, and would be taken for whole evidence. Its frames are walked here by their
headers alone (a block header every 128 KiB at most: no byte is decompressed), to say so.

References: RFC 8878, "Zstandard Compression and the 'application/zstd' Media Type", sections
3.1.1 (frames, their header, blocks, the content checksum) and 3.1.2 (skippable frames).
"""

from __future__ import annotations

import os

ZSTD_MAGIC = 0xFD2FB528
_SKIPPABLE = 0x184D2A50  # to 0x184D2A5F: magic, 4-byte size, that many bytes
_FCS_SIZES = (0, 2, 4, 8)  # Frame_Content_Size bytes by FCS_Field_Size (0: 1 byte with Single_Segment)
_DICT_ID_SIZES = (0, 1, 2, 4)


def zstd_cut(fd: int, size: int) -> str | None:
    """None when the zstd data in ``fd`` (``size`` bytes) ends where a frame ends; else where
    and how it is cut, in a few words."""
    offset = 0
    while offset < size:
        head = os.pread(fd, 4, offset)
        if len(head) < 4:
            return f"zstd data ends inside a frame's magic at byte {offset}"
        magic = int.from_bytes(head, "little")
        if magic & 0xFFFFFFF0 == _SKIPPABLE:
            length = os.pread(fd, 4, offset + 4)
            if len(length) < 4 or offset + 8 + int.from_bytes(length, "little") > size:
                return f"zstd data ends inside a skippable frame starting at byte {offset}"
            offset += 8 + int.from_bytes(length, "little")
            continue
        if magic != ZSTD_MAGIC:
            return None  # not a frame: the decompressor itself says what is wrong there
        end = _frame_end(fd, offset, size)
        if end is None:
            return f"zstd data ends inside its frame starting at byte {offset} (the file is {size} bytes)"
        offset = end
    return None


def _frame_end(fd: int, offset: int, size: int) -> int | None:
    """Where the frame at ``offset`` ends, or None when the file ends first."""
    descriptor = os.pread(fd, 1, offset + 4)
    if not descriptor:
        return None
    flags = descriptor[0]
    single_segment = bool(flags & 0x20)
    fcs = _FCS_SIZES[flags >> 6] or (1 if single_segment else 0)
    position = offset + 5 + (0 if single_segment else 1) + _DICT_ID_SIZES[flags & 0x03] + fcs
    while True:
        header = os.pread(fd, 3, position)
        if len(header) < 3:
            return None
        value = int.from_bytes(header, "little")
        block_type, block_size = (value >> 1) & 0x03, value >> 3
        position += 3 + (1 if block_type == 1 else block_size)  # an RLE block holds one byte
        if position > size:
            return None
        if value & 1:  # Last_Block
            break
    position += 4 if flags & 0x04 else 0  # Content_Checksum
    return position if position <= size else None
