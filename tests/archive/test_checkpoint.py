"""``Checkpoint``: the same answers from every form of a real checkpoint, and errors that name the member.

The real fixtures are checked against what independent tools say about them (``tarfile``,
``hashlib``, the truth files).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from archive_samples import (
    BARE,
    BUSYBOX,
    COUNTERS_GZ,
    COUNTERS_ZST,
    INFLIGHT_ZST,
    LATER_ZST,
    make_busybox_forms,
    make_counters_forms,
    tarfile_members,
)

from checkforensics.archive import Checkpoint, MemberInfo
from checkforensics.errors import ArchiveError, InputError, MemberNotFoundError

from conftest import truth


@pytest.fixture(scope="module")
def busybox_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """busybox-counter-criu41.tar in every compression we read, and extracted."""
    return make_busybox_forms(tmp_path_factory.mktemp("busybox"))


@pytest.fixture(scope="module")
def counters_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """counters-blog.tar.zst, and the same checkpoint as a plain tar and as an extracted directory."""
    return make_counters_forms(tmp_path_factory.mktemp("counters"))


def test_same_checkpoint_in_every_form_gives_the_same_images(counters_forms: dict[str, Path]) -> None:
    opened = {kind: Checkpoint.open(path) for kind, path in counters_forms.items()}
    opened["tar.gz"] = Checkpoint.open(COUNTERS_GZ)
    try:
        names = opened["tar.zst"].image_names()
        expected_names = [m.name.removeprefix("checkpoint/") for m in tarfile_members(COUNTERS_ZST)]
        assert names == sorted(n for n in expected_names if "/" not in n and n.endswith((".img", ".json")))
        assert len(names) == 39 and "pages-2.img" in names
        for checkpoint in opened.values():
            assert checkpoint.image_names() == names
            assert checkpoint.read_image("pstree.img") == opened["tar.zst"].read_image("pstree.img")
        # The .tar.gz fixture is another dump of the same container (pages and a few images
        # differ); the plain tar and the directory were made from the .tar.zst: every byte agrees.
        for name in names:
            expected = opened["tar.zst"].read_image(name)
            assert opened["tar"].read_image(name) == expected, name
            assert opened["directory"].read_image(name) == expected, name
    finally:
        for checkpoint in opened.values():
            checkpoint.close()


@pytest.mark.parametrize(
    ("path", "fixture"),
    [(BUSYBOX, "busybox-counter-criu41"), (COUNTERS_ZST, "counters-blog"), (LATER_ZST, "counters-blog-later")],
)
def test_nested_members_agree_with_the_truth_files(path: Path, fixture: str) -> None:
    facts = truth(fixture)
    with Checkpoint.open(path) as checkpoint:
        rootfs = checkpoint.read("rootfs-diff.tar")
        deleted = json.loads(checkpoint.read("deleted.files"))
        network = json.loads(checkpoint.read("network.status"))
    with tarfile.open(fileobj=io.BytesIO(rootfs)) as tar:
        assert [[m.name, m.size] for m in tar.getmembers() if m.isfile()] == facts["rootfs_diff"]
    assert deleted == facts["deleted_files"]
    assert network == facts["network"]


@pytest.mark.parametrize("path", [BUSYBOX, COUNTERS_GZ, COUNTERS_ZST, INFLIGHT_ZST])
def test_sha256_is_the_digest_of_the_file(path: Path) -> None:
    with Checkpoint.open(path) as checkpoint:
        assert checkpoint.sha256() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_member_range_is_none_where_there_is_no_plain_file(counters_forms: dict[str, Path]) -> None:
    for kind in ("tar.zst", "directory"):
        with Checkpoint.open(counters_forms[kind]) as checkpoint:
            assert checkpoint.member_range("checkpoint/pstree.img") is None


@pytest.mark.parametrize("kind", ["tar", "directory"])
def test_open_member_and_page_reader_on_plain_forms(busybox_forms: dict[str, Path], kind: str) -> None:
    with Checkpoint.open(busybox_forms[kind]) as checkpoint:
        whole = checkpoint.read("checkpoint/pages-1.img")
        with checkpoint.open_member("checkpoint/pages-1.img") as stream:
            assert stream.read() == whole
        read_at, size = checkpoint.page_reader("checkpoint/pages-1.img")
        assert size == 73728 and read_at(4096, 8) == whole[4096:4104] and read_at(size, 8) == b""


def test_image_where_names_archive_and_member(counters_forms: dict[str, Path]) -> None:
    with Checkpoint.open(COUNTERS_ZST) as checkpoint:
        assert checkpoint.image_where("core-1.img") == f"{COUNTERS_ZST}:checkpoint/core-1.img"
    with Checkpoint.open(BARE) as checkpoint:
        assert checkpoint.image_where("core-16120.img") == str(BARE / "core-16120.img")
    with Checkpoint.open(counters_forms["directory"]) as checkpoint:
        assert checkpoint.image_where("core-1.img") == str(counters_forms["directory"] / "checkpoint/core-1.img")


def test_names_are_normalised_on_lookup() -> None:
    with Checkpoint.open(BUSYBOX) as checkpoint:
        assert checkpoint.has("./checkpoint/") and checkpoint.has("checkpoint//pstree.img")
        info = checkpoint.member("./checkpoint/pstree.img")
        assert isinstance(info, MemberInfo) and info.name == "checkpoint/pstree.img"
        assert checkpoint.member("checkpoint/nothing.img") is None


def test_read_errors_name_the_member() -> None:
    with Checkpoint.open(BUSYBOX) as checkpoint:
        with pytest.raises(MemberNotFoundError, match=r"busybox-counter-criu41\.tar:checkpoint/core-99\.img"):
            checkpoint.read_image("core-99.img")
        with pytest.raises(ArchiveError, match=r"config\.dump: is 23858 bytes, larger than the 100-byte limit"):
            checkpoint.read("config.dump", limit=100)
        with pytest.raises(ArchiveError, match=r"tar:checkpoint: is a dir, not a regular file"):
            checkpoint.read("checkpoint")
        assert checkpoint.read("ctr.log") == b""
    with pytest.raises(ArchiveError, match="has been closed"):
        checkpoint.read("config.dump")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothing-here\.tar: no such file or directory") as caught:
        Checkpoint.open(tmp_path / "nothing-here.tar")
    assert type(caught.value) is InputError


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.tar"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"pipe\.tar: is not a regular file or directory"):
        Checkpoint.open(fifo)


def test_member_streams_outlive_the_checkpoint(busybox_forms: dict[str, Path]) -> None:
    for kind in ("tar", "tar.xz", "directory"):
        checkpoint = Checkpoint.open(busybox_forms[kind])
        expected = checkpoint.read("checkpoint/pages-2.img")
        stream = checkpoint.open_member("checkpoint/pages-2.img")
        stream.read(10)
        checkpoint.close()
        stream.seek(0)  # a compressed member starts over, through its own descriptor
        assert stream.read() == expected
        stream.close()
        with pytest.raises(ArchiveError, match="has been closed"):
            checkpoint.open_member("checkpoint/pages-2.img")
