"""``CheckpointModel``: one view of a checkpoint that every analysis and command reads.

Opening a checkpoint gives one model. It decodes each image the first time a question needs
it (``ImageStore``) and builds each part once: the container's metadata, sizes, mounts and
layers of changed files, the process tree, every process's memory view (its own pages and the
shared memory objects it maps), the shared objects, the descriptor table, command lines and
environments. Everything is lazy: a metadata question never touches
a pages image, and a process's memory is only laid out when asked for.

The model is the only way the analyses reach the evidence: they take a model, never an
archive, so that they all see the same processes, the same memory and the same files.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from checkforensics.archive import Checkpoint
from checkforensics.archive.members import MemberInfo, is_pages_image
from checkforensics.diagnostics import Diagnostic, Diagnostics, Part
from checkforensics.errors import CheckforensicsError, NoImagesError
from checkforensics.model.processes import (
    Executable,
    Process,
    ProcessNotFoundError,
    ProcessTree,
    build_tree,
)
from checkforensics.model.store import ImageStore

# The memory, descriptor and command-line parts of the model are imported by the method that
# first needs them: a metadata question (show, list) never pays for them at start-up.
if TYPE_CHECKING:
    from checkforensics.archive.tarscan import MemberTap
    from checkforensics.model.architecture import Architecture
    from checkforensics.model.container import ContainerMetadata
    from checkforensics.model.contents import Contents, FileContents
    from checkforensics.model.dump import CriuDump
    from checkforensics.model.files import FileTable
    from checkforensics.model.layers import Layers
    from checkforensics.model.memory import AddressSpace
    from checkforensics.model.mounts import Mounts
    from checkforensics.model.pages import PagesImages
    from checkforensics.model.shared import SharedMemory
    from checkforensics.model.sizes import Sizes
    from checkforensics.model.view import ProcessMemory


class Reads(enum.Flag):
    """What a command will read of a checkpoint beyond its small images and metadata, told at
    open (``CheckpointModel.open``) so that a compressed archive's one pass keeps it."""

    NOTHING = 0  # the small images and the metadata, kept in memory by the pass anyway
    MEMORY = enum.auto()  # the pages images: command lines, searches, core files, memfd contents
    IMAGES = enum.auto()  # every other CRIU image: ghost files' contents, queued data
    CONTAINER = enum.auto()  # the members beside the images: rootfs-diff.tar, tmpfs archives, logs
    EVERYTHING = MEMORY | IMAGES | CONTAINER
    SHA256 = enum.auto()  # the evidence hash: a compressed archive's pass hashes what it reads

    def wants(self, info: MemberInfo) -> bool:
        """Whether ``info`` is among what these flags read (any member of that kind)."""
        if info.kind != "file":
            return False
        if is_pages_image(info):
            return Reads.MEMORY in self
        if info.name.endswith(".img"):
            return Reads.IMAGES in self
        return Reads.CONTAINER in self


