"""What the container changed on disk: rootfs-diff.tar, deleted.files, and tmpfs/shm contents.

Podman and CRI-O put every file the container added or modified in its writable layer into
``rootfs-diff.tar`` (a plain tar) and every path it removed into ``deleted.files``. containerd
copies the layer blob of its checkpoint image instead: ``rootfs-diff.tar`` is then gzip
compressed whatever its name says, and removals are OCI whiteouts inside it (``.wh.NAME``: NAME
was deleted; ``.wh..wh..opq``: the directory was made opaque, nothing below it in the image
shows through). So every layer is read by its content (plain, gzip or zstd, by its first
bytes), and whiteouts become deletions in ``RootfsChanges.deleted``, beside deleted.files'.
The container's /dev/shm and tmpfs mounts are archived separately (``devshm-checkpoint.tar``,
CRIU's ``tmpfs-dev-N.tar.gz.img`` per mount id). The model hands out every layer
(``model.layers``), read straight from the checkpoint, streaming, with nothing written to disk;
``rootfs_extraction`` writes the changes out on request.

Not every entry is the container's doing. CRIU archives every tmpfs, so the ``/dev`` and
``/sys/fs/cgroup`` the runtime (runc, crun) mounted come with the device nodes, links and mount
point directories the runtime put there, and runc leaves an empty file in the writable layer
for each file it bind-mounts (``/etc/hosts``). Such entries are told apart one by one
(``runtime_reason``), by what they are, never by which layer holds them: anything else in
``/dev`` (a file an intruder wrote there, a device at a default name with the wrong numbers)
stays the container's.

References: the OCI image spec, layer.md (whiteouts); containerd's
internal/cri/server/container_checkpoint_linux.go (writeRootFsDiffTar).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import stat
import tarfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from checkforensics.diagnostics import Part
from checkforensics.errors import ArchiveError, CheckforensicsError, MemberNotFoundError
from checkforensics.model import CheckpointModel
from checkforensics.model.layers import ROOTFS, container_path
from checkforensics.records.declare import Field, RecordType
from checkforensics.records.values import INTEGER, SIZE, TEXT, TIME

if TYPE_CHECKING:
    from checkforensics.archive.layers import LayerEntry

_MEMBER_LIMIT = 1 << 30  # one file's content, for --show and hashing
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


@dataclass(frozen=True)
class ChangedFile:
    """One member of a layer archive: a file the container wrote."""

    path: str  # absolute, as inside the container
    type: str  # file, dir, symlink, hardlink, char, block, fifo
    size: int
    mode: int  # permission bits
    uid: int
    gid: int
    mtime: str  # RFC 3339, UTC
    linkname: str | None = None
    sha256: str | None = None  # of the content, for regular files


@dataclass(frozen=True)
class RuntimeEntry:
    """An entry the container runtime made, not the container: the file and why it is the runtime's."""

    file: ChangedFile
    reason: str  # "mount point", "default device", "spec device", "default link"


@dataclass
class Layer:
    """One archive of changed files: the rootfs diff, /dev/shm, or a tmpfs mount."""

    name: str  # rootfs, /dev/shm, tmpfs:<mnt_id>
    member: str  # where it is in the checkpoint
    files: list[ChangedFile] = field(default_factory=list)  # the container's changes
    runtime: list[RuntimeEntry] = field(default_factory=list)  # what the runtime made (runtime_reason)


@dataclass
class RootfsChanges:
    layers: list[Layer]
    deleted: list[str]  # deleted.files first, then the rootfs layer's whiteouts; each path once
    warnings: list[str] = field(default_factory=list)  # what the changes' part said
    opaque: list[str] = field(default_factory=list)  # directories the layer made opaque
    whiteouts: list[str] = field(default_factory=list)  # the deleted paths the layer's whiteouts say
    # with digests: the first HEAD bytes of each regular file of the container's, (layer, path) ->
    # bytes, as the walk hashed them (so that reading them costs no second walk), HEADS_KEPT in all
    heads: dict[tuple[str, str], bytes] = field(default_factory=dict)
    heads_left_out: int = 0  # regular files of the container's whose first bytes were past HEADS_KEPT

    @property
    def rootfs(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.name == "rootfs"), None)

    @property
    def files(self) -> list[tuple[str, ChangedFile]]:
        """The container's changed files in every layer, as (layer name, file)."""
        return [(layer.name, f) for layer in self.layers for f in layer.files]

    @property
    def runtime(self) -> list[tuple[str, RuntimeEntry]]:
        """The entries the runtime made, as (layer name, entry)."""
        return [(layer.name, entry) for layer in self.layers for entry in layer.runtime]


