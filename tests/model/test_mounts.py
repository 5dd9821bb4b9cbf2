"""``model.mounts``: the OCI spec's mounts and the kernel's (CRIU's mountpoints images), from
real checkpoints."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from checkforensics.model import CheckpointModel

from conftest import FIXTURES


@pytest.mark.parametrize("fixture", ["counters-blog.tar", "containerd-busybox.tar"])
def test_both_views_of_the_mounts(fixture: str) -> None:
    with CheckpointModel.open(FIXTURES / fixture) as model:
        mounts = model.mounts
        spec = model.container.spec
    assert mounts.warnings == []
    assert [m.destination for m in mounts.spec] == [m["destination"] for m in spec["mounts"]]
    assert [m.type for m in mounts.spec] == [m.get("type") for m in spec["mounts"]]
    kernel = {m.mountpoint: m for m in mounts.kernel}
    assert kernel["/"].fstype == "overlay"
    assert {"/proc", "/dev", "/dev/shm", "/sys/fs/cgroup"} <= set(kernel)
    assert {kernel[point].fstype for point in ("/dev", "/dev/shm")} == {"tmpfs"}
    assert mounts.points >= {m.destination for m in mounts.spec} | set(kernel)


def test_a_tmpfs_is_found_by_the_device_criu_names_its_archive_after() -> None:
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model:
        by_device = model.mounts.tmpfs_by_device()
        tmpfs_images = [name for name in model.store.image_names() if name.startswith("tmpfs-dev-")]
    assert sorted(by_device.values()) == ["/dev", "/dev/shm", "/sys/fs/cgroup"]
    # each tmpfs archive CRIU wrote names a device a tmpfs was mounted from
    assert {int(name.split("-")[2].split(".")[0]) for name in tmpfs_images} <= set(by_device)


def test_a_bare_criu_dump_without_mountpoints_has_no_mounts() -> None:
    with CheckpointModel.open(FIXTURES / "bare-bash-sleep") as model:
        mounts = model.mounts
    assert (mounts.spec, mounts.warnings) == ([], [])


def test_a_spec_that_is_no_object_has_no_mounts(tmp_path: Path) -> None:
    """Once an internal error in inspect --mounts and diff: a spec.dump holding a JSON list."""
    root = tmp_path / "checkpoint"
    with tarfile.open(FIXTURES / "counters-blog.tar") as tar:
        tar.extractall(root, filter="tar")
    (root / "spec.dump").write_text("[1, 2]")
    with CheckpointModel.open(root) as model:
        assert model.mounts.spec == []
        assert "/dev" in {m.mountpoint for m in model.mounts.kernel}
        lost = "engine, pod, annotations and mounts unknown"
        assert model.container.warnings == [f"spec.dump: not a JSON object ({lost})"]
