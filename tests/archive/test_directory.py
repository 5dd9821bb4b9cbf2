"""Directory inputs: the listing digest, links leading out, files swapped after open."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from archive_samples import BARE, BUSYBOX, make_busybox_forms
from readonly_guard import only_reads

from checkforensics.archive import Checkpoint, MemberInfo
from checkforensics.errors import ArchiveError, InputError, MemberNotFoundError


@pytest.fixture(scope="module")
def busybox_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """busybox-counter-criu41.tar in every compression we read, and extracted."""
    return make_busybox_forms(tmp_path_factory.mktemp("busybox"))


def test_sha256_of_a_directory_is_the_documented_listing_digest() -> None:
    lines = []
    for file in sorted(p for p in BARE.rglob("*") if p.is_file() and not p.is_symlink()):
        lines.append(f"{hashlib.sha256(file.read_bytes()).hexdigest()}  {file.relative_to(BARE).as_posix()}\n")
    with Checkpoint.open(BARE) as checkpoint:
        assert checkpoint.sha256() == hashlib.sha256("".join(lines).encode()).hexdigest()


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
    with Checkpoint.open(root) as checkpoint:  # its metadata only: the images behind the link are not read
        assert checkpoint.image_names() == []
        assert checkpoint.no_images is not None and not checkpoint.has("checkpoint/pstree.img")
    (root / "config.dump").unlink()
    with pytest.raises(InputError, match=r"extracted: is not a checkpoint archive or directory"):
        Checkpoint.open(root)


def test_extracted_directory_lists_like_the_archive(busybox_forms: dict[str, Path]) -> None:
    with Checkpoint.open(busybox_forms["directory"]) as directory, Checkpoint.open(BUSYBOX) as plain:
        files = {m.name: m.size for m in directory.members() if m.kind == "file"}
        assert files == {m.name: m.size for m in plain.members() if m.kind == "file"}
        assert directory.read("config.dump") == plain.read("config.dump")
        with pytest.raises(ArchiveError, match="larger than the 10-byte limit"):
            directory.read("config.dump", limit=10)


def _listing_digest(root: Path) -> str:
    lines = "".join(
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(root).as_posix()}\n"
        for path in sorted(p for p in root.rglob("*") if p.is_file())
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def test_the_hash_reuses_what_was_read_and_stays_the_listing_digest(tmp_path: Path) -> None:
    """Members read whole (small ones kept, big ones hashed while streamed start to end) are
    not read again for the hash; a big one read only in part, or out of order, is."""
    import shutil

    root = tmp_path / "images"
    shutil.copytree(BARE, root)
    (root / "big-start-to-end.bin").write_bytes(bytes(range(256)) * (24 << 12))  # 6 MiB
    (root / "big-seeked.bin").write_bytes(b"\x01" * (6 << 20))
    with Checkpoint.open(root) as checkpoint:
        checkpoint.read("pstree.img")
        with checkpoint.open_member("big-start-to-end.bin") as stream:
            while stream.read(1 << 16):
                pass
        with checkpoint.open_member("big-seeked.bin") as stream:
            stream.seek(4096)
            stream.read(100)
        backend = checkpoint._backend
        assert "pstree.img" in backend._kept and "big-start-to-end.bin" in backend._digests
        assert "big-seeked.bin" not in backend._digests
        assert checkpoint.sha256() == _listing_digest(root)
