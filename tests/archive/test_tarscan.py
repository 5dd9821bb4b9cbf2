"""Walking tar headers: real archives listed as ``tarfile`` lists them, every tar dialect, and damage.

Damaged archives are built here with ``tarfile`` in ``tmp_path`` and cut or corrupted by hand;
the ones cut inside a member or a header are opened under a guard that fails the test if
anything is opened for writing, created, moved or removed.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from archive_samples import (
    BUSYBOX,
    COUNTERS_GZ,
    COUNTERS_ZST,
    INFLIGHT_ZST,
    INVENTORY,
    PSTREE,
    compress,
    file_member,
    images,
    tar_bytes,
    tar_info,
    tarfile_members,
    with_big_member,
    write,
)
from readonly_guard import only_reads

from checkforensics.archive import Checkpoint
from checkforensics.errors import ArchiveError


@pytest.mark.parametrize("path", [BUSYBOX, COUNTERS_GZ, COUNTERS_ZST, INFLIGHT_ZST])
def test_members_match_what_tarfile_lists(path: Path) -> None:
    expected = [member for member in tarfile_members(path)]
    with Checkpoint.open(path) as checkpoint:
        ours = checkpoint.members()
    assert [m.name for m in ours] == [m.name for m in expected]
    for mine, theirs in zip(ours, expected, strict=True):
        kind = "dir" if theirs.isdir() else "file"
        assert (mine.kind, mine.size, mine.mode, mine.uid, mine.gid, mine.mtime) == (
            kind,
            theirs.size,
            theirs.mode & 0o7777,  # permission bits; Podman also stores the type bits there
            theirs.uid,
            theirs.gid,
            theirs.mtime,
        )
        assert mine.linkname is None and not mine.truncated


def test_members_of_busybox_match_tar_tvf() -> None:
    """Sizes as ``tar tvf busybox-counter-criu41.tar`` prints them."""
    with Checkpoint.open(BUSYBOX) as checkpoint:
        sizes = {m.name: m.size for m in checkpoint.members()}
        kinds = {m.name: m.kind for m in checkpoint.members()}
    assert sizes["config.dump"] == 23858
    assert sizes["checkpoint/pages-1.img"] == 73728
    assert sizes["checkpoint/pages-2.img"] == 65536
    assert sizes["checkpoint/tmpfs-dev-44.tar.gz.img"] == 367
    assert sizes["devshm-checkpoint.tar"] == 1536
    assert sizes["ctr.log"] == 0
    assert kinds["artifacts"] == kinds["checkpoint"] == "dir"
    assert len(sizes) == 39


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_names_in_every_tar_dialect(tmp_path: Path, fmt: int) -> None:
    deep = "checkpoint/" + "d" * 60 + "/" + "e" * 60 + "/core-1.img"
    long_link = "f" * 150 if fmt != tarfile.USTAR_FORMAT else "short"
    members = images(file_member(deep, b"deep"), (tar_info("lnk", kind=tarfile.SYMTYPE, linkname=long_link), b""))
    with Checkpoint.open(write(tmp_path, "long.tar", tar_bytes(members, fmt))) as checkpoint:
        assert checkpoint.read(deep) == b"deep"
        assert checkpoint.member("lnk") is not None and checkpoint.member("lnk").linkname == long_link  # type: ignore[union-attr]
        assert checkpoint.warnings == []


def test_an_old_v7_tar_is_recognised_by_its_checksum(tmp_path: Path) -> None:
    data = bytearray(tar_bytes(images(), tarfile.USTAR_FORMAT))
    offset = 0
    while data[offset : offset + 512] != bytes(512):  # strip the ustar magic, fix the checksum
        size = int(data[offset + 124 : offset + 135] or b"0", 8)
        data[offset + 257 : offset + 265] = bytes(8)
        data[offset + 148 : offset + 156] = b" " * 8
        data[offset + 148 : offset + 155] = b"%06o\0" % sum(data[offset : offset + 512])
        offset += 512 + (size + 511) // 512 * 512
    with Checkpoint.open(write(tmp_path, "v7.tar", bytes(data))) as checkpoint:
        assert checkpoint.kind == "tar"
        assert checkpoint.read_image("pstree.img") == PSTREE


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.zst", "tar.xz"])
def test_an_archive_cut_inside_a_member(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    data, start = with_big_member(kind)
    cut = data[: start + 30000]
    path = write(tmp_path, "cut.bin", compress(cut, kind) if kind != "tar.gz" else gzip.compress(cut)[:-8])
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(path) as checkpoint:
        assert checkpoint.read_image("pstree.img") == PSTREE  # the whole members are all there
        pages = checkpoint.member("checkpoint/pages-1.img")
        assert pages is not None and pages.truncated and pages.size == 65536
        assert any(
            w.startswith("checkpoint/pages-1.img: truncated: the archive ends after") for w in checkpoint.warnings
        )
        for reader in (checkpoint.read, checkpoint.open_member, checkpoint.page_reader):
            with pytest.raises(ArchiveError) as caught:
                reader("checkpoint/pages-1.img")
            assert str(caught.value).startswith(f"{path}:checkpoint/pages-1.img: truncated: only ")


@pytest.mark.parametrize("kind", ["tar", "tar.zst"])
def test_an_archive_cut_inside_a_header(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    data, start = with_big_member(kind)
    path = write(tmp_path, "cut.bin", compress(data[: start - 512 + 100], kind))
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(path) as checkpoint:
        assert checkpoint.read_image("inventory.img") == INVENTORY
        assert not checkpoint.has_image("pages-1.img")
        assert any(
            f"tar header at offset {start - 512:#x} is cut after 100 of 512 bytes" in w for w in checkpoint.warnings
        )


def test_an_archive_cut_between_members_warns_of_the_missing_end(tmp_path: Path) -> None:
    data = tar_bytes(images())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        end = tar.getmember("checkpoint/pstree.img").offset_data + 512
    with Checkpoint.open(write(tmp_path, "short.tar", data[:end])) as checkpoint:
        assert checkpoint.read_image("pstree.img") == PSTREE
        assert checkpoint.warnings == [
            f"the archive ends at offset {end:#x} after 'checkpoint/pstree.img' without the end-of-archive blocks "
            "(truncated?)"
        ]


def test_a_cut_before_any_image_says_so(tmp_path: Path) -> None:
    data = tar_bytes(images())
    path = write(tmp_path, "early.tar", data[:700])  # config.dump whole, its padding cut
    with Checkpoint.open(path) as checkpoint:  # the metadata that is there is read, and the cut is said
        assert checkpoint.no_images == "no checkpoint/ directory of CRIU images"
        assert any("0x2bc" in warning for warning in checkpoint.warnings)
        assert checkpoint.read("config.dump") == data[512 : 512 + checkpoint.member("config.dump").size]


def test_a_damaged_header_stops_the_listing_with_a_warning(tmp_path: Path) -> None:
    data = bytearray(tar_bytes(images(file_member("checkpoint/core-1.img", b"core"), file_member("tail", b"t"))))
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tar:
        bad = tar.getmember("checkpoint/core-1.img").offset
    data[bad + 10] ^= 0xFF
    with Checkpoint.open(write(tmp_path, "damaged.tar", bytes(data))) as checkpoint:
        assert checkpoint.image_names() == ["inventory.img", "pstree.img"]
        assert not checkpoint.has("tail")
        assert checkpoint.warnings == [
            f"damaged tar header at offset {bad:#x} (bad header checksum); members after it are not listed"
        ]


def test_a_damaged_first_header(tmp_path: Path) -> None:
    data = bytearray(tar_bytes(images()))
    data[5] ^= 0xFF
    with pytest.raises(ArchiveError, match=r"bad\.tar: damaged tar archive: its first header is unreadable"):
        Checkpoint.open(write(tmp_path, "bad.tar", bytes(data)))
