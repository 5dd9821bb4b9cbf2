"""The files whose bytes a checkpoint holds, each hashed once: what iocs takes its SHA-256
indicators and dropped paths from, and the text of dropped scripts.

Three places hold a file's bytes: the container's layers (rootfs-diff.tar, /dev/shm, tmpfs
archives), CRIU's ghost files (a file deleted while a process still had it open or ran it) and
memfds (read through their shared memory object). ``files_in_checkpoint`` is the one function
that finds them; when the model gains an accessor of its own for "the bytes of a file that are
in the checkpoint", this function is the one to point at it.

Bounds: a layer member is hashed as it streams by, in chunks of 1 MiB, and only its first
``TEXT_LIMIT`` bytes are kept (for the text sources); ghost files and memfds come as the
descriptor table reads them (``recover``'s objects: a ghost file is at most what CRIU's
``--ghost-limit`` let it save, 1 MiB by default; a memfd is read whole).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from checkforensics.analysis.inflight import objects_in_flight
from checkforensics.analysis.rootfs import walk_layers

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel

TEXT_LIMIT = 1 << 20  # bytes of one file kept to be read as text; the rest is only hashed
_CHUNK = 1 << 20
_BINARY_PROBE = 8192  # a NUL in the first 8 KiB: not text
# Where a program or script written by the container is suspicious in itself (besides any file
# whose mode makes it executable): temporary and shared-memory directories and any hidden path.
SUSPICIOUS_PLACES = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/", "/var/run/", "/dev/mqueue/")
_EXECUTABLE_HEADERS = (b"\x7fELF", b"#!")


@dataclass
class HeldFile:
    """One file whose bytes are in the checkpoint."""

    path: str  # as the container saw it; a memfd as memfd:NAME
    kind: str  # rootfs-diff (or the layer's name: /dev/shm, tmpfs MOUNT), deleted-file, memfd
    size: int
    sha256: str
    head: bytes  # its first TEXT_LIMIT bytes
    mode: int | None = None  # permission bits, for a layer member
    holders: list[str] = field(default_factory=list)  # "pid 14 (.sshd-helper) exe", "pid 7 fd 3"
    complete: bool = True  # False: only part of the bytes were in the checkpoint

    @property
    def executable(self) -> bool:
        """A program or script: an executable mode bit, an ELF or ``#!`` header, or run by a process."""
        return bool(
            (self.mode or 0) & 0o111
            or self.head.startswith(_EXECUTABLE_HEADERS)
            or any(holder.endswith(" exe") for holder in self.holders)
        )

    @property
    def suspicious_place(self) -> bool:
        hidden = any(part.startswith(".") and part not in (".", "..") for part in self.path.split("/"))
        return self.kind != "rootfs-diff" or hidden or self.path.startswith(SUSPICIOUS_PLACES)

    @property
    def is_text(self) -> bool:
        return b"\0" not in self.head[:_BINARY_PROBE]

    @property
    def text(self) -> str:
        return self.head.decode("utf-8", "backslashreplace")


def files_in_checkpoint(model: CheckpointModel) -> Iterator[HeldFile]:
    """Every regular file the container wrote (its layers; the runtime's own entries left out),
    then every deleted-but-open file and memfd, each once with every descriptor holding it."""
    for item in walk_layers(model, digest=False):
        if item.marker is not None or item.reason is not None or not item.entry.info.isfile():
            continue
        if item.entry.cut is not None:  # a sparse file claiming far more than is stored: said by the layers
            continue
        handle = item.entry.open()
        digest, head, size = hashlib.sha256(), b"", 0
        while handle is not None and (chunk := handle.read(_CHUNK)):
            digest.update(chunk)
            if len(head) < TEXT_LIMIT:
                head += chunk[: TEXT_LIMIT - len(head)]
            size += len(chunk)
        kind = "rootfs-diff" if item.layer == "rootfs" else item.layer
        yield HeldFile(item.changed.path, kind, size, digest.hexdigest(), head, item.changed.mode)
    objects = objects_in_flight(model.files(with_data=True), model.diagnostics)
    for obj in objects.objects:
        if obj.kind not in ("deleted-file", "memfd"):
            continue
        data = b"".join(obj.parts)
        path = obj.descriptor.path or f"{obj.kind} {obj.object_id}"
        holders = [f"pid {h['pid']} ({h['comm']}) {'exe' if h['fd'] == 'exe' else 'fd ' + str(h['fd'])}"
                   for h in obj.holders]  # fmt: skip
        yield HeldFile(path, obj.kind, len(data), hashlib.sha256(data).hexdigest(), data[:TEXT_LIMIT],
                       holders=holders, complete=obj.complete)  # fmt: skip