class CheckpointModel:
    """A checkpoint opened for analysis. Use ``CheckpointModel.open(path)`` as a context manager,
    or wrap an already open ``Checkpoint``."""

    def __init__(self, archive: Checkpoint) -> None:
        self.archive = archive
        self.reads = Reads.NOTHING  # what it was opened to read (``open``): SHA256, the evidence hash
        # what could not be read, kept once and told once (checkforensics.diagnostics): every
        # part of the model says it there, through the store whatever reads images
        self.diagnostics = Diagnostics()
        self.store = ImageStore(archive, self.diagnostics)
        self._memories: dict[int, ProcessMemory | CheckforensicsError] = {}
        self._spaces: dict[int, tuple[AddressSpace, str]] = {}
        self._files: dict[bool, FileTable] = {}
        self._command_lines = False
        self._environments = False
        self._listing_said = False

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], tap: MemberTap | None = None, *, reads: Reads = Reads.NOTHING
    ) -> CheckpointModel:
        """Open ``path`` (archive, extracted directory or images directory); see ``Checkpoint.open``
        (``tap``: readers of the members a streamed archive's one pass goes by).

        ``reads``: what of the checkpoint the command will read besides what any command reads
        (``Reads``). A compressed archive's one pass keeps those members in a spool when they
        are too big to keep in memory, so that reading them never decompresses the archive
        again. A command that reads none of them writes nothing anywhere."""
        members = reads & Reads.EVERYTHING
        model = cls(
            Checkpoint.open(path, tap, spool=members.wants if members else None, hash_in_pass=Reads.SHA256 in reads)
        )
        model.reads = reads
        return model

    def close(self) -> None:
        self.archive.close()

    def __enter__(self) -> CheckpointModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.archive.path

    @property
    def kind(self) -> str:
        return self.archive.kind

    @property
    def has_images(self) -> bool:
        """Whether the checkpoint holds CRIU images (a container checkpoint may hold only its
        metadata and files)."""
        return self.archive.no_images is None

    def say_listing(self) -> None:
        """Say what the listing found wrong (hostile names, a listing cut short at a limit), once:
        whoever reports on processes or on the checkpoint at a glance says it first."""
        if not self._listing_said:
            self._listing_said = True
            self.diagnostics.extend(self.archive.warnings, part=Part.LISTING)

    def sha256(self) -> str:
        """The evidence hash: the SHA-256 of the archive file (of a directory, of its files)."""
        return self.archive.sha256()

    def require_images(self) -> None:
        """Raise NoImagesError when the checkpoint holds container metadata but no CRIU images."""
        if self.archive.no_images is not None:
            if self.archive.cut:  # the images may be in what the listing did not reach
                raise self.archive.not_found(self.archive.no_images)
            raise NoImagesError(
                f"{self.archive.no_images}: no processes, memory or descriptors to read; its container metadata "
                "is there ('checkforensics show', 'checkforensics inspect')",
                where=str(self.path),
            )

    def open_metadata(self, name: str) -> BinaryIO | None:
        """A member beside the CRIU images (``container.log``, ``dump.log``, ...) opened for
        reading, streaming, or None when the checkpoint has none; the caller closes it. The
        engine's JSON records are ``container``'s, decoded once."""
        if not self.archive.has(name):
            return None
        return self.archive.open_member(name)

    # -- the container

    @cached_property
    def container(self) -> ContainerMetadata:
        """What the engine recorded (config.dump, spec.dump, network.status, containerd's status
        files), read once, and as one ``ContainerInfo``."""
        from checkforensics.model.container import ContainerMetadata

        return ContainerMetadata(self.archive, self.store)

    @cached_property
    def sizes(self) -> Sizes:
        """The sizes of the archive, its images, memory and rootfs diff, from the listing."""
        from checkforensics.model.sizes import measure

        return measure(self.archive)

    @cached_property
    def dump(self) -> CriuDump:
        """CRIU's dump-wide records: statistics, process count, the UTS host name."""
        from checkforensics.model.dump import CriuDump

        return CriuDump(self.archive, self.store)

    @cached_property
    def mounts(self) -> Mounts:
        """The container's mounts as the OCI spec asked for them and as the kernel had them."""
        from checkforensics.model.mounts import read_mounts

        return read_mounts(self.store, self.container.spec)

    @cached_property
    def layers(self) -> Layers:
        """The archives of files the container changed (rootfs-diff.tar, /dev/shm, tmpfs
        mounts) and deleted.files."""
        from checkforensics.model.layers import Layers

        return Layers(self.archive, lambda: self.mounts.tmpfs_by_device(), self.diagnostics)

    # -- processes

    @cached_property
    def tree(self) -> ProcessTree:
        """Every process and thread (pstree and core images); no memory read. Its warnings start
        with the archive's (a listing cut short at a limit, hostile names): every command that
        reports on processes says them. Raises NoImagesError (exit 3) for a container checkpoint
        that holds no CRIU images: every question about processes, memory or files stops there."""
        self.require_images()
        self.say_listing()
        return build_tree(self.store)

    def processes(self, pids: Iterable[int] = ()) -> list[Process]:
        """The processes with these PIDs, in tree order (all of them when none is given).

        Raises ProcessNotFoundError (a usage error, exit 2) naming every PID the checkpoint
        does not have: the one way every command treats an unknown ``--pid``.
        """
        wanted = set(pids)
        if not wanted:
            return list(self.tree.processes)
        missing = sorted(pid for pid in wanted if self.tree.by_pid(pid) is None)
        if missing:
            raise ProcessNotFoundError(
                f"no process {', '.join(map(str, missing))} in the checkpoint (see 'checkforensics ps')",
                where=str(self.path),
            )
        return [process for process in self.tree.processes if process.pid in wanted]

    def mm(self, pid: int) -> Any:
        """The MmEntry of ``pid`` (mm-PID.img): mappings, argument and environment areas, exe."""
        return self.store.first(f"mm-{pid}.img")

    def thread_core(self, tid: int) -> Any:
        """The CoreEntry of thread ``tid`` (core-TID.img): registers, signals, scheduling."""
        return self.store.first(f"core-{tid}.img")

    def ghost_file(self, remap_id: int) -> Any:
        """The GhostFileEntry of a deleted file CRIU kept (ghost-file-N.img, N a descriptor's
        ``remap_id``): its owner, mode, size, and access and modification times."""
        return self.store.first(f"ghost-file-{remap_id}.img")

    @cached_property
    def architecture(self) -> Architecture:
        """The machine the checkpoint was taken on (``model.architecture``), as every core image
        names it; one that says why when none does or they name several. Every memory view reads
        pointers and integers in its terms."""
        from checkforensics.model.architecture import UNKNOWN_ARCHITECTURE, common_architecture

        if self.archive.no_images is not None:
            return UNKNOWN_ARCHITECTURE
        return common_architecture(process.core.mtype for process in self.tree.processes if process.core is not None)

    def command_lines(self, *, env: bool = False) -> ProcessTree:
        """The tree with each process's ``cmdline`` (and, with ``env``, ``env``) read from its
        memory; done once, whoever asks first. What cannot be read stays None, with a warning."""
        from checkforensics.model.cmdline import command_line, environment
        from checkforensics.model.memory import MemoryUnavailableError

        tree, said = self.tree, self.diagnostics
        if self._command_lines and (self._environments or not env):
            return tree
        for process in tree.processes:
            if process.zombie or not process.dumped:  # no memory; the tree's warnings say so
                continue
            try:
                mm = self.mm(process.pid)
                memory = self._argument_reader(process.pid, mm)
                process.mm = mm
                if not self._command_lines:
                    process.cmdline = command_line(memory, mm)
                if env and not self._environments:
                    process.env = environment(memory, mm)
            except MemoryUnavailableError as exc:
                said.of_process(process.pid, f"command line not readable: {exc.message}", part=Part.PROCESSES)
            except CheckforensicsError as exc:
                said.of_process(process.pid, str(exc), part=Part.PROCESSES)
        self._command_lines = True
        self._environments = self._environments or env
        return tree

    def _argument_reader(self, pid: int, mm: Any) -> AddressSpace | ProcessMemory:
        """What to read argv and environment through: the process's own pages, unless those
        areas lie in shared memory (they never do in practice: then neither the mappings nor
        the shared objects of every process need be laid out just to list processes)."""
        space, _ = self._address_space(pid, mm)
        areas = ((mm.mm_arg_start, mm.mm_arg_end), (mm.mm_env_start, mm.mm_env_end))
        if any(vma.shared and vma.start < end and start < vma.end for vma in space.vmas for start, end in areas):
            return self.memory(pid)
        return space

    def _address_space(self, pid: int, mm: Any) -> tuple[AddressSpace, str]:
        from checkforensics.model.mappings import address_space

        found = self._spaces.get(pid)
        if found is None:
            found = self._spaces[pid] = address_space(self.store, pid, mm, self.architecture)
        return found

    # -- memory

    @cached_property
    def pages_images(self) -> PagesImages:
        """The checkpoint's pages images, opened where they lie: what memory views scan and copy from."""
        from checkforensics.model.pages import PagesImages

        return PagesImages(self.archive)

    @cached_property
    def file_names(self) -> dict[int, str]:
        """File id -> path (regular files; memfds as ``memfd:NAME``), for naming mappings."""
        from checkforensics.model.mappings import file_names

        return file_names(self.store)

    @cached_property
    def deleted_files(self) -> frozenset[int]:
        """Ids of the files deleted while mapped or open, for marking mappings ``(deleted)``."""
        from checkforensics.model.mappings import deleted_files

        return deleted_files(self.store)

    def memory(self, pid: int) -> ProcessMemory:
        """The memory view of ``pid``: mappings, its own dumped pages and the shared objects it
        maps. Raises CheckforensicsError when its images are missing or damaged (zombies
        included: they have no memory)."""
        found = self._private_memory(pid)
        self._attach_shared()
        return found

    def memories(self, pids: Iterable[int] = ()) -> list[ProcessMemory]:
        """The memory views of the chosen processes (all by default), in tree order. A process
        with no readable memory is left out, and said to the diagnostics (as the processes' part:
        ``memories_left_out``); a zombie only when it was asked for by PID."""
        found, left_out = self._memory_views(set(pids))
        for diagnostic in left_out:
            self.diagnostics.add(diagnostic, Part.PROCESSES)
        return found

    def memories_left_out(self, pids: Iterable[int] = ()) -> list[Diagnostic]:
        """Why each of the chosen processes (all by default) has no memory view, in tree order: a
        zombie or a process not dumped (only when asked for by PID), or memory not readable."""
        return self._memory_views(set(pids))[1]

    def _memory_views(self, wanted: set[int]) -> tuple[list[ProcessMemory], list[Diagnostic]]:
        found, left_out = [], []
        for process in self.processes(wanted):
            if process.zombie or not process.dumped:
                if wanted:
                    left_out.append(Diagnostic(_no_memory(process), f"pid {process.pid}", pid=process.pid))
                continue
            try:
                found.append(self.memory(process.pid))
            except CheckforensicsError as exc:
                left_out.append(Diagnostic(f"memory not readable: {exc}", f"pid {process.pid}", pid=process.pid))
        return found, left_out

    @cached_property
    def shared_memory(self) -> list[SharedMemory]:
        """Every shared memory object (memfds, SysV segments, shared anonymous memory) with the
        processes that map it; no page read."""
        from checkforensics.model.shared import attach, load_shared_memories

        every = []
        for process in self.tree.processes:
            if process.zombie or not process.dumped:
                continue
            try:
                every.append(self._private_memory(process.pid))
            except CheckforensicsError:
                continue  # reported by whoever asks for that process's memory
        objects = load_shared_memories(self.store, every, self.pages_images, self.architecture)
        attach(every, objects)
        return objects

    def shared_object(self, shmid: int) -> SharedMemory | None:
        """The shared memory object ``shmid`` (a memfd's, a SysV segment's id), or None."""
        return self._shared_by_id.get(shmid)

    @cached_property
    def _shared_by_id(self) -> dict[int, SharedMemory]:
        by_id: dict[int, SharedMemory] = {}
        for obj in self.shared_memory:
            by_id.setdefault(obj.shmid, obj)
        return by_id

    def _private_memory(self, pid: int) -> ProcessMemory:
        cached = self._memories.get(pid)
        if cached is None:
            from checkforensics.model.mappings import process_memory

            try:
                process = self.tree.by_pid(pid)
                if process is not None and (process.zombie or not process.dumped):
                    raise CheckforensicsError(f"pid {pid}: {_no_memory(process)}")
                comm = process.comm if process is not None else None
                # without mm-PID.img the mappings are unknown, but the pages the pagemap lists are there
                mm = self.mm(pid) if self.store.has(f"mm-{pid}.img") else None
                space, member = self._address_space(pid, mm)
                cached = process_memory(
                    pid, comm, mm, self.file_names, space, member, self.deleted_files, self.pages_images
                )
            except CheckforensicsError as exc:
                cached = exc
            self._memories[pid] = cached
        if isinstance(cached, CheckforensicsError):
            raise cached
        return cached

    def _attach_shared(self) -> None:
        self.shared_memory  # noqa: B018 -- attaches the objects to every process's view, once

    # -- descriptors

    def files(self, *, with_data: bool = False) -> FileTable:
        """Every descriptor of every process (and cwd, root, exe); with ``with_data``, the data
        still in flight attached (pipe buffers, queues, deleted files, memfd contents)."""
        table = self._files.get(with_data)
        if table is None:
            from checkforensics.model.files import build_file_table
            from checkforensics.model.holders import note_holders

            table = build_file_table(
                self.store,
                self.tree,
                self.mm,
                with_data=with_data,
                shared_memory=self.shared_object if with_data else None,
            )
            note_holders(table)  # who shares each descriptor's object, and who holds a socket's other end
            self._files[with_data] = table
        return table

    def executables(self, *, contents: bool = False) -> ProcessTree:
        """The tree with each process's ``exe``: its program (``Executable``: path, ``memfd:NAME``
        for a memfd, ``deleted``), named as its mappings are (``file_names``, ``deleted_files``:
        no descriptor table laid out); with ``contents``, ``exe_contents`` too: where the
        checkpoint holds the program's bytes (``contents``), or None."""
        tree = self.tree
        for process in tree.processes:
            if process.zombie or not process.dumped or not self.store.has(f"mm-{process.pid}.img"):
                continue  # no program known (the tree's warnings say why)
            try:
                file_id = (process.mm or self.mm(process.pid)).exe_file_id
            except CheckforensicsError as exc:
                self.diagnostics.of_process(process.pid, f"its program (exe) unknown: {exc}", part=Part.PROCESSES)
                continue
            process.exe = Executable(file_id, self.file_names.get(file_id), file_id in self.deleted_files)
            if contents and process.exe_contents is None:
                process.exe_contents = self.contents(process.exe)
        return tree

    def contents(self, item: Any) -> Contents | None:
        """Where the checkpoint holds the bytes of a file, or None: a memfd's (its shared memory
        object), a deleted file's CRIU saved (its ghost file), a file a layer holds (rootfs-diff,
        /dev/shm, tmpfs). ``item``: a descriptor, a process's ``exe`` (anything with a
        ``file_id``) or a path in the container. Nothing is read until the ``Contents`` is:
        ``read()``, ``sha256``, ``size``."""
        return self._file_contents.of(item)

    @cached_property
    def _file_contents(self) -> FileContents:
        from checkforensics.model.contents import FileContents

        return FileContents(self)


def _no_memory(process: Process) -> str:
    if process.zombie:
        return "a zombie (exited, not reaped): it has no memory"
    return "not dumped (no core image): it has no memory"
