"""``model.layers``: the archives of what the container changed on disk, found and opened
through the model, in real Podman and containerd checkpoints."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel
from checkforensics.model.layers import ROOTFS

from conftest import FIXTURES, truth


def test_a_podman_checkpoint_carries_its_writable_layer_shm_and_tmpfs_mounts() -> None:
    facts = truth("counters-blog")
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as model:
        layers = model.layers
        found = {layer.name: layer for layer in layers.archives}
        rootfs = found[ROOTFS]
        with layers.entries(rootfs) as entries:
            files = {entry.info.name: entry.info.size for entry in entries if entry.info.isfile()}
        assert layers.deleted() == facts["deleted_files"] and model.diagnostics.warnings() == []
    assert (rootfs.member, rootfs.root, rootfs.size) == ("rootfs-diff.tar", "/", model.sizes.rootfs_diff)
    assert files == dict(facts["rootfs_diff"])
    assert found["/dev/shm"].member == "devshm-checkpoint.tar"
    # a tmpfs archive is named after the mount point its device number had in the mountpoints image
    assert found["tmpfs /dev"].root == "/dev" and found["tmpfs /dev"].member.startswith("checkpoint/tmpfs-dev-")
    assert list(found)[:2] == [ROOTFS, "/dev/shm"]


def test_a_containerd_checkpoint_has_whiteouts_not_deleted_files() -> None:
    facts = truth("containerd-busybox")["rootfs_diff"]
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model:
        layers = model.layers
        assert [layer.name for layer in layers.archives] == [ROOTFS, "tmpfs /dev", "tmpfs /sys/fs/cgroup"]
        assert layers.deleted() == []  # removals are whiteouts in the gzip layer itself
        with layers.entries(layers.archives[0]) as entries:
            names = {entry.info.name.rstrip("/"): entry.sha256 for entry in entries}
    assert {name.replace(".wh.", "") for name in names if ".wh." in name} == {p.lstrip("/") for p in facts["whiteouts"]}
    hashed = {e["path"].lstrip("/"): e["sha256"] for e in facts["entries"] if e["type"] == "file"}
    assert {name: names[name] for name in hashed} == hashed


def test_a_bare_criu_dump_has_no_layers() -> None:
    with CheckpointModel.open(FIXTURES / "bare-bash-sleep") as model:
        assert model.layers.archives == []
        assert model.layers.deleted() == []


def test_a_broken_deleted_files_is_said(tmp_path: Path) -> None:
    root = tmp_path / "checkpoint"
    with tarfile.open(FIXTURES / "counters-blog.tar") as tar:
        tar.extractall(root, filter="tar")
    (root / "deleted.files").write_text(json.dumps({"not": "a list"}))
    with CheckpointModel.open(root) as model:
        assert model.layers.deleted() == []
        (said,) = model.diagnostics
    assert str(said) == "deleted.files: not a JSON list" and said.where == "deleted.files"
    assert model.diagnostics.said(Part.CHANGES) == ["deleted.files: not a JSON list"]
