"""``Layers``: what the container changed on disk, as the checkpoint carries it
(``model.layers``).

Podman and CRI-O put the files the container added or modified into ``rootfs-diff.tar`` and
the paths it removed into ``deleted.files``; containerd puts its OCI layer blob there, removals
as whiteouts inside. The container's /dev/shm is archived as ``devshm-checkpoint.tar`` and each
tmpfs mount by CRIU as ``tmpfs-dev-N.tar.gz.img``, named after the mount's device number, which
the mountpoints images turn into the place it was mounted. Each layer is opened here and walked
streaming (``archive/layers.py``); what its entries mean is the analysis' (``rootfs.py``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from checkforensics.archive import Checkpoint
from checkforensics.diagnostics import Diagnostics, Part
from checkforensics.errors import CheckforensicsError

if TYPE_CHECKING:
    from checkforensics.archive.layers import LayerEntry

ROOTFS_DIFF = "rootfs-diff.tar"
DELETED_FILES = "deleted.files"
DEVSHM = "devshm-checkpoint.tar"
ROOTFS = "rootfs"  # the name of the container's own layer, the only one where whiteouts mean anything
_TMPFS_IMAGE = re.compile(r"tmpfs-dev-(\d+)\.tar\.gz\.img$")
_DELETED_LIMIT = 64 << 20


@dataclass(frozen=True)
class LayerArchive:
    """One archive of changed files in the checkpoint."""

    name: str  # rootfs, /dev/shm, tmpfs <mount point> (tmpfs dev N when the mount is unknown)
    member: str  # where it is in the checkpoint
    root: str  # where its paths lie inside the container
    size: int | None  # the member's, which bounds how far it may expand


class Layers:
    """The layer archives of one checkpoint, in the order ``rootfs``, ``/dev/shm``, tmpfs
    mounts by image name, and ``deleted.files``."""

    def __init__(
        self, archive: Checkpoint, tmpfs_mounts: Callable[[], dict[int, str]], diagnostics: Diagnostics | None = None
    ) -> None:
        self._archive = archive
        self.diagnostics = diagnostics if diagnostics is not None else Diagnostics()  # the checkpoint's
        self._tmpfs_mounts = tmpfs_mounts  # tmpfs mount points by device number, read when first needed

    @cached_property
    def archives(self) -> list[LayerArchive]:
        """Every layer archive present."""
        archive = self._archive
        mount_points = self._tmpfs_mounts()
        found = []
        if archive.has(ROOTFS_DIFF):
            found.append(self._layer(ROOTFS, ROOTFS_DIFF, "/"))
        if archive.has(DEVSHM):
            found.append(self._layer("/dev/shm", DEVSHM, "/dev/shm"))
        for image in sorted(archive.image_names()):
            match = _TMPFS_IMAGE.search(image)
            if match:
                device = int(match[1])
                where = mount_points.get(device)
                name = f"tmpfs {where or 'dev ' + str(device)}"
                found.append(self._layer(name, archive.images_prefix + image, where or "/"))
        return found

    def _layer(self, name: str, member: str, root: str) -> LayerArchive:
        info = self._archive.member(member)
        return LayerArchive(name, member, root, info.size if info is not None else None)

    @contextlib.contextmanager
    def entries(self, layer: LayerArchive, *, digest: bool = True) -> Iterator[Iterator[LayerEntry]]:
        """The entries of ``layer``, streaming while the context is open; with ``digest``, each
        regular file's SHA-256. A damaged layer raises ArchiveError where the damage is."""
        from checkforensics.archive.layers import layer_entries

        with self._archive.open_member(layer.member) as stream:
            yield layer_entries(stream, where=layer.member, size=layer.size, digest=digest)

    def deleted(self) -> list[str]:
        """The paths deleted.files lists, as it lists them (none without it); what is wrong
        with it is said to the checkpoint's diagnostics (part ``changes``)."""
        if not self._archive.has(DELETED_FILES):
            return []
        say = self.diagnostics.warn
        try:
            data = json.loads(self._archive.read(DELETED_FILES, limit=_DELETED_LIMIT))
        except (ValueError, UnicodeDecodeError) as exc:
            say(f"not a JSON list ({exc})", where=DELETED_FILES, part=Part.CHANGES)
            return []
        except CheckforensicsError as exc:
            say(str(exc), part=Part.CHANGES)
            return []
        if not isinstance(data, list):
            say("not a JSON list", where=DELETED_FILES, part=Part.CHANGES)
            return []
        return [str(item) for item in data]
