"""Framing edge cases that real dumps rarely show: built here with our own encoder."""

from __future__ import annotations

import struct

import pytest

from checkforensics.errors import ImageError, UnknownMagicError, UnsupportedError
from checkforensics.images.codec import count_entries, decode_image, encode_image
from checkforensics.images.crit_json import dict_to_image, human_size
from checkforensics.images.framing import read_header
from checkforensics.images.magic import IMG_COMMON, IMG_SERVICE, MAGIC_BY_NAME, NAME_BY_MAGIC


def make_image(magic: str, entries: list[dict]) -> bytes:
    """An image of kind ``magic`` holding ``entries`` (crit's JSON form)."""
    return encode_image(dict_to_image({"magic": magic, "entries": entries}))


PSTREE = [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}, {"pid": 7, "ppid": 1, "pgid": 1, "sid": 1}]


def test_magic_table_is_one_to_one() -> None:
    assert len(NAME_BY_MAGIC) == len(MAGIC_BY_NAME)
    assert NAME_BY_MAGIC[0x50273030] == "PSTREE"


def test_common_and_service_leading_magics() -> None:
    pstree = make_image("PSTREE", PSTREE)
    assert struct.unpack("<II", pstree[:8]) == (IMG_COMMON, MAGIC_BY_NAME["PSTREE"])
    stats = make_image(
        "STATS",
        [
            {
                "dump": {
                    "freezing_time": 1,
                    "frozen_time": 2,
                    "memdump_time": 3,
                    "memwrite_time": 4,
                    "pages_scanned": 5,
                    "pages_skipped_parent": 0,
                    "pages_written": 6,
                    "pages_lazy": 0,
                }
            }
        ],
    )
    assert struct.unpack("<II", stats[:8]) == (IMG_SERVICE, MAGIC_BY_NAME["STATS"])
    inventory = make_image("INVENTORY", [{"img_version": 2}])
    assert struct.unpack("<I", inventory[:4])[0] == MAGIC_BY_NAME["INVENTORY"]
    assert read_header(inventory, "inventory.img").leading is None


def test_round_trip_of_synthetic_pstree() -> None:
    data = make_image("PSTREE", PSTREE)
    image = decode_image(data, "pstree.img")
    assert [entry.message.pid for entry in image.entries] == [1, 7]
    assert [entry.offset for entry in image.entries] == [8, 8 + 4 + len(image.entries[0].message.SerializeToString())]
    assert encode_image(image) == data
    assert count_entries(data, "pstree.img") == ("PSTREE", 2)


def test_unknown_magic_names_image_and_offset() -> None:
    with pytest.raises(UnknownMagicError) as caught:
        decode_image(b"\x00" * 4096, "checkpoint/pages-1.img")
    assert str(caught.value).startswith("checkpoint/pages-1.img: unknown image magic 0x00000000")
    assert "at offset 0x0" in str(caught.value)
    assert isinstance(caught.value, UnsupportedError)


def test_unknown_second_magic_reports_its_offset() -> None:
    with pytest.raises(UnknownMagicError) as caught:
        decode_image(struct.pack("<II", IMG_COMMON, 0x12345678), "x.img")
    assert caught.value.offset == 4


@pytest.mark.parametrize("size", [0x7FFFFFFF, -1, 1000])
def test_entry_size_beyond_the_image(size: int) -> None:
    data = make_image("PSTREE", PSTREE)
    broken = data[:8] + struct.pack("<i", size) + data[12:]
    with pytest.raises(ImageError) as caught:
        decode_image(broken, "pstree.img")
    assert "entry size" in str(caught.value)
    assert caught.value.offset == 8


def test_truncated_in_the_middle_of_an_entry() -> None:
    data = make_image("PSTREE", PSTREE)
    with pytest.raises(ImageError) as caught:
        decode_image(data[:-2], "pstree.img")
    assert caught.value.where == "pstree.img"


def test_truncated_size_field() -> None:
    data = make_image("PSTREE", PSTREE)
    with pytest.raises(ImageError, match="truncated entry size"):
        decode_image(data + b"\x01\x00", "pstree.img")


def test_garbage_protobuf_is_an_image_error() -> None:
    garbage = b"\xff\xff\xff\xff\xff"
    data = struct.pack("<II", IMG_COMMON, MAGIC_BY_NAME["PSTREE"]) + struct.pack("<i", len(garbage)) + garbage
    with pytest.raises(ImageError, match="cannot decode PstreeEntry entry") as caught:
        decode_image(data, "pstree.img")
    assert caught.value.offset == 8


