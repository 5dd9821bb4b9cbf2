"""What ``show`` and ``inspect`` report about a checkpoint as a whole.

Everything here comes from the model's container metadata, sizes and dump-wide records; no
memory page is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel
from checkforensics.model.engines import ContainerInfo


@dataclass
class Overview:
    """A checkpoint at a glance."""

    path: Path  # the archive or directory
    kind: str  # what it is: tar, tar.gz, ..., directory
    container: ContainerInfo
    archive_size: int  # the archive file (a directory: all its files)
    checkpoint_size: int  # the CRIU images (checkpoint/), as checkpointctl's CHKPT SIZE
    memory_size: int  # bytes of dumped process memory (pages-*.img)
    amdgpu_pages: list[tuple[str, int]]  # the amdgpu plugin's GPU memory images: (member, size)
    rootfs_diff_size: int | None  # None: no rootfs-diff.tar in the checkpoint
    process_count: int | None
    hostname: str | None  # the UTS namespace's nodename: what the kernel said, maybe not what the engine set
    stats: dict[str, int] | None  # stats-dump's "dump" record, CRIU's field names
    warnings: list[str] = field(default_factory=list)  # the listing's, the container's, the dump's
    checkpointed: str | None = None  # when it was taken, as best known (ContainerMetadata.checkpointed)
    checkpointed_from: str | None = None  # where that time comes from

    @property
    def amdgpu_pages_size(self) -> int | None:
        """Bytes of AMD GPU memory the amdgpu plugin dumped; None when it dumped none."""
        return sum(size for _, size in self.amdgpu_pages) if self.amdgpu_pages else None


def overview(model: CheckpointModel) -> Overview:
    """Container metadata, sizes and dump statistics of the checkpoint; no page read."""
    container, sizes, dump = model.container, model.sizes, model.dump
    model.say_listing()
    taken, source = container.checkpointed
    found = Overview(
        path=model.path,
        kind=model.kind,
        container=container.info,
        archive_size=sizes.archive,
        checkpoint_size=sizes.images,
        memory_size=sizes.memory,
        amdgpu_pages=sizes.amdgpu_pages,
        rootfs_diff_size=sizes.rootfs_diff,
        process_count=dump.process_count(),
        hostname=dump.hostname,
        stats=dump.statistics(),
        checkpointed=taken,
        checkpointed_from=source,
    )
    said = model.diagnostics.said
    found.warnings = [*said(Part.LISTING), *said(Part.CONTAINER), *said(Part.DUMP)]
    return found
