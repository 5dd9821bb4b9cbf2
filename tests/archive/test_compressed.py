"""Compressed archives: what is decompressed and when, corrupt data, and decompression bombs.

Every decompressed byte is counted through ``compressed.decompressing_reader``, so a test can say
that a metadata question never touches the pages.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sys
from pathlib import Path

import pytest
from archive_samples import (
    COUNTERS_ZST,
    PSTREE,
    compress,
    file_member,
    images,
    tar_bytes,
    with_big_member,
    without_end,
    write,
)
from readonly_guard import only_reads

from checkforensics.archive import Checkpoint, compressed, decompression
from checkforensics.errors import ArchiveError

from conftest import truth


class CountingDecompressor:
    """Wraps ``compressed.decompressing_reader`` and counts every decompressed byte handed out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pulled = 0
        real = compressed.decompressing_reader

        def counting(raw: object, kind: str) -> object:
            stream = real(raw, kind)  # type: ignore[arg-type]
            counter = self

            class Counted:
                def read(self, size: int = -1) -> bytes:
                    data = stream.read(size)
                    counter.pulled += len(data)
                    return data

                def readinto(self, view: memoryview) -> int:
                    got = stream.readinto(view)
                    counter.pulled += got
                    return got

            return Counted()

        monkeypatch.setattr(compressed, "decompressing_reader", counting)


def test_reading_metadata_from_a_compressed_archive_decompresses_no_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecompressor(monkeypatch)
    with Checkpoint.open(COUNTERS_ZST) as checkpoint:
        # The one pass, at open: the whole stream, to its end (an end cut off is said; tests/test_truncated.py).
        assert counter.pulled == truth("counters-blog")["archive_size"]
        counter.pulled = 0
        assert json.loads(checkpoint.read("config.dump"))["name"] == "counters"
        checkpoint.read_image("pstree.img")
        checkpoint.read("stats-dump")
        assert [m.size for m in checkpoint.members() if m.name.endswith("pages-2.img")] == [9093120]
        assert counter.pulled == 0  # served from what the pass kept; no page was kept
        pages = checkpoint.read_image("pages-2.img")
        assert len(pages) == 9093120
        assert counter.pulled >= 9093120  # pages are streamed again on demand, never kept


def test_open_member_streams_a_compressed_pages_image(monkeypatch: pytest.MonkeyPatch) -> None:
    with Checkpoint.open(COUNTERS_ZST) as checkpoint:
        whole = checkpoint.read_image("pages-2.img")
        counter = CountingDecompressor(monkeypatch)
        with checkpoint.open_image("pages-2.img") as stream:
            assert stream.readable() and stream.seekable()
            chunks = []
            while chunk := stream.read(1 << 16):
                chunks.append(chunk)
            assert b"".join(chunks) == whole
            stream.seek(4096)
            assert stream.read(100) == whole[4096:4196]
        offset = checkpoint.member("checkpoint/pages-2.img")
        assert offset is not None
        read_at, size = checkpoint.page_reader("checkpoint/pages-2.img")
        assert size == len(whole)
        assert read_at(8192, 64) == whole[8192 : 8192 + 64]
        assert read_at(size - 10, 100) == whole[-10:]
        assert read_at(0, 16) == whole[:16]  # backwards: starts over
    # Decompressed: the archive up to the member's end, three times; never the whole archive.
    assert counter.pulled < 4 * truth("counters-blog")["archive_size"]


@pytest.mark.parametrize("kind", ["tar.zst", "tar.gz", "tar.xz", "tar.bz2"])
def test_members_read_in_order_cost_one_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    """A member read after another further on continues the same stream (pages-1, pages-2, ...
    of a multi-process checkpoint), and any order still gives every member's exact bytes."""
    pages = {f"checkpoint/pages-{n}.img": os.urandom(200_000 + n) for n in range(1, 5)}
    data = tar_bytes(images(*(file_member(name, content) for name, content in pages.items())))
    path = write(tmp_path, f"four.{kind}", compress(data, kind))
    with Checkpoint.open(path) as checkpoint:
        counter = CountingDecompressor(monkeypatch)
        for name, content in pages.items():
            with checkpoint.open_member(name) as stream:
                assert stream.read() == content
        assert counter.pulled <= len(data)  # one pass at most, not one per member
        for name in reversed(list(pages)):  # backwards: each starts over, and is still right
            with checkpoint.open_member(name) as stream:
                assert stream.read(1000) == pages[name][:1000]
                stream.seek(150_000)
                assert stream.read() == pages[name][150_000:]