_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True)
class LayerFile:
    """A changed file with the layer holding it and, when the runtime made it, why."""

    layer: str | None
    file: ChangedFile
    reason: str | None = None  # runtime_reason; None: the container's

    def __getattr__(self, name: str) -> Any:  # the file's own fields
        return getattr(self.file, name)


CHANGED_FILE = RecordType(
    "changed_file",
    "changed",
    (
        Field("layer", TEXT, "rootfs, /dev/shm or tmpfs MOUNTPOINT"),
        Field("origin", TEXT, "container, or runtime", get=lambda f: "runtime" if f.reason else "container"),
        Field("runtime_reason", TEXT, "why the runtime made it: mount point, default device, spec device, "
              "default link", get=lambda f: f.reason),
        Field("path", TEXT),
        Field("type", TEXT, "file, dir, symlink, hardlink, char, block, fifo"),
        Field("size", SIZE),
        Field("mode", TEXT, "the permission bits in octal: 0644", get=lambda f: f"{f.mode:04o}"),
        Field("uid", INTEGER),
        Field("gid", INTEGER),
        Field("mtime", TIME),
        Field("linkname", TEXT),
        Field("sha256", TEXT, "of a regular file's content"),
    ),
    doc="A file a layer of the checkpoint holds: one the container (or the runtime) changed.",
)  # fmt: skip
LAYER = RecordType(
    "layer",
    "layers",
    (
        Field("name", TEXT),
        Field("member", TEXT, "where it is in the checkpoint"),
        Field("entries", INTEGER, "both origins", get=lambda layer: len(layer.files) + len(layer.runtime)),
        Field("runtime", INTEGER, "entries the runtime made", get=lambda layer: len(layer.runtime)),
    ),
    doc="An archive of changed files: rootfs-diff.tar, /dev/shm, a tmpfs mount.",
)  # fmt: skip


def changed_file_record(changed: ChangedFile, layer: str | None = None, runtime: str | None = None) -> dict[str, Any]:
    """The JSON form of a changed file (``CHANGED_FILE``); ``runtime``: why the runtime, not the
    container, made it (None: the container's)."""
    return CHANGED_FILE.json(LayerFile(layer, changed, runtime))


def _iso(timestamp: float) -> str:
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


def whiteout(path: str) -> tuple[str, str] | None:
    """What an OCI whiteout entry at ``path`` (absolute) means: ``("deleted", PATH)`` for
    ``.wh.NAME``, ``("opaque", DIRECTORY)`` for ``.wh..wh..opq``; None for an ordinary file.
    Other ``.wh..wh.`` names (aufs' own bookkeeping) mean ``("meta", path)``."""
    parent, _, base = path.rpartition("/")
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    parent = parent or "/"
    if base == OPAQUE_MARKER:
        return "opaque", parent
    if base.startswith(WHITEOUT_PREFIX * 2):
        return "meta", path
    return "deleted", posixpath.join(parent, base[len(WHITEOUT_PREFIX) :])


def changed_files(entries: Iterator[LayerEntry], root: str = "/") -> Iterator[tuple[ChangedFile, LayerEntry]]:
    """Each entry of a layer (``model.layers.entries``) as the changed file it is, its paths
    placed under ``root`` inside the container; the archive's own root entry ("./") left out.
    Whiteouts come as they are, for the caller to read with ``whiteout``."""
    for entry in entries:
        info = entry.info
        path = container_path(info.name, root)
        if path == root and info.isdir():
            continue  # the archive's own root entry ("./")
        changed = ChangedFile(
            path=path,
            type=_TYPES.get(info.type, "other"),
            size=info.size if info.isfile() else 0,
            mode=stat.S_IMODE(info.mode),
            uid=info.uid,
            gid=info.gid,
            mtime=_iso(info.mtime),
            linkname=info.linkname or None,
            sha256=entry.sha256,
        )
        yield changed, entry


def layer_whiteout(layer: str, path: str) -> tuple[str, str] | None:
    """Whiteouts mean something only in the container's own layer (an OCI layer); in a
    tmpfs or /dev/shm archive a ``.wh.`` file is just a file."""
    return whiteout(path) if layer == ROOTFS else None


