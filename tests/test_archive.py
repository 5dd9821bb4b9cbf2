"""The archive layer: real checkpoints in every form they come in, and hostile or damaged ones.

The real fixtures are checked against what independent tools say about them (``tarfile``,
``hashlib``, the truth files); the hostile and damaged archives are built here with ``tarfile``
in ``tmp_path``, and every one of them is opened under a guard that fails the test if anything
is opened for writing, created, moved or removed.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import json
import lzma
import mmap
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from checkforensics import archive
from checkforensics.archive import Checkpoint, MemberInfo
from checkforensics.errors import ArchiveError, InputError, MemberNotFoundError

from conftest import FIXTURES, truth

BUSYBOX = FIXTURES / "busybox-counter-criu41.tar"
COUNTERS_GZ = FIXTURES / "counters-blog.tar.gz"
COUNTERS_ZST = FIXTURES / "counters-blog.tar.zst"
LATER_ZST = FIXTURES / "counters-blog-later.tar.zst"
INFLIGHT_ZST = FIXTURES / "inflight.tar.zst"
BARE = FIXTURES / "bare-bash-sleep"

PSTREE = b"\x16\x12\x11\x54pstree-image"  # content does not matter to this layer
INVENTORY = b"\x16\x12\x11\x54inventory-image"


# --- guards -------------------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_MUTATORS = ("mkdir", "makedirs", "symlink", "link", "mknod", "mkfifo", "rename", "replace", "remove", "unlink")
_MUTATORS += ("rmdir", "chmod", "chown", "utime", "truncate")


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path below ``root`` (links not followed) with its mode, size and modification time."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            status = os.lstat(os.path.join(folder, name))
            seen[os.path.relpath(os.path.join(folder, name), root)] = (
                status.st_mode,
                status.st_size,
                status.st_mtime_ns,
            )
    return seen


@contextlib.contextmanager
def only_reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fail if the code inside opens anything for writing or changes the filesystem.

    Also checks afterwards that ``tmp_path`` (deeply), its parent and the working directory
    (their entries) are as they were: a ``../evil`` member has landed nowhere.
    """
    before = (_snapshot(tmp_path), sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(".")))

    real_open, real_os_open = io.open, os.open

    def guarded_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        assert not set(mode) & set("wax+"), f"opened {file!r} with mode {mode!r}"
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    def guarded_os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        assert not flags & _WRITE_FLAGS, f"os.open({path!r}) with write flags {flags:#o}"
        return real_os_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    def refuse(name: str):  # type: ignore[no-untyped-def]
        def refused(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"os.{name}{args!r} called while reading a checkpoint")

        return refused

    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", guarded_open)
        patch.setattr(io, "open", guarded_open)
        patch.setattr(os, "open", guarded_os_open)
        for name in _MUTATORS:
            patch.setattr(os, name, refuse(name))
        yield
    after = (_snapshot(tmp_path), sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(".")))
    assert after == before


# --- building archives ----------------------------------------------------------------------------


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mtime = 1_700_000_000
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info


Member = tuple[tarfile.TarInfo, bytes]


def file_member(name: str, data: bytes) -> Member:
    return _info(name, len(data)), data


def images(*extra: Member) -> list[Member]:
    """A minimal container checkpoint: metadata, ``checkpoint/`` with two images, then ``extra``."""
    return [
        file_member("config.dump", b'{"id": "abc"}'),
        (_info("checkpoint", kind=tarfile.DIRTYPE), b""),
        file_member("checkpoint/inventory.img", INVENTORY),
        file_member("checkpoint/pstree.img", PSTREE),
        *extra,
    ]


