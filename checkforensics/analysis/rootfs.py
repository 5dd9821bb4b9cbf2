"""What the container changed on disk: rootfs-diff.tar, deleted.files, and tmpfs/shm contents.

Podman and CRI-O put every file the container added or modified in its writable layer into
``rootfs-diff.tar`` (a plain tar) and every path it removed into ``deleted.files``. containerd
copies the layer blob of its checkpoint image instead: ``rootfs-diff.tar`` is then gzip
compressed whatever its name says, and removals are OCI whiteouts inside it (``.wh.NAME``: NAME
was deleted; ``.wh..wh..opq``: the directory was made opaque, nothing below it in the image
shows through). So every layer is read by its content (plain, gzip or zstd, by its first
bytes), and whiteouts become deletions in ``RootfsChanges.deleted``, beside deleted.files'.
The container's /dev/shm and tmpfs mounts are archived separately (``devshm-checkpoint.tar``,
CRIU's ``tmpfs-dev-N.tar.gz.img`` per mount id). All of it is read straight from the
checkpoint, streaming, with nothing written to disk.

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
import io
import json
import posixpath
import re
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from checkforensics.archive import BLOCK, Checkpoint, detect_kind
from checkforensics.archive.compressed import decompress_errors, decompressing_reader, expansion_limit
from checkforensics.errors import ArchiveError, CheckforensicsError, MemberNotFoundError
from checkforensics.model import CheckpointModel

if TYPE_CHECKING:
    from checkforensics.output import OutputDirectory

ROOTFS_DIFF = "rootfs-diff.tar"
DELETED_FILES = "deleted.files"
DEVSHM = "devshm-checkpoint.tar"
_TMPFS_IMAGE = re.compile(r"tmpfs-dev-(\d+)\.tar\.gz\.img$")
_DELETED_LIMIT = 64 << 20
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
    warnings: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)  # directories the layer made opaque

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


def changed_file_record(changed: ChangedFile, layer: str | None = None, runtime: str | None = None) -> dict[str, Any]:
    """The JSON form of a changed file (``mode`` as octal text, as ``ls`` and tar show it);
    ``runtime``: why the runtime, not the container, made it (None: the container's)."""
    return {
        "layer": layer,
        "origin": "runtime" if runtime else "container",
        "runtime_reason": runtime,
        "path": changed.path,
        "type": changed.type,
        "size": changed.size,
        "mode": f"{changed.mode:04o}",
        "uid": changed.uid,
        "gid": changed.gid,
        "mtime": changed.mtime,
        "linkname": changed.linkname,
        "sha256": changed.sha256,
    }


def container_path(name: str, root: str = "/") -> str:
    """``home/x`` or ``./home/x`` as ``/home/x``; ``..`` can never climb above ``root``."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    clean: list[str] = []
    for part in parts:
        if part == "..":
            if clean:
                clean.pop()
        else:
            clean.append(part)
    return posixpath.join(root, *clean)


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


class _Replayed(io.RawIOBase):
    """``head`` (bytes already read from ``rest``) and then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Bounded(io.RawIOBase):
    """A decompressed layer that may not expand past ``budget`` bytes (a decompression bomb
    inside the checkpoint is held to the archive's own limit, which ``limit_text`` names)."""

    def __init__(self, stream: BinaryIO, budget: int, limit_text: str) -> None:
        self._stream = stream
        self._budget = budget
        self._limit_text = limit_text
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        self._position += len(data)
        if self._position > self._budget:
            raise ArchiveError(
                f"the layer expands past {self._limit_text}; not decompressed further (decompression bomb?)"
            )
        buffer[: len(data)] = data
        return len(data)


def layer_stream(stream: BinaryIO, size: int | None = None) -> tuple[BinaryIO, str]:
    """The tar inside a layer member, whatever its name says: ``(reader, kind)``, kind being
    "tar", "tar.gz", "tar.zst" (or xz, bzip2) as the first bytes show. Unrecognised bytes are
    handed on as a tar, for tarfile to reject with its own reason. With the member's ``size``,
    a compressed layer may expand to at most the archive layer's own bound."""
    head = stream.read(BLOCK)
    kind = detect_kind(head) or "tar"
    replayed = io.BufferedReader(_Replayed(head, stream))
    if kind == "tar":
        return replayed, kind
    reader = decompressing_reader(replayed, kind)
    if size is None:
        return reader, kind
    return io.BufferedReader(_Bounded(reader, *expansion_limit(size))), kind


def iter_layer(
    stream: BinaryIO, *, root: str = "/", digest: bool = True, where: str = "layer", size: int | None = None
) -> Iterator[tuple[ChangedFile, tarfile.TarInfo, tarfile.TarFile]]:
    """The members of a layer archive (plain, gzip or zstd, told by its content), streaming;
    regular files hashed as they pass. Whiteouts come as they are, for the caller to read
    with ``whiteout``.

    A damaged or cut archive ends the iteration with an ArchiveError naming ``where``, after
    every whole member before the damage has been yielded.
    """
    try:
        reader, _kind = layer_stream(stream, size)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for info in tar:
                path = container_path(info.name, root)
                if path == root and info.isdir():
                    continue  # the archive's own root entry ("./")
                sha = None
                if digest and info.isfile():
                    handle = tar.extractfile(info)
                    if handle is not None:
                        sha = _sha256_stream(handle, info.size)
                changed = ChangedFile(
                    path=path,
                    type=_TYPES.get(info.type, "other"),
                    size=info.size if info.isfile() else 0,
                    mode=stat.S_IMODE(info.mode),
                    uid=info.uid,
                    gid=info.gid,
                    mtime=_iso(info.mtime),
                    linkname=info.linkname or None,
                    sha256=sha,
                )
                yield changed, info, tar
    except ArchiveError as exc:
        raise exc.located(where) from None
    except (tarfile.TarError, EOFError, zlib.error, OSError, *decompress_errors()) as exc:
        raise ArchiveError(f"damaged archive ({exc})", where=where) from None


def _sha256_stream(handle: BinaryIO, size: int) -> str:
    digest = hashlib.sha256()
    remaining = size
    while remaining > 0:
        chunk = handle.read(min(remaining, 1 << 20))
        if not chunk:
            break
        digest.update(chunk)
        remaining -= len(chunk)
    return digest.hexdigest()


def _layer_members(checkpoint: Checkpoint, mount_points: dict[int, str]) -> list[tuple[str, str, str]]:
    """(layer name, member, root inside the container) for every layer present."""
    found = []
    if checkpoint.has(ROOTFS_DIFF):
        found.append(("rootfs", ROOTFS_DIFF, "/"))
    if checkpoint.has(DEVSHM):
        found.append(("/dev/shm", DEVSHM, "/dev/shm"))
    for name in sorted(checkpoint.image_names()):
        match = _TMPFS_IMAGE.search(name)
        if match:
            device = int(match[1])
            where = mount_points.get(device)
            found.append((f"tmpfs {where or 'dev ' + str(device)}", checkpoint.images_prefix + name, where or "/"))
    return found


def _size(checkpoint: Checkpoint, member: str) -> int | None:
    info = checkpoint.member(member)
    return info.size if info is not None else None


def _whiteout_of(layer: str, path: str) -> tuple[str, str] | None:
    """Whiteouts mean something only in the container's own layer (an OCI layer); in a
    tmpfs or /dev/shm archive a ``.wh.`` file is just a file."""
    return whiteout(path) if layer == "rootfs" else None


def _mount_points(model: CheckpointModel) -> dict[int, str]:
    """tmpfs mount points by device number."""
    from checkforensics.analysis.mounts import kernel_mounts

    # CRIU names a tmpfs image after the mount's device number (criu/mount.c, tmpfs-dev-%u).
    return {mount.root_dev: mount.mountpoint for mount in kernel_mounts(model, []) if mount.fstype == "tmpfs"}


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
        from checkforensics.analysis.mounts import kernel_mounts, spec_mounts

        spec = model.store.json_member("spec.dump", [])  # its warnings are show's and inspect's to give
        points = {m.destination for m in spec_mounts(spec) if m.destination}
        points |= {m.mountpoint for m in kernel_mounts(model, [])}
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
    if layer == "rootfs":
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


def read_deleted(checkpoint: Checkpoint, warnings: list[str]) -> list[str]:
    if not checkpoint.has(DELETED_FILES):
        return []
    try:
        data = json.loads(checkpoint.read(DELETED_FILES, limit=_DELETED_LIMIT))
    except (ValueError, UnicodeDecodeError) as exc:
        warnings.append(f"{DELETED_FILES}: not a JSON list ({exc})")
        return []
    except CheckforensicsError as exc:
        warnings.append(str(exc))
        return []
    if not isinstance(data, list):
        warnings.append(f"{DELETED_FILES}: not a JSON list")
        return []
    return [container_path(str(item)) for item in data]


def rootfs_changes(model: CheckpointModel, *, digest: bool = True) -> RootfsChanges:
    """Every changed file of every layer (rootfs-diff.tar, /dev/shm, tmpfs mounts), the
    container's apart from the runtime's (``Layer.files``, ``Layer.runtime``), and the deleted
    paths."""
    checkpoint = model.archive
    changes = RootfsChanges([], [])
    whiteouts: list[str] = []
    made = RuntimeMade.of(model)
    for name, member, root in _layer_members(checkpoint, _mount_points(model)):
        layer = Layer(name, member)
        try:
            with checkpoint.open_member(member) as stream:
                entries = iter_layer(stream, root=root, digest=digest, where=member, size=_size(checkpoint, member))
                for changed, info, _ in entries:
                    marker = _whiteout_of(name, changed.path)
                    reason = runtime_reason(name, changed, info, made) if marker is None else None
                    if reason is not None:
                        layer.runtime.append(RuntimeEntry(changed, reason))
                    elif marker is None:
                        layer.files.append(changed)
                    elif marker[0] == "deleted":
                        whiteouts.append(marker[1])
                    elif marker[0] == "opaque":
                        changes.opaque.append(marker[1])
        except CheckforensicsError as exc:
            changes.warnings.append(f"{exc}; {len(layer.files) + len(layer.runtime)} entries read")
        changes.layers.append(layer)
    listed = read_deleted(checkpoint, changes.warnings)
    changes.deleted = list(dict.fromkeys([*listed, *whiteouts]))
    return changes


def read_changed_file(model: CheckpointModel, path: str) -> tuple[ChangedFile, bytes]:
    """One changed file's content from rootfs-diff.tar (or a /dev/shm or tmpfs layer)."""
    checkpoint = model.archive
    wanted = container_path(path)
    for layer, member, root in _layer_members(checkpoint, _mount_points(model)):
        with checkpoint.open_member(member) as stream:
            layer_files = iter_layer(stream, root=root, digest=False, where=member, size=_size(checkpoint, member))
            for changed, info, tar in layer_files:
                marker = _whiteout_of(layer, changed.path)
                if marker is not None:
                    if marker == ("deleted", wanted):
                        raise MemberNotFoundError(
                            f"{wanted} was deleted by the container (whiteout {changed.path}); "
                            "its content is not in the checkpoint",
                            where=member,
                        )
                    continue
                if changed.path != wanted:
                    continue
                if not info.isfile():
                    return changed, b""
                if info.size > _MEMBER_LIMIT:
                    raise ArchiveError(f"{wanted} is larger than {_MEMBER_LIMIT} bytes", where=member)
                handle = tar.extractfile(info)
                return changed, handle.read() if handle is not None else b""
    raise MemberNotFoundError(f"no changed file {wanted} in the checkpoint", where=str(checkpoint.path))


@dataclass
class Extraction:
    """What ``extract_changes`` did: one manifest record per layer entry taken, and how many
    entries the runtime made were left out."""

    records: list[dict[str, object]]
    hidden: int = 0


def extract_changes(model: CheckpointModel, out: OutputDirectory, *, runtime: bool = False) -> Extraction:
    """Write the container's regular files and directories of every layer into ``out``, safely;
    with ``runtime``, those the container runtime made too (``runtime_reason``, as ``diff``
    splits them), else only counted.

    Paths are confined to ``out`` (no ``..``, absolute paths are re-rooted) and every name is
    created relative to its directory's descriptor, never through a link; links, devices and
    FIFOs are recorded, never created; existing files are never overwritten. Each record has
    layer, path, type, size, origin (and runtime_reason), sha256 or linkname, and where it was
    written (if at all).
    """
    checkpoint = model.archive
    made = RuntimeMade.of(model)
    done = Extraction([])
    for name, member, root in _layer_members(checkpoint, _mount_points(model)):
        base = [] if name == "rootfs" else [f"_{name.replace('/', '_').replace(' ', '_').strip('_')}"]
        with checkpoint.open_member(member) as stream:
            layer_files = iter_layer(stream, root="/", digest=False, where=member, size=_size(checkpoint, member))
            for changed, info, tar in layer_files:
                parts = base + [part for part in changed.path.split("/") if part]
                path = container_path(changed.path, root)
                marker = _whiteout_of(name, changed.path)
                reason = runtime_reason(name, replace(changed, path=path), info, made) if marker is None else None
                if reason is not None and not runtime:
                    done.hidden += 1
                    continue
                record: dict[str, object] = {
                    "layer": name,
                    "path": path,
                    "type": changed.type,
                    "size": changed.size,
                    "origin": "runtime" if reason else "container",
                    "runtime_reason": reason,
                    "written": None,
                }
                if marker is not None:  # a deletion, recorded, never written as a file
                    record.update(type=marker[0], path=marker[1], size=0)
                    done.records.append(record)
                    continue
                if info.isdir():
                    out.subdirectories(parts).close()
                elif info.isfile() and parts:
                    handle = tar.extractfile(info)
                    digest = hashlib.sha256()
                    with out.subdirectories(parts[:-1]) as directory, directory.new_file(parts[-1]) as written:
                        while handle is not None and (chunk := handle.read(1 << 20)):
                            digest.update(chunk)
                            written.write(chunk)
                    record.update(sha256=digest.hexdigest(), written="/".join(parts))
                else:
                    record["linkname"] = changed.linkname
                done.records.append(record)
    return done
