"""A plain tar: members lie where ``tarfile`` and ``mmap`` find them, within the archive's size."""

from __future__ import annotations

import mmap
import tarfile
from pathlib import Path

import pytest
from archive_samples import BUSYBOX, make_counters_forms

from checkforensics.archive import Checkpoint

from conftest import truth


@pytest.fixture(scope="module")
def counters_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """counters-blog.tar.zst, and the same checkpoint as a plain tar and as an extracted directory."""
    return make_counters_forms(tmp_path_factory.mktemp("counters"))


def test_plain_forms_end_within_the_archive_size_of_the_truth_files(counters_forms: dict[str, Path]) -> None:
    for path, fixture in ((BUSYBOX, "busybox-counter-criu41"), (counters_forms["tar"], "counters-blog")):
        size = truth(fixture)["archive_size"]
        assert path.stat().st_size == size
        with Checkpoint.open(path) as checkpoint:
            last = checkpoint.members()[-1]
            offset, length = checkpoint.member_range(last.name) or (0, 0)
            assert last.name == "deleted.files"
            assert offset + length + 2 * 512 <= size


def test_member_range_is_where_pstree_img_lies_in_the_plain_tar() -> None:
    with tarfile.open(BUSYBOX) as tar:
        member = tar.getmember("checkpoint/pstree.img")
        expected = tar.extractfile(member).read()  # type: ignore[union-attr]
    with Checkpoint.open(BUSYBOX) as checkpoint:
        offset, size = checkpoint.member_range("checkpoint/pstree.img") or (-1, -1)
        assert (offset, size) == (member.offset_data, 36)
        assert checkpoint.read("checkpoint/pstree.img") == expected
    with BUSYBOX.open("rb") as raw, mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert mapped[offset : offset + size] == expected
