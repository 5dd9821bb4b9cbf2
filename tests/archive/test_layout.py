"""Recognising an input: every form by its content, where the images lie, and what is no checkpoint.

Inputs that are not checkpoints are opened under a guard that fails the test if anything is
opened for writing, created, moved or removed.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest
import zstandard
from archive_samples import (
    BARE,
    BUSYBOX,
    COUNTERS_GZ,
    COUNTERS_ZST,
    INFLIGHT_ZST,
    INVENTORY,
    LATER_ZST,
    compress,
    file_member,
    images,
    make_busybox_forms,
    tar_bytes,
    write,
)
from readonly_guard import only_reads

from checkforensics.archive import Checkpoint
from checkforensics.errors import ArchiveError, InputError


@pytest.fixture(scope="module")
def busybox_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """busybox-counter-criu41.tar in every compression we read, and extracted."""
    return make_busybox_forms(tmp_path_factory.mktemp("busybox"))


@pytest.mark.parametrize(
    ("path", "kind", "prefix"),
    [
        (BUSYBOX, "tar", "checkpoint/"),
        (COUNTERS_GZ, "tar.gz", "checkpoint/"),
        (COUNTERS_ZST, "tar.zst", "checkpoint/"),
        (LATER_ZST, "tar.zst", "checkpoint/"),
        (INFLIGHT_ZST, "tar.zst", "checkpoint/"),
        (BARE, "directory", ""),
    ],
)
def test_real_fixtures_open_with_their_kind_and_layout(path: Path, kind: str, prefix: str) -> None:
    with Checkpoint.open(path) as checkpoint:
        assert (checkpoint.kind, checkpoint.images_prefix) == (kind, prefix)
        assert checkpoint.path == path
        assert checkpoint.warnings == []
        assert checkpoint.has_image("pstree.img") and checkpoint.has_image("inventory.img")
        assert "pstree.img" in checkpoint.image_names()


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.zst", "tar.xz", "tar.bz2", "directory"])
def test_every_form_is_recognised_by_content(busybox_forms: dict[str, Path], kind: str) -> None:
    with Checkpoint.open(busybox_forms[kind]) as checkpoint, Checkpoint.open(BUSYBOX) as plain:
        assert checkpoint.kind == kind
        assert checkpoint.images_prefix == "checkpoint/"
        assert checkpoint.image_names() == plain.image_names()
        for name in plain.image_names():
            assert checkpoint.read_image(name) == plain.read_image(name), name


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"", "an empty file detected"),
        (b"PK\x03\x04 not a tar at all " * 40, "no tar, gzip, zstd, xz or bzip2 signature detected"),
        (bytes(10240), "no tar, gzip, zstd, xz or bzip2 signature detected"),
        (gzip.compress(b"garbage " * 100), "gzip data detected, but no tar archive inside"),
        (gzip.compress(b""), "gzip data detected, but no tar archive inside: it is empty"),
        (b"\x1f\x8b" + b"junk" * 50, "gzip data detected, but gzip data ends or breaks after 0 bytes"),
        (zstandard.ZstdCompressor().compress(b"x" * 600), "zstd data detected, but no tar archive inside"),
        (lzma.compress(b"not a tar" * 70), "xz data detected, but no tar archive inside"),
        (bz2.compress(b"not a tar" * 70), "bzip2 data detected, but no tar archive inside"),
    ],
)
def test_garbage_is_not_a_checkpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data: bytes, detected: str
) -> None:
    path = write(tmp_path, "evidence.tar.gz", data)  # the name misleads; content decides
    with only_reads(monkeypatch, tmp_path), pytest.raises(InputError) as caught:
        Checkpoint.open(path)
    assert type(caught.value) is InputError
    assert str(caught.value).startswith(f"{path}: is not a checkpoint archive or directory (")
    assert detected in str(caught.value)


@pytest.mark.parametrize("kind", ["tar", "tar.gz"])
def test_a_tar_without_criu_images(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    members = [file_member("notes.txt", b"hello"), file_member("checkpoint/readme", b"x")]
    path = write(tmp_path, "plain.bin", compress(tar_bytes(members), kind))
    with only_reads(monkeypatch, tmp_path), pytest.raises(ArchiveError) as caught:
        Checkpoint.open(path)
    assert type(caught.value) is ArchiveError
    assert (
        str(caught.value) == f"{path}: no CRIU images (no inventory.img / pstree.img) at the top or under checkpoint/"
    )


def test_a_directory_without_images(tmp_path: Path) -> None:
    (tmp_path / "checkpoint").mkdir()
    with pytest.raises(InputError, match=r"is not a checkpoint archive or directory \(no CRIU images"):
        Checkpoint.open(tmp_path)
    (tmp_path / "config.dump").write_text("{}")  # container metadata: opened, and it says what is missing
    with Checkpoint.open(tmp_path) as checkpoint:
        assert checkpoint.images_prefix == "checkpoint/" and checkpoint.image_names() == []
        assert checkpoint.no_images == "checkpoint/ holds no CRIU images"
        assert checkpoint.warnings == [
            "checkpoint/ holds no CRIU images (no inventory.img / pstree.img): only the container metadata can be read"
        ]


def test_a_tar_of_bare_images_has_an_empty_prefix(tmp_path: Path) -> None:
    members = [file_member("inventory.img", INVENTORY), file_member("core-1.img", b"core")]
    with Checkpoint.open(write(tmp_path, "bare.tar", tar_bytes(members))) as checkpoint:
        assert checkpoint.images_prefix == ""
        assert checkpoint.image_names() == ["core-1.img", "inventory.img"]


def test_a_tar_whose_first_name_looks_like_a_compression_signature_is_a_tar(tmp_path: Path) -> None:
    for raw in (b"BZh91AY&SY", b"\x1f\x8bgz", b"\x28\xb5\x2f\xfdzst"):
        data = tar_bytes([file_member(raw.decode("utf-8", "surrogateescape"), b"x"), *images()])
        assert data.startswith(raw)
        with Checkpoint.open(write(tmp_path, "odd.tar", data)) as checkpoint:
            assert checkpoint.kind == "tar"
            assert checkpoint.read(checkpoint.members()[0].name) == b"x"