def test_too_short_for_a_magic() -> None:
    with pytest.raises(ImageError, match="too short"):
        decode_image(b"\x01", "x.img")
    with pytest.raises(ImageError, match="after its leading magic"):
        decode_image(struct.pack("<I", IMG_COMMON), "x.img")


def test_pipe_payload_longer_than_the_image() -> None:
    data = make_image("PIPES_DATA", [{"pipe_id": 5, "bytes": 4, "extra": "YWJjZA==\n"}])
    image = decode_image(data, "pipes-data.img")
    assert image.entries[0].extra == b"abcd"
    with pytest.raises(ImageError, match="truncated pipe buffer"):
        decode_image(data[:-1], "pipes-data.img")


def test_tcp_queues_and_nopl_sizes() -> None:
    data = make_image(
        "TCP_STREAM",
        [
            {
                "inq_len": 3,
                "inq_seq": 1,
                "outq_len": 2,
                "outq_seq": 2,
                "opt_mask": 0,
                "snd_wscale": 0,
                "mss_clamp": 0,
                "extra": {"inq": "YWJj\n", "outq": "ZGU=\n"},
            }
        ],
    )
    image = decode_image(data, "tcp-stream-1.img")
    assert (image.entries[0].extra.inq, image.entries[0].extra.outq) == (b"abc", b"de")
    assert decode_image(data, "tcp", payloads=False).entries[0].extra_size == 5


def test_ipc_sem_values_are_padded_to_eight_bytes() -> None:
    entry = {
        "desc": {"key": 1, "uid": 0, "gid": 0, "cuid": 0, "cgid": 0, "mode": 0o600, "id": 3},
        "nsems": 3,
        "extra": [1, 2, 65535],
    }
    data = make_image("IPCNS_SEM", [entry])
    image = decode_image(data, "ipcns-sem.img")
    header_and_entry = 8 + 4 + len(image.entries[0].message.SerializeToString())
    assert len(data) == header_and_entry + 8  # three u16 values and two bytes of padding
    assert image.entries[0].extra == [1, 2, 65535]
    assert encode_image(image) == data


def test_unsupported_image_kind() -> None:
    data = struct.pack("<II", IMG_COMMON, MAGIC_BY_NAME["KDAT"])
    with pytest.raises(UnsupportedError, match="no decoder for KDAT"):
        decode_image(data, "kdat.img")


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0B"), (29, "29B"), (1024, "1KB"), (1536, "1.5KB"), (65536, "64KB"), (3 << 20, "3MB")]
)
def test_human_size_is_crits(size: int, text: str) -> None:
    assert human_size(size) == text


def test_shm_kept_in_pagemaps_has_no_payload() -> None:
    # crit reads `size` bytes after such an entry anyway and swallows the next entries with them.
    desc = {"key": 0, "uid": 0, "gid": 0, "cuid": 0, "cgid": 0, "mode": 0o600, "id": 0}
    entries = [
        {"desc": desc, "size": 8192, "in_pagemaps": True},
        {"desc": {**desc, "id": 1}, "size": 4096, "in_pagemaps": True},
    ]
    data = make_image("IPCNS_SHM", entries)
    image = decode_image(data, "ipcns-shm-11.img")
    assert [e.message.desc.id for e in image.entries] == [0, 1]
    assert encode_image(image) == data


def test_string_field_with_invalid_utf8_is_shown_as_crit_shows_it_and_encodes_back() -> None:
    from checkforensics.images.codec import encode_image
    from checkforensics.images.crit_json import dict_to_image, image_to_dict

    # protobuf refuses to set invalid UTF-8 from Python; a dump can hold it, so craft the bytes
    raw = b"\x0a\x05bad\xff\xfe\x12\x01x"
    data = struct.pack("<II", IMG_COMMON, MAGIC_BY_NAME["UTSNS"]) + struct.pack("<i", len(raw)) + raw
    document = image_to_dict(decode_image(data, "utsns.img"))
    assert document["entries"][0]["nodename"] == "b'bad\\xff\\xfe'"  # Python's bytes repr, as crit prints it
    assert encode_image(dict_to_image(document)) == data
    # text that only looks like a bytes literal stays text
    document["entries"][0]["nodename"] = "b'fine'"
    assert encode_image(dict_to_image(document)).endswith(b"\x0a\x07b'fine'\x12\x01x")
