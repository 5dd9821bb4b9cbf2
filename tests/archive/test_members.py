"""Hostile members: names and links that reach out, devices, duplicates, undecodable names.

Every hostile archive is built here with ``tarfile`` in ``tmp_path`` and opened under a guard
that fails the test if anything is opened for writing, created, moved or removed.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from archive_samples import INVENTORY, Member, compress, file_member, images, tar_bytes, tar_info, write
from readonly_guard import only_reads

from checkforensics.archive import Checkpoint, MemberInfo
from checkforensics.errors import ArchiveError, MemberNotFoundError


def _hostile_members() -> list[Member]:
    return images(
        file_member("../evil", b"escaped"),
        file_member("/abs/passwd", b"root:x:0:0"),
        (tar_info("checkpoint/link-passwd", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), b""),
        (tar_info("checkpoint/up", kind=tarfile.SYMTYPE, linkname="../../../etc/shadow"), b""),
        (tar_info("checkpoint/inside", kind=tarfile.SYMTYPE, linkname="pstree.img"), b""),
        (tar_info("checkpoint/hard", kind=tarfile.LNKTYPE, linkname="checkpoint/pstree.img"), b""),
        (tar_info("checkpoint/hard-out", kind=tarfile.LNKTYPE, linkname="../../etc/passwd"), b""),
        (tar_info("dev/mem", kind=tarfile.CHRTYPE, devmajor=1, devminor=1), b""),
        (tar_info("fifo", kind=tarfile.FIFOTYPE), b""),
        file_member("config.dump", b'{"id": "second"}'),
    )


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.zst"])
def test_hostile_members_are_listed_warned_about_and_never_followed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    path = write(tmp_path, "hostile.bin", compress(tar_bytes(_hostile_members()), kind))
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(path) as checkpoint:
        members = {m.name: m for m in checkpoint.members()}
        warnings = "\n".join(checkpoint.warnings)
        assert members["../evil"].kind == "file"
        assert "../evil: member name climbs out of the checkpoint" in warnings
        assert members["abs/passwd"].size == 10
        assert "abs/passwd: absolute member name '/abs/passwd'" in warnings
        assert members["checkpoint/link-passwd"] == MemberInfo(
            "checkpoint/link-passwd", 0, "symlink", 0o644, 0, 0, 1_700_000_000, "/etc/passwd"
        )
        assert "checkpoint/link-passwd: symbolic link to '/etc/passwd' points outside" in warnings
        assert "checkpoint/up: symbolic link to '../../../etc/shadow' points outside" in warnings
        assert "checkpoint/inside" not in warnings
        assert members["checkpoint/hard"].kind == "hardlink"
        assert members["checkpoint/hard"].linkname == "checkpoint/pstree.img"
        assert "checkpoint/hard-out: hard link to '../../etc/passwd' points outside" in warnings
        assert members["dev/mem"].kind == "device" and "dev/mem: device node" in warnings
        assert members["fifo"].kind == "fifo"
        assert "config.dump: duplicate member" in warnings
        # The later copy wins, as extraction would leave it, and is listed once, in its place.
        assert checkpoint.read("config.dump") == b'{"id": "second"}'
        assert [m.name for m in checkpoint.members()].count("config.dump") == 1
        assert checkpoint.members()[-1].name == "config.dump"
        for name, what in [
            ("checkpoint/link-passwd", "is a symlink to '/etc/passwd', not a regular file"),
            ("checkpoint/inside", "is a symlink to 'pstree.img', not a regular file"),
            ("checkpoint/hard", "is a hardlink to 'checkpoint/pstree.img', not a regular file"),
            ("dev/mem", "is a device, not a regular file"),
            ("fifo", "is a fifo, not a regular file"),
        ]:
            with pytest.raises(ArchiveError) as caught:
                checkpoint.read(name)
            assert str(caught.value).startswith(f"{path}:{name}: {what}")
            with pytest.raises(ArchiveError):
                checkpoint.open_member(name)
        assert checkpoint.read("../evil") == b"escaped"  # bytes of the archive, nothing written
        assert checkpoint.image_names() == ["inventory.img", "pstree.img"]
    assert not (tmp_path.parent / "evil").exists()


def test_a_symlinked_image_is_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    members = [
        file_member("checkpoint/inventory.img", INVENTORY),
        (tar_info("checkpoint/pstree.img", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), b""),
    ]
    path = write(tmp_path, "link.tar", tar_bytes(members))
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(path) as checkpoint:
        assert checkpoint.has_image("pstree.img") and "pstree.img" not in checkpoint.image_names()
        with pytest.raises(ArchiveError, match=r"link\.tar:checkpoint/pstree\.img: is a symlink to '/etc/passwd'"):
            checkpoint.read_image("pstree.img")


def test_non_utf8_and_control_character_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    members = images(file_member("checkpoint/caf\udce9.img", b"latin-1"), file_member("x\x1b[31mred", b"esc"))
    path = write(tmp_path, "names.tar", tar_bytes(members))
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(path) as checkpoint:
        assert checkpoint.read("checkpoint/caf\\xe9.img") == b"latin-1"
        assert any("caf\\xe9.img: name is not UTF-8" in w for w in checkpoint.warnings)
        assert any("control characters" in w for w in checkpoint.warnings)
        with pytest.raises(MemberNotFoundError) as caught:
            checkpoint.read("x\x1b[31mmissing")
        assert "\x1b" not in str(caught.value) and "\\x1b" in str(caught.value)


def test_a_hard_link_climbing_out_through_a_subdirectory_is_noticed(tmp_path: Path) -> None:
    members = images((tar_info("checkpoint/h", kind=tarfile.LNKTYPE, linkname="checkpoint/../../etc/passwd"), b""))
    with Checkpoint.open(write(tmp_path, "h.tar", tar_bytes(members))) as checkpoint:
        assert checkpoint.warnings == [
            "checkpoint/h: hard link to 'checkpoint/../../etc/passwd' points outside the checkpoint; never followed"
        ]
