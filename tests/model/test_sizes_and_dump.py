"""``model.sizes`` (from the member listing) and ``model.dump`` (CRIU's dump-wide records), on
real checkpoints, checked against the truth files and against ``tarfile``'s own listing."""

from __future__ import annotations

import tarfile

import pytest

from checkforensics.model import CheckpointModel

from conftest import FIXTURES, truth

PAGE_SIZE = 4096


def _tar_sizes(name: str) -> dict[str, int]:
    with tarfile.open(FIXTURES / name) as tar:
        return {member.name.removeprefix("./"): member.size for member in tar.getmembers() if member.isfile()}


@pytest.mark.parametrize("fixture", ["counters-blog", "busybox-counter-criu41", "containerd-busybox"])
def test_sizes_are_the_listings(fixture: str) -> None:
    facts = truth(fixture)
    members = _tar_sizes(f"{fixture}.tar")
    with CheckpointModel.open(FIXTURES / f"{fixture}.tar") as model:
        sizes = model.sizes
    assert sizes.archive == (FIXTURES / f"{fixture}.tar").stat().st_size == facts.get("archive_size", sizes.archive)
    assert sizes.images == sum(size for name, size in members.items() if name.startswith("checkpoint/"))
    assert sizes.memory == sum(size for name, size in members.items() if name.startswith("checkpoint/pages-"))
    assert sizes.rootfs_diff == members["rootfs-diff.tar"]
    assert sizes.amdgpu_pages == []
    if "processes" in facts:  # the pages images hold every dumped page, and nothing else
        assert sizes.memory == sum(p["memory_pages"] for p in facts["processes"]) * PAGE_SIZE


def test_a_directory_measures_its_files() -> None:
    root = FIXTURES / "bare-bash-sleep"
    with CheckpointModel.open(root) as model:
        sizes = model.sizes
    files = [path for path in root.rglob("*") if path.is_file()]
    assert sizes.archive == sizes.images == sum(path.stat().st_size for path in files)
    assert sizes.memory == sum(path.stat().st_size for path in files if path.name.startswith("pages-"))
    assert sizes.rootfs_diff is None


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("counters-blog", "counters-blog.tar"),
        ("busybox-counter-criu41", "busybox-counter-criu41.tar"),
        ("bare-bash-sleep", "bare-bash-sleep"),
    ],
)
def test_the_dump_records_say_what_criu_wrote(fixture: str, path: str) -> None:
    facts = truth(fixture)
    with CheckpointModel.open(FIXTURES / path) as model:
        dump = model.dump
        assert dump.statistics() == facts["stats"]
        assert dump.process_count() == len(facts["processes"])
        assert dump.hostname == facts.get("hostname")  # the UTS namespace's; a bare dump shares the host's
        assert dump.warnings == [] and model.diagnostics.warnings() == []
