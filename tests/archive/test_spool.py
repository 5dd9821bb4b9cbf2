"""The spool: big members a caller will read, copied out of a compressed archive's one pass.

Decompression is counted twice over: passes (``CompressedTar.stream``, each one a decompression
of the archive from its start) and bytes (``compressed.decompressing_reader``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from archive_samples import compress, file_member, images, tar_bytes, without_end, write
from readonly_guard import only_reads

from checkforensics.archive import Checkpoint, compressed, decompression, spool
from checkforensics.archive.members import MemberInfo, is_pages_image
from checkforensics.archive.tarscan import both_taps

KINDS = ["tar.gz", "tar.zst", "tar.xz", "tar.bz2"]
PAGES = {f"checkpoint/pages-{n}.img": os.urandom(300_000 + n * 4096) for n in (1, 2, 3)}


class Passes:
    """Counts the passes over compressed archives and the bytes they decompress."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.passes = 0
        self.pulled = 0
        stream, opener = compressed.CompressedTar.stream, compressed.decompressing_reader
        counter = self

        def counting_stream(archive: compressed.CompressedTar, *args: object, **kwargs: object) -> object:
            counter.passes += 1
            return stream(archive, *args, **kwargs)

        def counting_opener(raw: object, kind: str) -> object:
            inner = opener(raw, kind)  # type: ignore[arg-type]

            class Counted:
                def read(self, size: int = -1) -> bytes:
                    data = inner.read(size)
                    counter.pulled += len(data)
                    return data

                def readinto(self, view: memoryview) -> int:
                    got = inner.readinto(view)  # type: ignore[attr-defined]
                    counter.pulled += got
                    return got

                def close(self) -> None:
                    inner.close()

            return Counted()

        monkeypatch.setattr(compressed.CompressedTar, "stream", counting_stream)
        monkeypatch.setattr(compressed, "decompressing_reader", counting_opener)


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Spools go here, whatever room the machine's disk has; pages images count as big."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setenv("CHECKFORENSICS_TMPDIR", str(folder))
    monkeypatch.setattr(spool, "SPOOL_MARGIN", 0)
    monkeypatch.setattr(spool, "SPOOL_MARGIN_SHARE", 0.0)
    monkeypatch.setattr(compressed, "SMALL_PAGES_LIMIT", 0)
    return folder


def _archive(tmp_path: Path, kind: str, end: bool = True) -> Path:
    data = tar_bytes(images(*(file_member(name, content) for name, content in PAGES.items())))
    return write(tmp_path, f"pages.{kind}", compress(data if end else without_end(data), kind))


@pytest.mark.parametrize("kind", KINDS)
def test_spooled_members_are_read_without_a_second_pass(
    kind: str, tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path, kind)
    counter = Passes(monkeypatch)
    with Checkpoint.open(path, spool=is_pages_image) as checkpoint:
        assert counter.passes == 1
        assert os.listdir(spool_dir) == []  # the spool has no name, even while it is in use
        pulled = counter.pulled
        for name, content in reversed(PAGES.items()):  # backwards: a stream would start over each time
            assert checkpoint.read(name) == content
            with checkpoint.open_member(name) as stream:
                stream.seek(200_000)
                assert stream.read() == content[200_000:]
            read_at, size = checkpoint.page_reader(name)
            assert size == len(content) and read_at(size - 10, 100) == content[-10:] and read_at(size, 1) == b""
            placed = checkpoint.member_file(name)
            assert placed is not None and os.pread(placed[0], 64, placed[1]) == content[:64]
        assert checkpoint.read_image("pstree.img")  # kept in memory, as ever
        assert (counter.passes, counter.pulled) == (1, pulled)
    assert os.listdir(spool_dir) == []