@pytest.mark.parametrize("inflate", ["isal", "zlib"])
def test_corrupt_compressed_data_midway(inflate: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Everything before the damage is read, with ISA-L (which gives nothing of a damaged block:
    the stream is read again through zlib) as with zlib."""
    if inflate == "isal":
        pytest.importorskip("isal")
    else:
        monkeypatch.setitem(sys.modules, "isal", None)  # as if the fast extra were not installed
    data, _ = with_big_member("tar.gz")
    packed = bytearray(gzip.compress(data, compresslevel=1))
    packed[len(packed) // 2 : len(packed) // 2 + 64] = random.Random(64).randbytes(64)  # the same damage every run
    path = write(tmp_path, "corrupt.tgz", bytes(packed))
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(path) as checkpoint:
        assert checkpoint.read_image("pstree.img") == PSTREE
        assert any(w.startswith("gzip data ends or breaks after") for w in checkpoint.warnings)
        with pytest.raises(ArchiveError, match="truncated"):
            checkpoint.read_image("pages-1.img")


def test_an_absurd_member_size_in_a_compressed_archive_ends_the_listing_at_its_header(tmp_path: Path) -> None:
    block = bytearray(tar_bytes([file_member("checkpoint/pages-1.img", b"")])[:512])
    block[124:136] = b"\x80" + (1 << 62).to_bytes(11, "big")  # GNU base-256: 4 EiB
    block[148:156] = b" " * 8
    block[148:155] = b"%06o\0" % sum(block)
    data = without_end(tar_bytes(images())) + bytes(block)
    path = write(tmp_path, "bomb.tar.zst", compress(data, "tar.zst"))
    with Checkpoint.open(path) as checkpoint:
        assert checkpoint.read_image("pstree.img") == PSTREE  # what came before is all there
        assert checkpoint.member("checkpoint/pages-1.img") is None
        assert any(
            w.startswith("listing stopped at member 'checkpoint/pages-1.img' (4611686018427387904 bytes): reading on "
                         "would pass the decompression limit of 1073741824 bytes (64 times the compressed size")
            for w in checkpoint.warnings
        )  # fmt: skip
    # In a plain tar the same header is simply a member cut short.
    plain = write(tmp_path, "bomb.tar", data)
    with Checkpoint.open(plain) as checkpoint:
        assert checkpoint.member("checkpoint/pages-1.img").truncated  # type: ignore[union-attr]


def test_expansion_is_capped_relative_to_the_compressed_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(decompression, "MIN_EXPANSION_BUDGET", 1 << 20)
    members = images(*(file_member(f"zeros-{n}", bytes(256 << 10)) for n in range(8)))
    path = write(tmp_path, "zeros.tar.xz", compress(tar_bytes(members), "tar.xz"))
    assert path.stat().st_size * decompression.MAX_EXPANSION_RATIO < 1 << 20  # so the floor is the budget
    counter = CountingDecompressor(monkeypatch)
    with Checkpoint.open(path) as checkpoint:
        assert counter.pulled <= 1 << 20
        listed = [info.name for info in checkpoint.members() if info.name.startswith("zeros-")]
        assert listed == ["zeros-0", "zeros-1", "zeros-2"]  # the fourth would end past 1 MiB
        assert checkpoint.read("zeros-2") == bytes(256 << 10)
        assert "listing stopped at member 'zeros-3' (262144 bytes): reading on would pass the decompression " \
            "limit of 1048576 bytes" in " ".join(checkpoint.warnings)  # fmt: skip
    # --max-expansion lifts it
    decompression.allow_expansion(1 << 30)
    try:
        with Checkpoint.open(path) as checkpoint:
            assert len([info for info in checkpoint.members() if info.name.startswith("zeros-")]) == 8
    finally:
        decompression.allow_expansion(None)


def test_a_long_name_past_the_limit_ends_the_listing_at_its_header(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = without_end(tar_bytes(images()))
    monkeypatch.setattr(decompression, "MIN_EXPANSION_BUDGET", len(head) + 512)  # the long name's header, not its data
    monkeypatch.setattr(decompression, "MAX_EXPANSION_RATIO", 1)
    data = head + tar_bytes([file_member("x" * 300, b"after")])
    with Checkpoint.open(write(tmp_path, "long.tar.gz", compress(data, "tar.gz"))) as checkpoint:
        assert checkpoint.read_image("pstree.img") == PSTREE
        assert checkpoint.member("x" * 300) is None
        assert any(w.startswith(f"listing stopped at offset {len(head):#x}: reading on") for w in checkpoint.warnings)


def test_small_members_are_kept_within_the_cache_budget(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    members = images(file_member("big-1", b"a" * 60), file_member("big-2", b"b" * 60))
    monkeypatch.setattr(compressed, "CACHE_LIMIT", sum(len(data) for _, data in members) - 1)
    counter = CountingDecompressor(monkeypatch)
    with Checkpoint.open(write(tmp_path, "c.tar.gz", compress(tar_bytes(members), "tar.gz"))) as checkpoint:
        counter.pulled = 0
        assert checkpoint.read("big-1") == b"a" * 60
        assert counter.pulled == 0
        assert checkpoint.read("big-2") == b"b" * 60  # over budget: streamed again
        assert counter.pulled > 0


def test_small_pages_images_are_kept_big_ones_streamed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A shell's or a sidecar's pages come from memory; a big pages image is streamed again
    (and reading the small one behind it does not mean decompressing past the big one)."""
    big, small = os.urandom(compressed.SMALL_PAGES_LIMIT + 1), os.urandom(100_000)
    members = [file_member("checkpoint/pages-1.img", big), file_member("checkpoint/pages-2.img", small)]
    path = write(tmp_path, "pages.tar.zst", compress(tar_bytes(images(*members)), "tar.zst"))
    with Checkpoint.open(path) as checkpoint:
        counter = CountingDecompressor(monkeypatch)
        assert checkpoint.read_image("pages-2.img") == small
        assert counter.pulled == 0
        assert checkpoint.read_image("pages-1.img") == big
        assert counter.pulled >= len(big)


@pytest.mark.parametrize("kind", ["tar.zst", "tar.gz"])
def test_chunks_that_overlap_a_little_cost_one_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    """The secret rules read a pages image in chunks that step back a little (8 MiB forward, 64 KiB
    back): the bytes just read are kept, so that costs one pass, not one per chunk; a step back
    further than what is kept starts over, and every read gives the image's bytes."""
    content = os.urandom(3 << 20)
    data = tar_bytes(images(file_member("checkpoint/pages-1.img", content)))
    path = write(tmp_path, f"one.{kind}", compress(data, kind))
    monkeypatch.setattr(compressed, "SMALL_PAGES_LIMIT", 0)
    with Checkpoint.open(path) as checkpoint:
        read_at, size = checkpoint.page_reader("checkpoint/pages-1.img")
        counter = CountingDecompressor(monkeypatch)
        step, back = 300_000, 65_000
        position = 0
        while position < size:
            low = max(0, position - back)
            assert read_at(low, step + back) == content[low : low + step + back]
            position += step
        assert counter.pulled <= len(data)  # one pass
        assert read_at(100, 50) == content[100:150]  # megabytes back: starts over
        far = size - compressed.BEHIND - 10
        assert read_at(far, 20) == content[far : far + 20]
        assert counter.pulled > len(data)


def test_readers_of_members_in_archive_order_share_one_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each process's command line lies near the end of its pages image: reading them process
    after process continues one stream (a reader whose stream went on to the next member starts
    over if read again, and is still right)."""
    pages = {f"checkpoint/pages-{n}.img": os.urandom(2_000_000 + n) for n in range(1, 4)}
    data = tar_bytes(images(*(file_member(name, content) for name, content in pages.items())))
    path = write(tmp_path, "three.tar.zst", compress(data, "tar.zst"))
    monkeypatch.setattr(compressed, "SMALL_PAGES_LIMIT", 0)
    with Checkpoint.open(path) as checkpoint:
        readers = {name: checkpoint.page_reader(name)[0] for name in pages}
        counter = CountingDecompressor(monkeypatch)
        for name, content in pages.items():
            at = len(content) - 5000
            assert readers[name](at, 100) == content[at : at + 100]
            assert readers[name](at - 300, 100) == content[at - 300 : at - 200]  # a step back
        assert counter.pulled <= len(data)  # one pass for the three
        first, before = "checkpoint/pages-1.img", counter.pulled
        assert readers[first](10, 10) == pages[first][10:20]
        assert counter.pulled > before  # its stream went on: started over


@pytest.mark.parametrize("kind", ["tar.gz", "tar.zst", "tar.xz", "tar.bz2"])
def test_the_hash_made_in_the_pass_is_the_file_s(kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hashed as the listing pass reads the compressed bytes, and what the pass left unread
    (bytes after the compressed stream) after it: the file's SHA-256, the file read once."""
    import hashlib

    data, _ = with_big_member(kind)
    packed = compress(data, kind) + b"\0" * 5000  # padding after the stream, as some tools leave
    path = write(tmp_path, f"a.{kind}", packed)
    read = []
    real = os.pread

    def counted(fd: int, size: int, offset: int) -> bytes:
        read.append(len(got := real(fd, size, offset)))
        return got

    monkeypatch.setattr(os, "pread", counted)
    with Checkpoint.open(path, hash_in_pass=True) as checkpoint:
        assert checkpoint.sha256() == hashlib.sha256(packed).hexdigest()
        assert checkpoint.sha256() == hashlib.sha256(packed).hexdigest()  # made once
    assert sum(read) <= len(packed) + 512  # the head read to recognise it, and each byte once


def test_the_hash_made_in_the_pass_survives_a_salvaged_gzip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A damaged gzip read through ISA-L is read again from its start through zlib: the bytes read
    twice are hashed once."""
    import hashlib

    data, _ = with_big_member("tar.gz")
    packed = bytearray(gzip.compress(data, compresslevel=1))
    packed[len(packed) // 2 : len(packed) // 2 + 64] = random.Random(64).randbytes(64)
    path = write(tmp_path, "corrupt.tgz", bytes(packed))
    with Checkpoint.open(path, hash_in_pass=True) as checkpoint:
        assert checkpoint.sha256() == hashlib.sha256(packed).hexdigest()