def tar_bytes(members: list[Member], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def compress(data: bytes, kind: str) -> bytes:
    if kind == "tar.gz":
        return gzip.compress(data, mtime=0)
    if kind == "tar.zst":
        return zstandard.ZstdCompressor().compress(data)
    if kind == "tar.xz":
        return lzma.compress(data, preset=0)
    if kind == "tar.bz2":
        return bz2.compress(data, 1)
    return data


def _without_end(data: bytes) -> bytes:
    """A tar archive without its end-of-archive blocks, to append hand-made headers to."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        last = tar.getmembers()[-1]
    return data[: last.offset_data + (last.size + 511) // 512 * 512]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _safe_extract(source: Path, target: Path) -> None:
    """Extract a real fixture for the directory tests (the test does this, never the code under test)."""
    with tarfile.open(source) as tar:
        tar.extractall(
            target,
            filter=lambda member, dest: (
                member.replace(mode=0o755) if member.isdir() else tarfile.data_filter(member, dest)
            ),
        )


@pytest.fixture(scope="module")
def counters_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """counters-blog.tar.zst, and the same checkpoint as a plain tar and as an extracted directory."""
    folder = tmp_path_factory.mktemp("counters")
    plain = folder / "counters-blog.tar"
    with COUNTERS_ZST.open("rb") as raw, plain.open("wb") as out:
        zstandard.ZstdDecompressor().copy_stream(raw, out)
    extracted = folder / "extracted"
    _safe_extract(plain, extracted)
    return {"tar.zst": COUNTERS_ZST, "tar": plain, "directory": extracted}


@pytest.fixture(scope="module")
def busybox_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """busybox-counter-criu41.tar in every compression we read, and extracted."""
    folder = tmp_path_factory.mktemp("busybox")
    data = BUSYBOX.read_bytes()
    forms = {"tar": BUSYBOX}
    for kind in ("tar.gz", "tar.zst", "tar.xz", "tar.bz2"):
        forms[kind] = folder / f"busybox.{kind.replace('.', '-')}.bin"  # a name that says nothing
        forms[kind].write_bytes(compress(data, kind))
    forms["directory"] = folder / "extracted"
    _safe_extract(BUSYBOX, forms["directory"])
    return forms


def _tarfile_members(path: Path) -> list[tarfile.TarInfo]:
    """What Python's own tarfile lists (an implementation independent of ours)."""
    if path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd":
        with path.open("rb") as raw:
            stream = zstandard.ZstdDecompressor().stream_reader(raw)
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                return list(tar)
    with tarfile.open(path) as tar:
        return tar.getmembers()


class CountingDecompressor:
    """Wraps ``archive._open_decompressor`` and counts every decompressed byte handed out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pulled = 0
        real = archive._open_decompressor

        def counting(raw: object, kind: str) -> object:
            stream = real(raw, kind)  # type: ignore[arg-type]
            counter = self

            class Counted:
                def read(self, size: int = -1) -> bytes:
                    data = stream.read(size)
                    counter.pulled += len(data)
                    return data

            return Counted()

        monkeypatch.setattr(archive, "_open_decompressor", counting)


# --- real checkpoints ------------------------------------------------------------------------------


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


def test_same_checkpoint_in_every_form_gives_the_same_images(counters_forms: dict[str, Path]) -> None:
    opened = {kind: Checkpoint.open(path) for kind, path in counters_forms.items()}
    opened["tar.gz"] = Checkpoint.open(COUNTERS_GZ)
    try:
        names = opened["tar.zst"].image_names()
        expected_names = [m.name.removeprefix("checkpoint/") for m in _tarfile_members(COUNTERS_ZST)]
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


@pytest.mark.parametrize("path", [BUSYBOX, COUNTERS_GZ, COUNTERS_ZST, INFLIGHT_ZST])
def test_members_match_what_tarfile_lists(path: Path) -> None:
    expected = [member for member in _tarfile_members(path)]
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


def test_plain_forms_end_within_the_archive_size_of_the_truth_files(counters_forms: dict[str, Path]) -> None:
    for path, fixture in ((BUSYBOX, "busybox-counter-criu41"), (counters_forms["tar"], "counters-blog")):
        size = truth(fixture)["archive_size"]
        assert path.stat().st_size == size
        with Checkpoint.open(path) as checkpoint:
            last = checkpoint.members()[-1]
            offset, length = checkpoint.member_range(last.name) or (0, 0)
            assert last.name == "deleted.files"
            assert offset + length + 2 * 512 <= size


@pytest.mark.parametrize("path", [BUSYBOX, COUNTERS_GZ, COUNTERS_ZST, INFLIGHT_ZST])
def test_sha256_is_the_digest_of_the_file(path: Path) -> None:
    with Checkpoint.open(path) as checkpoint:
        assert checkpoint.sha256() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sha256_of_a_directory_is_the_documented_listing_digest() -> None:
    lines = []
    for file in sorted(p for p in BARE.rglob("*") if p.is_file() and not p.is_symlink()):
        lines.append(f"{hashlib.sha256(file.read_bytes()).hexdigest()}  {file.relative_to(BARE).as_posix()}\n")
    with Checkpoint.open(BARE) as checkpoint:
        assert checkpoint.sha256() == hashlib.sha256("".join(lines).encode()).hexdigest()


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


def test_member_range_is_none_where_there_is_no_plain_file(counters_forms: dict[str, Path]) -> None:
    for kind in ("tar.zst", "directory"):
        with Checkpoint.open(counters_forms[kind]) as checkpoint:
            assert checkpoint.member_range("checkpoint/pstree.img") is None


def test_reading_metadata_from_a_compressed_archive_decompresses_no_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDecompressor(monkeypatch)
    with Checkpoint.open(COUNTERS_ZST) as checkpoint:
        # The one pass, at open: up to the first end-of-archive block.
        assert counter.pulled == truth("counters-blog")["archive_size"] - 512
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


def test_bare_directory_lists_stats_dump_among_the_images() -> None:
    with Checkpoint.open(BARE) as checkpoint:
        assert "stats-dump" in checkpoint.image_names()
        assert checkpoint.read_image("stats-dump") == (BARE / "stats-dump").read_bytes()
        assert checkpoint.member("pages-1.img") == MemberInfo(
            name="pages-1.img",
            size=274432,
            kind="file",
            mode=(BARE / "pages-1.img").stat().st_mode & 0o7777,
            uid=(BARE / "pages-1.img").stat().st_uid,
            gid=(BARE / "pages-1.img").stat().st_gid,
            mtime=(BARE / "pages-1.img").stat().st_mtime,
        )


# --- not a checkpoint --------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothing-here\.tar: no such file or directory") as caught:
        Checkpoint.open(tmp_path / "nothing-here.tar")
    assert type(caught.value) is InputError


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


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.tar"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"pipe\.tar: is not a regular file or directory"):
        Checkpoint.open(fifo)


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
    (tmp_path / "config.dump").write_text("{}")
    with pytest.raises(InputError, match=r"is not a checkpoint archive or directory \(no CRIU images"):
        Checkpoint.open(tmp_path)


def test_a_tar_of_bare_images_has_an_empty_prefix(tmp_path: Path) -> None:
    members = [file_member("inventory.img", INVENTORY), file_member("core-1.img", b"core")]
    with Checkpoint.open(write(tmp_path, "bare.tar", tar_bytes(members))) as checkpoint:
        assert checkpoint.images_prefix == ""
        assert checkpoint.image_names() == ["core-1.img", "inventory.img"]


# --- hostile members ----------------------------------------------------------------------------


def _hostile_members() -> list[Member]:
    return images(
        file_member("../evil", b"escaped"),
        file_member("/abs/passwd", b"root:x:0:0"),
        (_info("checkpoint/link-passwd", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), b""),
        (_info("checkpoint/up", kind=tarfile.SYMTYPE, linkname="../../../etc/shadow"), b""),
        (_info("checkpoint/inside", kind=tarfile.SYMTYPE, linkname="pstree.img"), b""),
        (_info("checkpoint/hard", kind=tarfile.LNKTYPE, linkname="checkpoint/pstree.img"), b""),
        (_info("checkpoint/hard-out", kind=tarfile.LNKTYPE, linkname="../../etc/passwd"), b""),
        (_info("dev/mem", kind=tarfile.CHRTYPE, devmajor=1, devminor=1), b""),
        (_info("fifo", kind=tarfile.FIFOTYPE), b""),
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
        (_info("checkpoint/pstree.img", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), b""),
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


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_names_in_every_tar_dialect(tmp_path: Path, fmt: int) -> None:
    deep = "checkpoint/" + "d" * 60 + "/" + "e" * 60 + "/core-1.img"
    long_link = "f" * 150 if fmt != tarfile.USTAR_FORMAT else "short"
    members = images(file_member(deep, b"deep"), (_info("lnk", kind=tarfile.SYMTYPE, linkname=long_link), b""))
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


# --- damage --------------------------------------------------------------------------------------


def _with_big_member(kind: str) -> tuple[bytes, int]:
    """An archive whose last member is 64 KiB of pages, and where in the tar stream its data starts."""
    data = tar_bytes(images(file_member("checkpoint/pages-1.img", os.urandom(65536))))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        start = tar.getmember("checkpoint/pages-1.img").offset_data
    return data, start


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.zst", "tar.xz"])
def test_an_archive_cut_inside_a_member(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    data, start = _with_big_member(kind)
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
    data, start = _with_big_member(kind)
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
    with pytest.raises(ArchiveError, match=r"early\.tar: no CRIU images .* cut or damaged at offset 0x2bc$"):
        Checkpoint.open(path)


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


def test_corrupt_compressed_data_midway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data, _ = _with_big_member("tar.gz")
    packed = bytearray(gzip.compress(data, compresslevel=1))
    packed[len(packed) // 2 : len(packed) // 2 + 64] = os.urandom(64)
    path = write(tmp_path, "corrupt.tgz", bytes(packed))
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(path) as checkpoint:
        assert checkpoint.read_image("pstree.img") == PSTREE
        assert any(w.startswith("gzip data ends or breaks after") for w in checkpoint.warnings)
        with pytest.raises(ArchiveError, match="truncated"):
            checkpoint.read_image("pages-1.img")


# --- decompression bombs ------------------------------------------------------------------------------


def test_an_absurd_member_size_in_a_compressed_archive_is_refused(tmp_path: Path) -> None:
    block = bytearray(tar_bytes([file_member("checkpoint/pages-1.img", b"")])[:512])
    block[124:136] = b"\x80" + (1 << 62).to_bytes(11, "big")  # GNU base-256: 4 EiB
    block[148:156] = b" " * 8
    block[148:155] = b"%06o\0" % sum(block)
    data = _without_end(tar_bytes(images())) + bytes(block)
    path = write(tmp_path, "bomb.tar.zst", compress(data, "tar.zst"))
    with pytest.raises(
        ArchiveError, match=r"bomb\.tar\.zst: member 'checkpoint/pages-1\.img' declares 4611686018427387904"
    ):
        Checkpoint.open(path)
    # In a plain tar the same header is simply a member cut short.
    plain = write(tmp_path, "bomb.tar", data)
    with Checkpoint.open(plain) as checkpoint:
        assert checkpoint.member("checkpoint/pages-1.img").truncated  # type: ignore[union-attr]


def test_expansion_is_capped_relative_to_the_compressed_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(archive, "MIN_EXPANSION_BUDGET", 1 << 20)
    monkeypatch.setattr(archive, "MAX_EXPANSION_RATIO", 64)
    members = images(*(file_member(f"zeros-{n}", bytes(256 << 10)) for n in range(8)))
    path = write(tmp_path, "zeros.tar.xz", compress(tar_bytes(members), "tar.xz"))
    assert path.stat().st_size * 64 < 1 << 20  # so the floor is the budget
    with pytest.raises(ArchiveError, match=r"zeros\.tar\.xz: expands to more than 1048576 bytes, over 64 times"):
        Checkpoint.open(path)


def test_small_members_are_kept_within_the_cache_budget(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    members = images(file_member("big-1", b"a" * 60), file_member("big-2", b"b" * 60))
    monkeypatch.setattr(archive, "CACHE_LIMIT", sum(len(data) for _, data in members) - 1)
    counter = CountingDecompressor(monkeypatch)
    with Checkpoint.open(write(tmp_path, "c.tar.gz", compress(tar_bytes(members), "tar.gz"))) as checkpoint:
        counter.pulled = 0
        assert checkpoint.read("big-1") == b"a" * 60
        assert counter.pulled == 0
        assert checkpoint.read("big-2") == b"b" * 60  # over budget: streamed again
        assert counter.pulled > 0


# --- directories ------------------------------------------------------------------------------------


def _bare_copy(target: Path) -> Path:
    target.mkdir()
    for name in ("inventory.img", "pstree.img", "core-16120.img"):
        (target / name).write_bytes((BARE / name).read_bytes())
    return target


def test_a_directory_with_links_leading_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"TOP SECRET")
    root = _bare_copy(tmp_path / "images")
    (root / "core-16120.img").unlink()
    (root / "core-16120.img").symlink_to(outside / "secret")
    (root / "etc").symlink_to("/etc")
    (root / "up").symlink_to("../outside")
    (root / "ok").symlink_to("pstree.img")
    with only_reads(monkeypatch, tmp_path), Checkpoint.open(root) as checkpoint:
        kinds = {m.name: m.kind for m in checkpoint.members()}
        assert kinds == {
            "core-16120.img": "symlink",
            "etc": "symlink",
            "inventory.img": "file",
            "ok": "symlink",
            "pstree.img": "file",
            "up": "symlink",
        }  # /etc was not walked into
        assert checkpoint.member("etc").linkname == "/etc"  # type: ignore[union-attr]
        assert sorted(checkpoint.warnings) == [
            f"core-16120.img: symbolic link to '{outside / 'secret'}' leads outside the directory; never followed",
            "etc: symbolic link to '/etc' leads outside the directory; never followed",
            "up: symbolic link to '../outside' leads outside the directory; never followed",
        ]
        with pytest.raises(ArchiveError) as caught:
            checkpoint.read_image("core-16120.img")
        assert str(caught.value).startswith(f"{root / 'core-16120.img'}: is a symlink to ")
        with pytest.raises(ArchiveError, match=r"is a symlink to 'pstree\.img'"):
            checkpoint.read("ok")
        with pytest.raises(MemberNotFoundError):
            checkpoint.read("etc/passwd")
        assert checkpoint.image_names() == ["inventory.img", "pstree.img"]


def test_a_directory_file_swapped_for_a_link_after_open_is_not_read(tmp_path: Path) -> None:
    root = _bare_copy(tmp_path / "images")
    (tmp_path / "secret").write_bytes(b"TOP SECRET")
    with Checkpoint.open(root) as checkpoint:
        (root / "core-16120.img").unlink()
        (root / "core-16120.img").symlink_to(tmp_path / "secret")
        with pytest.raises(ArchiveError, match=r"core-16120\.img: resolves outside the checkpoint directory"):
            checkpoint.read_image("core-16120.img")
        (root / "core-16120.img").unlink()
        (root / "core-16120.img").write_bytes(b"replaced by something else")
        with pytest.raises(ArchiveError, match=r"core-16120\.img: changed since the checkpoint was opened"):
            checkpoint.read_image("core-16120.img")


def test_a_checkpoint_subdirectory_that_is_a_link_out_is_not_followed(tmp_path: Path) -> None:
    images_elsewhere = _bare_copy(tmp_path / "elsewhere")
    root = tmp_path / "extracted"
    root.mkdir()
    (root / "config.dump").write_text("{}")
    (root / "checkpoint").symlink_to(images_elsewhere)
    with pytest.raises(InputError, match=r"extracted: is not a checkpoint archive or directory"):
        Checkpoint.open(root)


def test_extracted_directory_lists_like_the_archive(busybox_forms: dict[str, Path]) -> None:
    with Checkpoint.open(busybox_forms["directory"]) as directory, Checkpoint.open(BUSYBOX) as plain:
        files = {m.name: m.size for m in directory.members() if m.kind == "file"}
        assert files == {m.name: m.size for m in plain.members() if m.kind == "file"}
        assert directory.read("config.dump") == plain.read("config.dump")
        with pytest.raises(ArchiveError, match="larger than the 10-byte limit"):
            directory.read("config.dump", limit=10)


def test_a_hard_link_climbing_out_through_a_subdirectory_is_noticed(tmp_path: Path) -> None:
    members = images((_info("checkpoint/h", kind=tarfile.LNKTYPE, linkname="checkpoint/../../etc/passwd"), b""))
    with Checkpoint.open(write(tmp_path, "h.tar", tar_bytes(members))) as checkpoint:
        assert checkpoint.warnings == [
            "checkpoint/h: hard link to 'checkpoint/../../etc/passwd' points outside the checkpoint; never followed"
        ]


def test_a_tar_whose_first_name_looks_like_a_compression_signature_is_a_tar(tmp_path: Path) -> None:
    for raw in (b"BZh91AY&SY", b"\x1f\x8bgz", b"\x28\xb5\x2f\xfdzst"):
        data = tar_bytes([file_member(raw.decode("utf-8", "surrogateescape"), b"x"), *images()])
        assert data.startswith(raw)
        with Checkpoint.open(write(tmp_path, "odd.tar", data)) as checkpoint:
            assert checkpoint.kind == "tar"
            assert checkpoint.read(checkpoint.members()[0].name) == b"x"


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
