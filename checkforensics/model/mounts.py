"""Mounts of the checkpointed container: the OCI spec's list and CRIU's mountpoints image
(``model.mounts``).

The spec says what the engine asked for; CRIU's ``mountpoints-N.img`` says what the kernel
had mounted at checkpoint time, which is what an analyst trusts when the two differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.images.load import text
from checkforensics.model.store import ImageStore


@dataclass(frozen=True)
class SpecMount:
    destination: str | None
    type: str | None
    source: str | None
    options: tuple[str, ...]


@dataclass(frozen=True)
class KernelMount:
    """One entry of CRIU's mountpoints image."""

    mnt_id: int
    parent_mnt_id: int
    mountpoint: str
    fstype: str  # CRIU's name for the filesystem type, or the kernel's fsname when CRIU has none
    source: str
    root: str
    options: str
    external: bool  # bind-mounted from outside the container (ext_mount / ext_key)
    root_dev: int = 0  # the superblock's device number (kernel encoding); names tmpfs-dev-N images


def spec_mounts(spec: dict[str, Any] | None) -> list[SpecMount]:
    mounts = (spec or {}).get("mounts")
    if not isinstance(mounts, list):
        return []
    found = []
    for mount in mounts:
        if not isinstance(mount, dict):
            continue
        options = mount.get("options")
        found.append(
            SpecMount(
                destination=mount.get("destination") if isinstance(mount.get("destination"), str) else None,
                type=mount.get("type") if isinstance(mount.get("type"), str) else None,
                source=mount.get("source") if isinstance(mount.get("source"), str) else None,
                options=tuple(str(o) for o in options) if isinstance(options, list) else (),
            )
        )
    return found


@dataclass
class Mounts:
    """Both views of the container's mounts; ``warnings``: the mountpoints images that could not
    be read (the spec's own are the container metadata's)."""

    spec: list[SpecMount]
    kernel: list[KernelMount]
    warnings: list[str] = field(default_factory=list)  # what the mountpoints images' part said

    @property
    def points(self) -> set[str]:
        """Every mount point either view names, as it names it."""
        return {m.destination for m in self.spec if m.destination} | {m.mountpoint for m in self.kernel}

    def tmpfs_by_device(self) -> dict[int, str]:
        """The tmpfs mount points by device number: CRIU names a tmpfs's archive after it
        (criu/mount.c, ``tmpfs-dev-%u``)."""
        return {mount.root_dev: mount.mountpoint for mount in self.kernel if mount.fstype == "tmpfs"}


def read_mounts(store: ImageStore, spec: Any) -> Mounts:
    """The spec's mounts (``spec``: spec.dump's JSON, None when absent) and every entry of the
    mountpoints images."""
    kernel = kernel_mounts(store)
    return Mounts(spec_mounts(spec if isinstance(spec, dict) else None), kernel, store.diagnostics.said(Part.MOUNTS))


def kernel_mounts(store: ImageStore) -> list[KernelMount]:
    """Every mountpoints-N.img entry (one image per mount namespace)."""
    found = []
    for name in store.image_names():
        if not (name.startswith("mountpoints-") and name.endswith(".img")):
            continue
        try:
            image = store.image(name)
        except CheckforensicsError as exc:
            store.diagnostics.warn(str(exc), part=Part.MOUNTS)
            continue
        for entry in image.messages():
            fstype = _fstype_name(entry.fstype)
            if entry.fsname and fstype in ("unsupported", "auto"):
                fstype = text(entry.fsname)
            found.append(
                KernelMount(
                    mnt_id=entry.mnt_id,
                    parent_mnt_id=entry.parent_mnt_id,
                    mountpoint=text(entry.mountpoint),
                    fstype=fstype,
                    source=text(entry.source),
                    root=text(entry.root),
                    options=text(entry.options),
                    external=bool(entry.ext_mount or entry.ext_key),
                    root_dev=entry.root_dev,
                )
            )
    return found


# criu/include/filesystems.h: CRIU's own numbering of the filesystems it knows.
_FSTYPES = {
    0: "unsupported", 1: "proc", 2: "sysfs", 3: "devtmpfs", 4: "binfmt_misc", 5: "tmpfs", 6: "devpts",
    7: "simfs", 8: "pstore", 9: "securityfs", 10: "fusectl", 11: "debugfs", 12: "cgroup", 13: "aufs",
    14: "mqueue", 15: "fuse", 16: "auto", 17: "overlay", 18: "autofs", 19: "tracefs", 23: "cgroup2",
}


def _fstype_name(number: int) -> str:
    return _FSTYPES.get(number, f"fstype {number}")