def test_without_spool_a_big_member_is_decompressed_again(
    tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counter itself: the same reads with no spool asked for take more passes."""
    path = _archive(tmp_path, "tar.zst")
    counter = Passes(monkeypatch)
    with only_reads(monkeypatch, spool_dir), Checkpoint.open(path) as checkpoint:  # a command reading no memory
        for name, content in reversed(PAGES.items()):
            assert checkpoint.read(name) == content
        assert checkpoint.member_file("checkpoint/pages-1.img") is None
    assert counter.passes == 4


def test_only_the_members_asked_for_are_spooled(tmp_path: Path, spool_dir: Path) -> None:
    path = _archive(tmp_path, "tar.gz")
    with Checkpoint.open(path, spool=lambda info: info.name.endswith("pages-2.img")) as checkpoint:
        assert checkpoint.member_file("checkpoint/pages-2.img") is not None
        assert checkpoint.member_file("checkpoint/pages-1.img") is None
        assert checkpoint.read("checkpoint/pages-1.img") == PAGES["checkpoint/pages-1.img"]
        placed = checkpoint.member_file("checkpoint/pages-2.img")
        assert placed is not None and os.fstat(placed[0]).st_size == len(PAGES["checkpoint/pages-2.img"])


def test_plain_tars_and_directories_are_never_spooled(tmp_path: Path, spool_dir: Path) -> None:
    path = write(tmp_path, "pages.tar", tar_bytes(images(*(file_member(n, c) for n, c in PAGES.items()))))
    with Checkpoint.open(path, spool=is_pages_image) as checkpoint:
        assert checkpoint.member_file("checkpoint/pages-1.img") is None
        assert checkpoint.member_range("checkpoint/pages-1.img") is not None  # mapped where it lies


def test_no_room_left_in_the_temporary_directory_means_no_spool(
    tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool, "SPOOL_MARGIN", 1 << 62)  # more than any disk holds
    spool.notes.clear()
    path = _archive(tmp_path, "tar.zst")
    counter = Passes(monkeypatch)
    with Checkpoint.open(path, spool=is_pages_image) as checkpoint:
        assert checkpoint.member_file("checkpoint/pages-1.img") is None
        assert checkpoint.read("checkpoint/pages-3.img") == PAGES["checkpoint/pages-3.img"]
    assert counter.passes == 2  # read as without a spool
    assert len(spool.notes) == 1 and "no spool" in spool.notes[0] and str(spool_dir) in spool.notes[0]


def test_a_member_that_would_pass_the_room_left_is_not_spooled(
    tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room is the free space seen before the first spooled byte, less the margin, counted
    down as members are written: the spool never eats into the margin."""
    first, second = (len(PAGES[f"checkpoint/pages-{n}.img"]) for n in (1, 2))
    disk = 100 << 30
    margin = disk // 20  # the share (5%) is more than SPOOL_MARGIN (1 GiB) on this disk
    free = margin + first + second // 2  # room for the first pages image, not the second
    monkeypatch.setattr(spool, "SPOOL_MARGIN", 1 << 30)
    monkeypatch.setattr(spool, "SPOOL_MARGIN_SHARE", 0.05)
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_bavail=free, f_frsize=1, f_blocks=disk))
    spool.notes.clear()
    with Checkpoint.open(_archive(tmp_path, "tar.gz"), spool=is_pages_image) as checkpoint:
        assert checkpoint.member_file("checkpoint/pages-1.img") is not None
        assert checkpoint.member_file("checkpoint/pages-2.img") is None
        assert checkpoint.member_file("checkpoint/pages-3.img") is None
        assert checkpoint.read("checkpoint/pages-2.img") == PAGES["checkpoint/pages-2.img"]
    assert any("pages-2.img" in note and "not spooled" in note for note in spool.notes)


