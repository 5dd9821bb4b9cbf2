"""What ``show`` and ``inspect`` report about a checkpoint as a whole.

Everything here comes from metadata files and the member listing; no memory page is read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from checkforensics.analysis.container import ContainerInfo, container_info
from checkforensics.archive import Checkpoint
from checkforensics.archive.layout import IMAGES_DIR
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


# checkpoint-<pod>_<namespace>-<container>-<RFC 3339 time>.tar, as the kubelet names them.
_KUBELET_NAME = re.compile(
    r"^checkpoint-(?P<pod>[^_]+)_(?P<rest>.+)-(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\.tar"
)


@dataclass(frozen=True)
class KubeletName:
    pod: str
    namespace: str | None
    container: str | None
    time: str


def parse_kubelet_name(name: str) -> KubeletName | None:
    """Pod, namespace, container and time from a kubelet checkpoint file name.

    Namespace and container are joined by a dash and either may contain dashes; the split is
    taken at the first dash, so archive metadata is preferred whenever it is readable.
    """
    match = _KUBELET_NAME.match(name)
    if match is None:
        return None
    namespace, _, container = match["rest"].partition("-")
    return KubeletName(match["pod"], namespace or None, container or None, match["time"])


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def checkpoint_time(checkpoint: Checkpoint, recorded: str | None) -> tuple[str, str]:
    """When the checkpoint was taken, and where that comes from: the engine's record
    (config.dump's checkpointedTime: CRI-O, containerd), the kubelet's file name, the time
    the images were archived (inventory.img's mtime: Podman records none), the file's mtime."""
    if recorded:
        return recorded, "config.dump"
    kubelet = parse_kubelet_name(checkpoint.path.name)
    if kubelet is not None:
        return kubelet.time, "file name"
    inventory = checkpoint.member(checkpoint.images_prefix + "inventory.img")
    if inventory is not None:
        return _iso(inventory.mtime), "inventory.img mtime"
    return _iso(checkpoint.path.stat().st_mtime), "file mtime"


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
    checkpointed: str | None = None  # when it was taken, as best known (checkpoint_time)
    checkpointed_from: str | None = None  # where that time comes from

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
    if model.archive.no_images is not None:
        return None  # the archive's own warning says why
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


# What is lost when a container checkpoint lacks one of its engine's records.
_RECORDS = {
    CONFIG_DUMP: "container name, image, ID and times unknown",
    SPEC_DUMP: "engine, pod, annotations and mounts unknown",
}


def metadata_warnings(checkpoint: Checkpoint, records: dict[str, object], warnings: list[str]) -> None:
    """Say which of config.dump and spec.dump a container checkpoint lacks, or holds something
    other than a JSON object (unreadable ones were said when read). A bare ``criu dump -D``
    directory has neither, and nothing is said of it."""
    if checkpoint.images_prefix != IMAGES_DIR:
        return
    for name, lost in _RECORDS.items():
        if not checkpoint.has(name):
            warnings.append(f"{name}: missing ({lost})")
        elif records[name] is not None and not isinstance(records[name], dict):
            warnings.append(f"{name}: not a JSON object ({lost})")


def overview(model: CheckpointModel) -> Overview:
    """Container metadata, sizes and dump statistics of the checkpoint; no page read."""
    checkpoint = model.archive
    warnings: list[str] = list(checkpoint.warnings)
    config = model.store.json_member(CONFIG_DUMP, warnings)
    spec = model.store.json_member(SPEC_DUMP, warnings)
    network = model.store.json_member(NETWORK_STATUS, warnings)
    status = model.store.json_member(STATUS_DUMP, warnings)
    task_status = model.store.json_member(TASK_STATUS, warnings)
    metadata_warnings(checkpoint, {CONFIG_DUMP: config, SPEC_DUMP: spec}, warnings)
    if network is not None and not isinstance(network, dict | list):
        warnings.append(f"{NETWORK_STATUS}: not a JSON object or list (no network recorded)")
    info = container_info(config, spec, network, status, task_status)
    diff = checkpoint.member(ROOTFS_DIFF)
    taken, source = checkpoint_time(checkpoint, info.checkpointed)
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
        checkpointed=taken,
        checkpointed_from=source,
    )