# What every OCI runtime puts in the container's /dev (the runtime spec's config-linux.md,
# "Default Devices" and "/dev symbolic links"; runc's libcontainer/rootfs_linux.go, crun alike):
# the devices with their (major, minor), and the links with their targets.
DEFAULT_DEVICES = {
    "/dev/null": (1, 3),
    "/dev/zero": (1, 5),
    "/dev/full": (1, 7),
    "/dev/random": (1, 8),
    "/dev/urandom": (1, 9),
    "/dev/tty": (5, 0),
}
DEFAULT_LINKS = {
    "/dev/fd": "/proc/self/fd",
    "/dev/stdin": "/proc/self/fd/0",
    "/dev/stdout": "/proc/self/fd/1",
    "/dev/stderr": "/proc/self/fd/2",
    "/dev/ptmx": "pts/ptmx",
    "/dev/core": "/proc/kcore",
}


@dataclass(frozen=True)
class RuntimeMade:
    """What the runtime made in this container: its mount points (the kernel's, from CRIU's
    mountpoints images, and the OCI spec's destinations) and the devices its spec adds."""

    mount_points: frozenset[str] = frozenset()
    spec_devices: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # path: (type, major, minor)

    @classmethod
    def of(cls, model: CheckpointModel) -> RuntimeMade:
        spec = model.container.spec  # its warnings are show's and inspect's to give
        points = model.mounts.points
        devices = {}
        linux = spec.get("linux") if isinstance(spec, dict) else None
        listed = linux.get("devices") if isinstance(linux, dict) else None
        for device in listed if isinstance(listed, list) else []:
            if isinstance(device, dict) and isinstance(device.get("path"), str):
                kind = {"c": "char", "u": "char", "b": "block", "p": "fifo"}.get(device.get("type"), "other")
                devices[device["path"]] = (kind, device.get("major"), device.get("minor"))
        return cls(frozenset(container_path(p) for p in points), devices)


def runtime_reason(layer: str, changed: ChangedFile, info: tarfile.TarInfo, made: RuntimeMade) -> str | None:
    """Why the runtime, not the container, made this entry of ``layer``; None if the container did.

    In the writable layer (rootfs): an empty file or a directory at a mount point (runc creates
    them to mount onto). In a tmpfs: a directory at a mount point; in the tmpfs at /dev, a
    default device with its numbers, a device of the spec with its type and numbers, a default
    link with its target. Everything else is the container's, /dev/shm's content always.
    """
    if layer == "/dev/shm":
        return None
    at_mount_point = changed.path in made.mount_points
    if changed.type == "dir" and at_mount_point:
        return "mount point"
    if layer == ROOTFS:
        return "mount point" if changed.type == "file" and changed.size == 0 and at_mount_point else None
    if changed.type in ("char", "block"):
        numbers = (info.devmajor, info.devminor)
        if changed.type == "char" and DEFAULT_DEVICES.get(changed.path) == numbers:
            return "default device"
        if made.spec_devices.get(changed.path) == (changed.type, *numbers):
            return "spec device"
    if changed.type == "symlink" and DEFAULT_LINKS.get(changed.path) == changed.linkname:
        return "default link"
    return None


@dataclass(frozen=True)
class LayerItem:
    """One entry of a layer as the walk goes by: the changed file, its tar entry (its content
    readable until the walk moves on), what a whiteout means (``layer_whiteout``) and why the
    runtime made it (``runtime_reason``); neither set: a file of the container's."""

    layer: str
    changed: ChangedFile
    entry: LayerEntry
    marker: tuple[str, str] | None
    reason: str | None


def walk_layers(model: CheckpointModel, *, digest: bool = True, head: int = 0) -> Iterator[LayerItem]:
    """Every entry of every layer (rootfs-diff.tar, /dev/shm, tmpfs mounts), streaming, told
    apart: whiteouts, the runtime's, the container's; with ``digest``, each regular file's
    sha256 and its first ``head`` bytes (``item.entry.head``). A damaged layer is said to the
    diagnostics (part ``changes``, with how many entries were read) and the next one walked."""
    layers = model.layers
    made = RuntimeMade.of(model)
    for archive in layers.archives:
        read = 0
        try:
            with layers.entries(archive, digest=digest, head=head) as entries:
                for changed, entry in changed_files(entries, archive.root):
                    marker = layer_whiteout(archive.name, changed.path)
                    reason = runtime_reason(archive.name, changed, entry.info, made) if marker is None else None
                    read += marker is None  # files, the container's and the runtime's
                    yield LayerItem(archive.name, changed, entry, marker, reason)
        except CheckforensicsError as exc:
            model.diagnostics.warn(f"{exc}; {read} entries read", part=Part.CHANGES)


