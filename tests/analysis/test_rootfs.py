"""Rootfs layers read by their content: containerd's gzip rootfs-diff.tar with OCI whiteouts
(a real containerd checkpoint), and built ones for what it does not show (zstd, opaque
directories, whiteouts beside deleted.files, damage)."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from checkforensics.analysis.rootfs import read_changed_file, rootfs_changes, whiteout
from checkforensics.analysis.rootfs_extraction import extract_changes
from checkforensics.errors import MemberNotFoundError
from checkforensics.model import CheckpointModel
from checkforensics.output import OutputGuard

from conftest import FIXTURES, truth

CONTAINERD = FIXTURES / "containerd-busybox.tar"
CONTAINERD_LATER = FIXTURES / "containerd-busybox-later.tar.zst"


@pytest.mark.parametrize(
    ("fixture", "path"), [("containerd-busybox", CONTAINERD), ("containerd-busybox-later", CONTAINERD_LATER)]
)
def test_containerd_layer_is_read_whole(fixture: str, path: Path) -> None:
    facts = truth(fixture)["rootfs_diff"]
    assert facts["compression"] == "gzip"
    with CheckpointModel.open(path) as model:
        changes = rootfs_changes(model)
    assert changes.warnings == []
    rootfs = changes.rootfs
    assert rootfs is not None
    shown = [
        {"path": f.path, "type": f.type, "size": f.size, "mode": f"{f.mode:04o}", "sha256": f.sha256}
        for f in [*rootfs.files, *(entry.file for entry in rootfs.runtime)]
    ]
    assert sorted(shown, key=lambda f: f["path"]) == sorted(facts["entries"], key=lambda f: f["path"])
    # the runtime's: the empty files runc bind-mounts /etc/hosts, /etc/hostname, /etc/resolv.conf onto
    assert {e.file.path for e in rootfs.runtime} == {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
    assert changes.deleted == facts["whiteouts"]
    assert changes.opaque == facts["opaque"] == []


def test_whiteouts_name_what_the_live_container_no_longer_had() -> None:
    live = truth("containerd-busybox-later")["live"]
    with CheckpointModel.open(CONTAINERD_LATER) as model:
        changes = rootfs_changes(model)
    assert set(changes.deleted) == {path for path, exists in live["deleted_exist"].items() if not exists}
    files = {f.path: f for f in changes.rootfs.files}
    for path, written in live["written"].items():
        assert files[path].sha256 == written["sha256"]
        assert f"{files[path].mode:04o}" == written["mode"]


def test_show_reads_a_file_from_the_gzip_layer_and_refuses_a_deleted_one() -> None:
    written = truth("containerd-busybox")["live"]["written"]
    with CheckpointModel.open(CONTAINERD) as model:
        changed, content = read_changed_file(model, "/etc/cron.d/cfw-job")
        assert content.decode() == written["/etc/cron.d/cfw-job"]["content"]
        assert changed.size == len(content)
        with pytest.raises(MemberNotFoundError, match=r"/etc/cfw-motd was deleted by the container \(whiteout"):
            read_changed_file(model, "/etc/cfw-motd")


def test_extract_records_whiteouts_and_writes_no_marker(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with CheckpointModel.open(CONTAINERD) as model, OutputGuard(str(CONTAINERD)).output_directory(out) as directory:
        records = extract_changes(model, directory).records
    deletions = [(r["path"], r["written"]) for r in records if r["type"] == "deleted"]
    assert deletions == [("/etc/cfw-motd", None), ("/srv/cfw-old", None)]
    assert (out / "tmp/cfw-drop.sh").read_text() == "#!/bin/sh\necho marker-containerd-drop-3c9e\n"
    assert not [p for p in out.rglob(".wh.*")]


@pytest.mark.parametrize(
    ("path", "meaning"),
    [
        ("/etc/.wh.motd", ("deleted", "/etc/motd")),
        ("/.wh.top", ("deleted", "/top")),
        ("/srv/data/.wh..wh..opq", ("opaque", "/srv/data")),
        ("/.wh..wh.plnk", ("meta", "/.wh..wh.plnk")),
        ("/etc/motd.wh.x", None),
        ("/etc/motd", None),
    ],
)
def test_whiteout_names(path: str, meaning: tuple[str, str] | None) -> None:
    assert whiteout(path) == meaning


def _layer(entries: list[tuple[str, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _checkpoint_dir(tmp_path: Path, rootfs_diff: bytes, deleted: list[str] | None = None) -> Path:
    """A checkpoint directory: bare-bash-sleep's images, this rootfs-diff.tar, maybe deleted.files."""
    root = tmp_path / "ckpt"
    (root / "checkpoint").mkdir(parents=True)
    for name in os.listdir(FIXTURES / "bare-bash-sleep"):
        (root / "checkpoint" / name).write_bytes((FIXTURES / "bare-bash-sleep" / name).read_bytes())
    (root / "rootfs-diff.tar").write_bytes(rootfs_diff)
    if deleted is not None:
        (root / "deleted.files").write_text(json.dumps(deleted))
    return root


LAYER = [
    ("srv", None),
    ("srv/data", None),
    ("srv/data/.wh..wh..opq", b""),
    ("srv/data/new.txt", b"new\n"),
    ("etc", None),
    ("etc/.wh.motd", b""),
    (".wh.top", b""),
    (".wh..wh.plnk", b""),
    ("etc/issue", b"hello\n"),
]


