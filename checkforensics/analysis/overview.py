"""What ``show`` and ``inspect`` report about a checkpoint as a whole.

Everything here comes from metadata files and the member listing; no memory page is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from checkforensics.analysis.container import ContainerInfo, container_info
from checkforensics.archive import Checkpoint
from checkforensics.errors import CheckforensicsError
from checkforensics.images.load import text
from checkforensics.model import CheckpointModel

_PAGES = re.compile(r"(?:^|/)pages-\d+\.img$")
# CRIU's amdgpu plugin writes the GPU's buffer objects as amdgpu-pages-<id>-<gpu id>.img: opaque
# to us (no pagemap places them in a process), counted apart and never read.
AMDGPU_PAGES = re.compile(r"(?:^|/)amdgpu-pages-[^/]*$")

CONFIG_DUMP = "config.dump"
SPEC_DUMP = "spec.dump"
NETWORK_STATUS = "network.status"
STATUS_DUMP = "status.dump"  # containerd: the CRI ContainerStatus
TASK_STATUS = "status"  # containerd: its own record of the task (host PID, start time)
STATS_DUMP = "stats-dump"
ROOTFS_DIFF = "rootfs-diff.tar"
DELETED_FILES = "deleted.files"


@dataclass
class Overview:
    """A checkpoint at a glance."""

    checkpoint: Checkpoint
    container: ContainerInfo
    archive_size: int  # the archive file (a directory: all its files)
    checkpoint_size: int  # the CRIU images (checkpoint/), as checkpointctl's CHKPT SIZE
    memory_size: int  # bytes of dumped process memory (pages-*.img)
    amdgpu_pages: list[tuple[str, int]]  # the amdgpu plugin's GPU memory images: (member, size)
    rootfs_diff_size: int | None  # None: no rootfs-diff.tar in the checkpoint
    process_count: int | None
    hostname: str | None  # the UTS namespace's nodename: what the kernel said, maybe not what the engine set
    stats: dict[str, int] | None  # stats-dump's "dump" record, CRIU's field names
    warnings: list[str] = field(default_factory=list)

    @property
    def amdgpu_pages_size(self) -> int | None:
        """Bytes of AMD GPU memory the amdgpu plugin dumped; None when it dumped none."""
        return sum(size for _, size in self.amdgpu_pages) if self.amdgpu_pages else None


def read_stats(model: CheckpointModel, warnings: list[str]) -> dict[str, int] | None:
    """stats-dump's dump statistics, with CRIU's field names, or None when absent."""
    checkpoint = model.archive
    for name in (STATS_DUMP, checkpoint.images_prefix + STATS_DUMP):
        if checkpoint.has(name):
            break
    else:
        return None
    try:
        image = model.store.image(name)
    except CheckforensicsError as exc:
        warnings.append(str(exc))
        return None
    if image.magic != "STATS" or not image.entries:
        warnings.append(f"{name}: holds no dump statistics")
        return None
    from checkforensics.images.crit_json import message_to_dict  # only when there are statistics

    return message_to_dict(image.entries[0].message).get("dump")


def memory_size(checkpoint: Checkpoint) -> int:
    """Bytes of dumped memory: the sizes of the pages-*.img members, never their content."""
    return sum(
        member.size
        for member in checkpoint.members()
        if member.kind == "file"
        and member.name.startswith(checkpoint.images_prefix)
        and _PAGES.search(member.name)
    )


def amdgpu_pages(checkpoint: Checkpoint) -> list[tuple[str, int]]:
    """The members holding an AMD GPU's memory (CRIU's amdgpu plugin) with their sizes; names
    and sizes only, never their content."""
    return [
        (member.name, member.size)
        for member in checkpoint.members()
        if member.kind == "file"
        and member.name.startswith(checkpoint.images_prefix)
        and AMDGPU_PAGES.search(member.name)
    ]


def archive_size(checkpoint: Checkpoint) -> int:
    """The archive's size on disk, or for a directory the sum of its files."""
    if checkpoint.kind != "directory":
        return checkpoint.path.stat().st_size
    return sum(member.size for member in checkpoint.members() if member.kind == "file")


def checkpoint_size(checkpoint: Checkpoint) -> int:
    """Bytes of CRIU images (the files under checkpoint/, or all of a bare images directory)."""
    return sum(
        member.size
        for member in checkpoint.members()
        if member.kind == "file" and member.name.startswith(checkpoint.images_prefix)
    )


def process_count(model: CheckpointModel, warnings: list[str]) -> int | None:
    if not model.store.has("pstree.img"):
        warnings.append("pstree.img: missing")
        return None
    try:
        return len(model.store.image("pstree.img").entries)
    except CheckforensicsError as exc:
        warnings.append(str(exc))
        return None


def hostname_from_images(model: CheckpointModel) -> str | None:
    """The UTS namespace's nodename, for checkpoints without container metadata."""
    for name in model.store.image_names():
        if name.startswith("utsns-") and name.endswith(".img"):
            try:
                image = model.store.image(name)
            except CheckforensicsError:
                continue
            if image.entries:
                return text(image.entries[0].message.nodename) or None
    return None


def overview(model: CheckpointModel) -> Overview:
    """Container metadata, sizes and dump statistics of the checkpoint; no page read."""
    checkpoint = model.archive
    warnings: list[str] = list(checkpoint.warnings)
    config = model.store.json_member(CONFIG_DUMP, warnings)
    spec = model.store.json_member(SPEC_DUMP, warnings)
    network = model.store.json_member(NETWORK_STATUS, warnings)
    status = model.store.json_member(STATUS_DUMP, warnings)
    task_status = model.store.json_member(TASK_STATUS, warnings)
    info = container_info(config, spec, network, status, task_status)
    diff = checkpoint.member(ROOTFS_DIFF)
    return Overview(
        checkpoint=checkpoint,
        container=info,
        archive_size=archive_size(checkpoint),
        checkpoint_size=checkpoint_size(checkpoint),
        memory_size=memory_size(checkpoint),
        amdgpu_pages=amdgpu_pages(checkpoint),
        rootfs_diff_size=diff.size if diff is not None else None,
        process_count=process_count(model, warnings),
        hostname=hostname_from_images(model),
        stats=read_stats(model, warnings),
        warnings=warnings,
    )