# What each open model's layers hold, walked once per command whoever asks (triage's context,
# the report's timeline): the layers are archives read streaming, a walk costs their size.
_WALKED: weakref.WeakKeyDictionary[CheckpointModel, tuple[bool, RootfsChanges]] = weakref.WeakKeyDictionary()
HEAD = 1 << 20  # bytes of each of the container's files kept by a walk with digests (heads)
HEADS_KEPT = 64 << 20  # and in all


def rootfs_changes(model: CheckpointModel, *, digest: bool = True) -> RootfsChanges:
    """Every changed file of every layer (rootfs-diff.tar, /dev/shm, tmpfs mounts), the
    container's apart from the runtime's (``Layer.files``, ``Layer.runtime``), and the deleted
    paths; ``digest``: with each regular file's sha256, and the first bytes of the container's
    (``heads``). The layers are walked once per model: a later call gets the same answer (one
    made with digests serves a call without)."""
    walked = _WALKED.get(model)
    if walked is not None and (walked[0] or not digest):
        return walked[1]
    changes = _walk_layers(model, digest)
    _WALKED[model] = (digest, changes)
    return changes


def _walk_layers(model: CheckpointModel, digest: bool) -> RootfsChanges:
    layers = model.layers
    changes = RootfsChanges([Layer(archive.name, archive.member) for archive in layers.archives], [])
    by_name = {layer.name: layer for layer in changes.layers}
    whiteouts: list[str] = []
    kept = 0
    for item in walk_layers(model, digest=digest, head=HEAD if digest else 0):
        layer, changed, marker = by_name[item.layer], item.changed, item.marker
        if item.reason is not None:
            layer.runtime.append(RuntimeEntry(changed, item.reason))
        elif marker is None:
            layer.files.append(changed)
            if digest and item.entry.info.isfile():
                if kept + len(item.entry.head) > HEADS_KEPT:
                    changes.heads_left_out += 1
                else:
                    changes.heads[item.layer, changed.path] = item.entry.head
                    kept += len(item.entry.head)
        elif marker[0] == "deleted":
            whiteouts.append(marker[1])
        elif marker[0] == "opaque":
            changes.opaque.append(marker[1])
    listed = [container_path(path) for path in layers.deleted()]
    changes.deleted = list(dict.fromkeys([*listed, *whiteouts]))
    changes.whiteouts = whiteouts
    changes.warnings = model.diagnostics.said(Part.CHANGES)
    return changes


def read_changed_file(model: CheckpointModel, path: str) -> tuple[LayerFile, bytes]:
    """One changed file's content from rootfs-diff.tar (or a /dev/shm or tmpfs layer)."""
    layers = model.layers
    wanted = container_path(path)
    for archive in layers.archives:
        with layers.entries(archive, digest=False) as entries:
            for changed, entry in changed_files(entries, archive.root):
                marker = layer_whiteout(archive.name, changed.path)
                if marker is not None:
                    if marker == ("deleted", wanted):
                        raise MemberNotFoundError(
                            f"{wanted} was deleted by the container (whiteout {changed.path}); "
                            "its content is not in the checkpoint",
                            where=archive.member,
                        )
                    continue
                if changed.path != wanted:
                    continue
                if not entry.info.isfile():
                    return LayerFile(archive.name, changed), b""
                if entry.info.size > _MEMBER_LIMIT:
                    raise ArchiveError(f"{wanted} is larger than {_MEMBER_LIMIT} bytes", where=archive.member)
                if entry.cut is not None:
                    raise ArchiveError(f"{wanted}: {entry.cut}", where=archive.member)
                handle = entry.open()
                content = handle.read() if handle is not None else b""
                digest = hashlib.sha256(content).hexdigest()
                return LayerFile(archive.name, replace(changed, sha256=digest)), content
    raise model.archive.not_found(f"no changed file {wanted} in the checkpoint")