@pytest.mark.parametrize(
    "compress",
    [lambda data: data, lambda data: gzip.compress(data), lambda data: zstandard.ZstdCompressor().compress(data)],
    ids=["plain", "gzip", "zstd"],
)
def test_layers_by_content_with_opaque_directories(tmp_path: Path, compress) -> None:
    root = _checkpoint_dir(tmp_path, compress(_layer(LAYER)), deleted=["/var/log/old.log", "/etc/motd"])
    with CheckpointModel.open(root) as model:
        changes = rootfs_changes(model)
        assert read_changed_file(model, "/srv/data/new.txt")[1] == b"new\n"
    assert [f.path for f in changes.rootfs.files] == ["/srv", "/srv/data", "/srv/data/new.txt", "/etc", "/etc/issue"]
    assert changes.deleted == ["/var/log/old.log", "/etc/motd", "/top"]  # deleted.files first, each path once
    assert changes.opaque == ["/srv/data"]
    assert changes.warnings == []


def test_a_cut_gzip_layer_keeps_what_came_before(tmp_path: Path) -> None:
    whole = gzip.compress(_layer([("etc", None), ("etc/.wh.motd", b""), ("etc/big", os.urandom(300_000))]))
    root = _checkpoint_dir(tmp_path, whole[: len(whole) // 2])
    with CheckpointModel.open(root) as model:
        changes = rootfs_changes(model)
    assert [f.path for f in changes.rootfs.files] == ["/etc"]
    assert changes.deleted == ["/etc/motd"]
    (warning,) = changes.warnings
    assert "rootfs-diff.tar" in warning and "damaged archive" in warning and "1 entries read" in warning


def test_diff_shows_opaque_directories_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    root = _checkpoint_dir(tmp_path, gzip.compress(_layer(LAYER)))
    assert run(["diff", str(root), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["opaque"] == [{"path": "/srv/data"}] and doc["deleted"] == [{"path": "/etc/motd"}, {"path": "/top"}]
    assert run(["diff", str(root), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"change": "opaque", "path": "/srv/data"} in records
    assert run(["diff", str(root)]) == 0
    assert any(line.split()[:2] == ["rootfs", "opaque"] for line in capsys.readouterr().out.splitlines())


def test_a_layer_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from checkforensics.archive import decompression  # a layer is held to the archive's own expansion limit

    monkeypatch.setattr(decompression, "MIN_EXPANSION_BUDGET", 1 << 16)
    monkeypatch.setattr(decompression, "MAX_EXPANSION_RATIO", 4)
    bomb = gzip.compress(_layer([("etc", None), ("etc/zeros", bytes(1 << 20))]))
    root = _checkpoint_dir(tmp_path, bomb)
    with CheckpointModel.open(root) as model:
        changes = rootfs_changes(model)
    (warning,) = changes.warnings
    assert "rootfs-diff.tar" in warning and "decompression bomb" in warning
    assert [f.path for f in changes.rootfs.files] == ["/etc"]


def _entry(name: str, kind: bytes, *, size: int = 0, link: str = "", numbers: tuple[int, int] = (0, 0)):
    import tarfile

    from checkforensics.analysis.rootfs import ChangedFile

    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    info.devmajor, info.devminor = numbers
    kinds = {tarfile.REGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char"}
    return ChangedFile(name, kinds[kind], size, 0o644, 0, 0, "-", link or None), info


@pytest.mark.parametrize(
    ("layer", "name", "kind", "extra", "reason"),
    [
        ("tmpfs /dev", "/dev/null", b"3", {"numbers": (1, 3)}, "default device"),
        ("tmpfs /dev", "/dev/null", b"3", {"numbers": (8, 0)}, None),  # /dev/null made a disk
        ("tmpfs /dev", "/dev/fuse", b"3", {"numbers": (10, 229)}, "spec device"),
        ("tmpfs /dev", "/dev/fuse", b"3", {"numbers": (10, 230)}, None),
        ("tmpfs /dev", "/dev/stdin", b"2", {"link": "/proc/self/fd/0"}, "default link"),
        ("tmpfs /dev", "/dev/stdin", b"2", {"link": "/tmp/x"}, None),
        ("tmpfs /dev", "/dev/.hidden", b"0", {"size": 9}, None),  # written there by the container
        ("tmpfs /dev", "/dev/pts", b"5", {}, "mount point"),
        ("tmpfs /dev", "/dev/evil", b"5", {}, None),
        ("rootfs", "/etc/hosts", b"0", {}, "mount point"),
        ("rootfs", "/etc/hosts", b"0", {"size": 20}, None),  # written before the mount, or instead
        ("rootfs", "/dev/null", b"3", {"numbers": (1, 3)}, None),  # devices count only in the tmpfs
        ("/dev/shm", "/dev/shm/x", b"5", {}, None),
    ],
)
def test_what_the_runtime_made_is_told_entry_by_entry(layer, name, kind, extra, reason) -> None:
    from checkforensics.analysis.rootfs import RuntimeMade, runtime_reason

    made = RuntimeMade(frozenset({"/dev/pts", "/etc/hosts", "/dev/shm/x"}), {"/dev/fuse": ("char", 10, 229)})
    changed, info = _entry(name, kind, **extra)
    assert runtime_reason(layer, changed, info, made) == reason
