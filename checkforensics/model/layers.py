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
import posixpath
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
    from checkforensics.model.contents import Contents

ROOTFS_DIFF = "rootfs-diff.tar"
DELETED_FILES = "deleted.files"
DEVSHM = "devshm-checkpoint.tar"
ROOTFS = "rootfs"  # the name of the container's own layer, the only one where whiteouts mean anything
_TMPFS_IMAGE = re.compile(r"tmpfs-dev-(\d+)\.tar\.gz\.img$")
_DELETED_LIMIT = 64 << 20
_FILE_LIMIT = 1 << 30  # one file's content read whole (model.contents)


def container_path(name: str, root: str = "/") -> str:
    """``home/x`` or ``./home/x`` as ``/home/x``; ``..`` can never climb above ``root``."""
    clean: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part == "..":
            if clean:
                clean.pop()
        elif part not in ("", "."):
            clean.append(part)
    return posixpath.join(root, *clean)


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
    def entries(self, layer: LayerArchive, *, digest: bool = True, head: int = 0) -> Iterator[Iterator[LayerEntry]]:
        """The entries of ``layer``, streaming while the context is open; with ``digest``, each
        regular file's SHA-256 and first ``head`` bytes. A damaged layer raises ArchiveError
        where the damage is."""
        from checkforensics.archive.layers import layer_entries

        with self._archive.open_member(layer.member) as stream:
            yield self._said(
                layer, layer_entries(stream, where=layer.member, size=layer.size, digest=digest, head=head)
            )

    def _said(self, layer: LayerArchive, entries: Iterator[LayerEntry]) -> Iterator[LayerEntry]:
        """``entries``, each whose content is not read (a sparse file's holes) said once."""
        for entry in entries:
            if entry.cut is not None:
                self.diagnostics.warn(f"{entry.info.name}: {entry.cut}", where=layer.member, part=Part.CHANGES)
            yield entry

    @cached_property
    def _files(self) -> dict[str, tuple[LayerArchive, int]]:
        """Each regular file the layers hold, by its path in the container: its layer and size
        (a later layer's file over an earlier one's, as the container saw it). One walk, headers
        only; a damaged layer gives what was read before the damage, said to the diagnostics."""
        found: dict[str, tuple[LayerArchive, int]] = {}
        for layer in self.archives:
            try:
                with self.entries(layer, digest=False) as entries:
                    for entry in entries:
                        if entry.info.isfile():
                            found[container_path(entry.info.name, layer.root)] = (layer, entry.info.size)
            except CheckforensicsError as exc:
                self.diagnostics.warn(str(exc), part=Part.CHANGES)
        return found

    def find(self, path: str) -> Contents | None:
        """The content of the regular file at ``path`` (inside the container) as a layer holds
        it (``model.contents``), or None when no layer holds one. Read when asked, by walking
        its layer again to it."""
        from checkforensics.model.contents import LAYER, Contents

        wanted = container_path(path)
        found = self._files.get(wanted)
        if found is None:
            return None
        layer, size = found

        def reader() -> tuple[bytes, bool]:
            if size > _FILE_LIMIT:
                raise CheckforensicsError(f"{wanted} is larger than {_FILE_LIMIT} bytes", where=layer.member)
            content = None
            with self.entries(layer, digest=False) as entries:
                for entry in entries:  # the last entry of that name is the file (a tar may repeat one)
                    if entry.info.isfile() and container_path(entry.info.name, layer.root) == wanted:
                        if entry.cut is not None:
                            raise CheckforensicsError(f"{wanted}: {entry.cut}", where=layer.member)
                        handle = entry.open()
                        content = handle.read() if handle is not None else b""
            if content is None:
                raise CheckforensicsError(f"{wanted} no longer found in the layer", where=layer.member)
            return content, True

        return Contents(LAYER, f"{layer.member}:{wanted}", size, reader)

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
