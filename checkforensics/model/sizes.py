"""``Sizes``: how big a checkpoint and its parts are, from the member listing alone
(``model.sizes``); no member is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checkforensics.archive import Checkpoint
from checkforensics.model.layers import ROOTFS_DIFF

_PAGES = re.compile(r"(?:^|/)pages-\d+\.img$")
# CRIU's amdgpu plugin writes the GPU's buffer objects as amdgpu-pages-<id>-<gpu id>.img: opaque
# to us (no pagemap places them in a process), counted apart and never read.
AMDGPU_PAGES = re.compile(r"(?:^|/)amdgpu-pages-[^/]*$")


@dataclass(frozen=True)
class Sizes:
    """Bytes, as the listing gives them."""

    archive: int  # the archive file (a directory: all its files)
    images: int  # the CRIU images (checkpoint/), as checkpointctl's CHKPT SIZE
    memory: int  # dumped process memory (pages-*.img)
    amdgpu_pages: list[tuple[str, int]]  # the amdgpu plugin's GPU memory images: (member, size)
    rootfs_diff: int | None  # None: no rootfs-diff.tar in the checkpoint


def measure(checkpoint: Checkpoint) -> Sizes:
    """The sizes of ``checkpoint`` and of its images, memory, GPU memory and rootfs diff."""
    images = [
        member
        for member in checkpoint.members()
        if member.kind == "file" and member.name.startswith(checkpoint.images_prefix)
    ]
    diff = checkpoint.member(ROOTFS_DIFF)
    return Sizes(
        archive=_archive_size(checkpoint),
        images=sum(member.size for member in images),
        memory=sum(member.size for member in images if _PAGES.search(member.name)),
        amdgpu_pages=[(member.name, member.size) for member in images if AMDGPU_PAGES.search(member.name)],
        rootfs_diff=diff.size if diff is not None else None,
    )


def _archive_size(checkpoint: Checkpoint) -> int:
    """The archive's size on disk, or for a directory the sum of its files."""
    if checkpoint.kind != "directory":
        return checkpoint.path.stat().st_size
    return sum(member.size for member in checkpoint.members() if member.kind == "file")