def test_a_full_disk_while_spooling_falls_back_to_decompressing_again(
    tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = []

    def filling(fd: int, data: memoryview, offset: int) -> int:
        if sum(written) + len(data) > 400_000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(os.pwrite(fd, data, offset))
        return written[-1]

    monkeypatch.setattr(spool, "_write", filling)
    spool.notes.clear()
    path = _archive(tmp_path, "tar.zst")
    with Checkpoint.open(path, spool=is_pages_image) as checkpoint:
        assert checkpoint.member_file("checkpoint/pages-1.img") is not None
        assert checkpoint.member_file("checkpoint/pages-2.img") is None  # the disk filled inside it
        assert checkpoint.member_file("checkpoint/pages-3.img") is None  # and no more is tried
        placed = checkpoint.member_file("checkpoint/pages-1.img")
        assert placed is not None and os.fstat(placed[0]).st_size == len(PAGES["checkpoint/pages-1.img"])
        for name, content in PAGES.items():
            assert checkpoint.read(name) == content
    assert any("No space left on device" in note for note in spool.notes)


def test_a_truncated_member_is_not_spooled(tmp_path: Path, spool_dir: Path) -> None:
    data = tar_bytes(images(*(file_member(name, content) for name, content in PAGES.items())))
    cut = data[: data.index(PAGES["checkpoint/pages-3.img"][:64]) + 1000]
    path = write(tmp_path, "cut.tar.zst", compress(cut, "tar.zst"))
    with Checkpoint.open(path, spool=is_pages_image) as checkpoint:
        assert checkpoint.member_file("checkpoint/pages-2.img") is not None
        placed = checkpoint.member_file("checkpoint/pages-2.img")
        assert placed is not None
        # the cut member's 1000 bytes were dropped from the spool's end
        assert os.fstat(placed[0]).st_size == placed[1] + len(PAGES["checkpoint/pages-2.img"])
        assert any("truncated" in warning for warning in checkpoint.warnings)


def test_a_decompression_bomb_never_reaches_the_spool(
    tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool holds only what the listing pass decompressed, and the expansion limit stops that
    pass at the header of a member declaring more than is left: nothing of it is written."""
    bomb = bytes(64 << 20)  # 64 MiB of zeros: 64 KiB as zstd
    data = tar_bytes(images(file_member("checkpoint/pages-1.img", bomb)))
    path = write(tmp_path, "bomb.tar.zst", compress(data, "tar.zst"))
    decompression.allow_expansion(32 << 20)
    try:
        with Checkpoint.open(path, spool=is_pages_image) as checkpoint:
            assert checkpoint.member("checkpoint/pages-1.img") is None
            assert any("listing stopped" in warning for warning in checkpoint.warnings)
            backend = checkpoint._backend
            assert isinstance(backend, compressed.CompressedTar) and backend.spool is not None
            assert backend.spool.size == 0 and backend.spool._file is None  # not even created
    finally:
        decompression.allow_expansion(None)


def test_a_tap_and_the_spool_both_read_a_member(tmp_path: Path, spool_dir: Path) -> None:
    seen: dict[str, bytearray] = {}

    class Collect:
        def __init__(self, name: str) -> None:
            self.data = seen.setdefault(name, bytearray())

        def feed(self, buffer: bytearray, size: int) -> bool:
            self.data += buffer[:size]
            return len(self.data) < 100_000  # enough: the spool still gets the whole member

        def end(self, complete: bool) -> None:
            pass

    def tap(info: MemberInfo) -> Collect | None:
        return Collect(info.name) if is_pages_image(info) else None

    with Checkpoint.open(_archive(tmp_path, "tar.gz"), tap=tap, spool=is_pages_image) as checkpoint:
        for name, content in PAGES.items():
            assert content.startswith(bytes(seen[name])) and len(seen[name]) >= 100_000
            assert checkpoint.member_file(name) is not None and checkpoint.read(name) == content
    assert both_taps(None, tap) is tap and both_taps(tap, None) is tap and both_taps(None, None) is None


def test_a_temporary_directory_that_cannot_be_written_means_no_spool(
    tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECKFORENSICS_TMPDIR", str(tmp_path / "missing"))
    spool.notes.clear()
    with Checkpoint.open(_archive(tmp_path, "tar.gz"), spool=is_pages_image) as checkpoint:
        assert checkpoint.member_file("checkpoint/pages-1.img") is None
        assert checkpoint.read("checkpoint/pages-1.img") == PAGES["checkpoint/pages-1.img"]
    assert len(spool.notes) == 1 and "no spool in" in spool.notes[0] and "missing" in spool.notes[0]


def test_a_disk_that_cannot_reserve_a_member_s_room_means_no_spool_from_there(
    tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reserved = []

    def reserve(fd: int, offset: int, size: int) -> None:
        if reserved:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        reserved.append(size)

    monkeypatch.setattr(os, "posix_fallocate", reserve)
    spool.notes.clear()
    with Checkpoint.open(_archive(tmp_path, "tar.zst"), spool=is_pages_image) as checkpoint:
        assert [checkpoint.member_file(name) is not None for name in PAGES] == [True, False, False]
        assert all(checkpoint.read(name) == content for name, content in PAGES.items())
    assert any("No space left on device" in note for note in spool.notes)


def test_where_the_spool_goes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CHECKFORENSICS_TMPDIR", raising=False)
    monkeypatch.delenv("TMPDIR", raising=False)
    assert spool.spool_directory() == "/tmp"  # never the working directory, Python's last resort
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    assert spool.spool_directory() == str(tmp_path / "t")
    monkeypatch.setenv("CHECKFORENSICS_TMPDIR", str(tmp_path / "c"))
    assert spool.spool_directory() == str(tmp_path / "c")
    spool.use_directory(str(tmp_path / "option"))
    try:
        assert spool.spool_directory() == str(tmp_path / "option")
    finally:
        spool.use_directory(None)
