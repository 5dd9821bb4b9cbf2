"""Tar layers inside a checkpoint, read by their content: containerd's real gzip rootfs-diff.tar,
Podman's real plain one, and built ones for zstd, damage and bombs."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest
import zstandard

from checkforensics.archive import Checkpoint, decompression
from checkforensics.archive.layers import layer_entries, layer_stream
from checkforensics.errors import ArchiveError

from conftest import FIXTURES, truth


def _tar(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


FILES = [("etc/issue", b"hello\n"), ("srv/data.bin", bytes(range(256)) * 40)]


@pytest.mark.parametrize(
    ("kind", "compress"),
    [("tar", lambda data: data), ("tar.gz", gzip.compress), ("tar.zst", zstandard.ZstdCompressor().compress)],
)
def test_a_layer_is_read_by_its_first_bytes(kind: str, compress) -> None:
    reader, found = layer_stream(io.BytesIO(compress(_tar(FILES))))
    assert found == kind
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        assert [info.name for info in tar] == [name for name, _ in FILES]


def test_entries_are_hashed_as_they_pass_and_readable_until_the_walk_moves_on() -> None:
    data = gzip.compress(_tar(FILES))
    entries = list(layer_entries(io.BytesIO(data), where="layer", size=len(data)))
    assert [entry.sha256 for entry in entries] == [hashlib.sha256(content).hexdigest() for _, content in FILES]
    contents = []
    for entry in layer_entries(io.BytesIO(data), where="layer", digest=False):
        assert entry.sha256 is None
        handle = entry.open()
        assert handle is not None
        contents.append(handle.read())
    assert contents == [content for _, content in FILES]


def test_containerds_gzip_layer_holds_what_tar_says() -> None:
    """The fixture's rootfs-diff.tar is the gzip OCI layer blob, whiteouts and all."""
    facts = truth("containerd-busybox")["rootfs_diff"]
    with Checkpoint.open(FIXTURES / "containerd-busybox.tar") as checkpoint, checkpoint.open_member(
        "rootfs-diff.tar"
    ) as stream:
        assert layer_stream(stream)[1] == "tar.gz" and facts["compression"] == "gzip"
    with Checkpoint.open(FIXTURES / "containerd-busybox.tar") as checkpoint, checkpoint.open_member(
        "rootfs-diff.tar"
    ) as stream:
        entries = {
            "/" + entry.info.name.removeprefix("./").rstrip("/"): entry
            for entry in layer_entries(stream, where="rootfs-diff.tar", size=checkpoint.member("rootfs-diff.tar").size)
        }
    for expected in facts["entries"]:
        entry = entries[expected["path"]]
        assert entry.sha256 == expected["sha256"]
        assert f"{entry.info.mode & 0o7777:04o}" == expected["mode"]
    whiteouts = {path for path in entries if path.rpartition("/")[2].startswith(".wh.")}
    assert {path.replace(".wh.", "") for path in whiteouts} == set(facts["whiteouts"])


def test_podmans_plain_layer_holds_what_tar_says() -> None:
    expected = dict(truth("counters-blog")["rootfs_diff"])
    with Checkpoint.open(FIXTURES / "counters-blog.tar") as checkpoint, checkpoint.open_member(
        "rootfs-diff.tar"
    ) as stream:
        files = {e.info.name: e.info.size for e in layer_entries(stream, where="rootfs-diff.tar") if e.info.isfile()}
    assert files == expected


def test_damage_ends_the_walk_after_every_whole_member_naming_where() -> None:
    whole = gzip.compress(_tar([("etc/issue", b"hello\n"), ("etc/big", bytes(300_000))]), compresslevel=0)
    read = []
    with pytest.raises(ArchiveError, match=r"damaged archive") as raised:
        for entry in layer_entries(io.BytesIO(whole[: len(whole) // 2]), where="rootfs-diff.tar"):
            read.append(entry.info.name)
    assert read == ["etc/issue"]
    assert raised.value.where == "rootfs-diff.tar"


def test_a_layer_expands_no_further_than_the_archive_may(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decompression, "MIN_EXPANSION_BUDGET", 1 << 16)
    monkeypatch.setattr(decompression, "MAX_EXPANSION_RATIO", 4)
    bomb = gzip.compress(_tar([("etc/issue", b"hello\n"), ("etc/zeros", bytes(1 << 20))]))
    with pytest.raises(ArchiveError, match=r"the layer expands past the decompression limit of 65536 bytes") as raised:
        list(layer_entries(io.BytesIO(bomb), where="rootfs-diff.tar", size=len(bomb)))
    assert raised.value.where == "rootfs-diff.tar"
    # without the member's size nothing bounds it: the archive layer's own readers always give it
    assert len(list(layer_entries(io.BytesIO(bomb), where="rootfs-diff.tar"))) == 2
