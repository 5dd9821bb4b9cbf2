"""The bytes of a file that the checkpoint itself holds: ``model.contents(...)``.

A checkpoint holds a file's content in three cases, each because nothing else could bring it
back at restore: a memfd (its pages, dumped as a shared memory object, ``pagemap-shmem-N``), a
file deleted while open or mapped (CRIU's ghost file, ``ghost-file-N.img``, sparse ones in
chunks), and a file the container wrote (``rootfs-diff.tar``, ``/dev/shm``'s and each tmpfs's
archive: ``model.layers``). Everything that shows such bytes or their hash (``recover``,
``files --data``, ``ps --hash``) reads them here, so each kind is read one way.

Nothing is read until asked: a ``Contents`` knows where its bytes lie, ``read()`` reads them and
``sha256`` hashes them (once).

References: criu/files-reg.c (dump_ghost_file: whole, or in chunks with --ghost-fiemap),
criu/memfd.c (CRIU 4.2), images/ghost-file.proto, images/memfd.proto.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.model.fdnames import remap_kind

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.model.store import ImageStore

SIZE_LIMIT = 1 << 30  # a ghost file laid out whole: a size claimed past it is not believed
MEMFD = "memfd"
GHOST_FILE = "ghost-file"
LAYER = "layer"


class Contents:
    """A file's bytes as the checkpoint holds them. ``kind``: memfd, ghost-file or layer;
    ``where``: the image or member they lie in (``ghost-file-3.img``, ``pagemap-shmem-13.img``,
    ``rootfs-diff.tar:/usr/bin/x``); ``size``: the file's size. ``read()`` raises
    CheckforensicsError when they cannot be read; ``complete`` is False when only part could be
    (pages of a memfd missing from the dump)."""

    def __init__(self, kind: str, where: str, size: int | None, reader: Callable[[], tuple[bytes, bool]]) -> None:
        self.kind = kind
        self.where = where
        self._size = size
        self._reader = reader
        self._complete: bool | None = None

    def read(self) -> bytes:
        data, self._complete = self._reader()
        if self._size is None:
            self._size = len(data)
        return data

    @property
    def size(self) -> int:
        if self._size is None:
            self.read()
        return self._size  # type: ignore[return-value]

    @property
    def complete(self) -> bool:
        if self._complete is None:
            self.read()
        return bool(self._complete)

    @cached_property
    def sha256(self) -> str:
        """The SHA-256 of the bytes read (hexadecimal), made once."""
        return hashlib.sha256(self.read()).hexdigest()

    def __repr__(self) -> str:
        return f"Contents({self.kind!r}, {self.where!r}, size={self._size})"


def ghost_file(store: ImageStore, remap_id: int) -> Contents | None:
    """The content CRIU saved of a deleted file (remap id ``remap_id``, every open of the file
    shares it), or None when its ghost image is not in the checkpoint."""
    name = f"ghost-file-{remap_id}.img"
    if not store.has(name):
        return None
    return Contents(GHOST_FILE, name, None, lambda: (_ghost_bytes(store.image(name).entries, name), True))


def _ghost_bytes(entries: list[Any], name: str) -> bytes:
    """A ghost image's content: the payload after its one entry, or (``--ghost-fiemap``) its
    chunks, each at its offset, holes left as zeros up to the size it records."""
    if not entries:
        raise CheckforensicsError("no entry: the deleted file's content unknown", where=name)
    ghost = entries[0].message
    if not ghost.chunks:
        return entries[0].extra or b""
    ends = [chunk.message.off + chunk.message.len for chunk in entries[1:]]
    size = ghost.size if ghost.HasField("size") else max(ends, default=0)
    if size > SIZE_LIMIT or max(ends, default=0) > size:
        raise CheckforensicsError(
            f"a deleted file of {size} bytes with chunks up to {max(ends, default=0)}: not laid out "
            f"(at most {SIZE_LIMIT} bytes, its chunks inside it)",
            where=name,
        )
    content = bytearray(size)
    for chunk in entries[1:]:
        start = chunk.message.off
        content[start : start + len(chunk.extra or b"")] = chunk.extra or b""
    return bytes(content)


def memfd(inode: Any, shared: Any) -> Contents | None:
    """A memfd's content (``inode``: its MemfdInodeEntry) read through its shared memory object
    ``shared`` (a ``SharedMemory``), or None when the checkpoint has no such object."""
    if shared is None:
        return None

    def reader() -> tuple[bytes, bool]:
        data, got = shared.read_available(0, inode.size)
        return data, got == inode.size

    return Contents(MEMFD, f"pagemap-shmem-{inode.shmid}.img", inode.size, reader)


class FileContents:
    """Which files of a checkpoint it holds the bytes of, by file id (``model.contents``): the
    memfds of files.img, the deleted files remap-fpath.img gives a ghost file, and the paths
    the layers hold. Built once a model, from the small images only."""

    def __init__(self, model: CheckpointModel) -> None:
        store = model.store
        self._model = model
        self._memfds: dict[int, int] = {}  # file id -> memfd inode id
        self._ghosts: dict[int, int] = {}  # file id -> remap id
        try:
            if store.has("files.img"):
                self._memfds = {e.id: e.memfd.inode_id for e in store.messages("files.img") if e.HasField("memfd")}
            if store.has("remap-fpath.img"):
                remaps = store.messages("remap-fpath.img")
                self._ghosts = {r.orig_id: r.remap_id for r in remaps if remap_kind(r) == "GHOST"}
        except CheckforensicsError as exc:
            store.diagnostics.warn(f"files whose content the checkpoint holds unknown: {exc}", part=Part.FILES)

    def of(self, item: Any) -> Contents | None:
        """``item``: a path in the container, or anything with a ``file_id`` (a descriptor, a
        process's ``exe``)."""
        model = self._model
        if isinstance(item, str):
            return model.layers.find(item)
        file_id = item.file_id
        if file_id in self._memfds:
            inode = memfd_inode(model.store, self._memfds[file_id])
            return memfd(inode, model.shared_object(inode.shmid)) if inode is not None else None
        if file_id in self._ghosts:
            return ghost_file(model.store, self._ghosts[file_id])
        path = model.file_names.get(file_id)
        if path is None or not path.startswith("/") or file_id in model.deleted_files:
            return None  # a linked remap's file: deleted, its content not saved
        return model.layers.find(path)


def memfd_inode(store: ImageStore, inode_id: int) -> Any:
    """The MemfdInodeEntry ``inode_id`` (memfd.img), or None."""
    if not store.has("memfd.img"):
        return None
    return next((i for i in store.messages("memfd.img") if i.inode_id == inode_id), None)
