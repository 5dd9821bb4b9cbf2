"""crit's explorers (``crit x DIR ps|fds|mems|rss``), line for line, over any checkpoint.

The text is crit 4.2's, so scripts written against crit keep working; where crit crashes
(a CRIU 4.1 pagemap without ``nr_pages``, a file id missing from files.img, a parent pid
absent from the tree, a parent cycle, a task without a core image, a zombie's missing ids/mm
images) these print what can be known instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from checkforensics.archive import Checkpoint
from checkforensics.errors import ImageError
from checkforensics.images.flags import PAGE_SHIFT, MapFlags, Prot, TaskState, VmaStatus
from checkforensics.images.load import load_image
from checkforensics.model.tree import link, walk


class _Explorer:
    """Loads each image once and names files the way crit does."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self._files: dict[int, Any] | None = None
        self._file_names: dict[tuple[str, int], str] = {}

    def entries(self, name: str) -> list[Any]:
        return load_image(self.checkpoint, name).messages()

    def first(self, name: str) -> Any:
        """The first entry of image ``name``; an image without one is an error naming it."""
        entries = self.entries(name)
        if not entries:
            raise ImageError("has no entries", where=self.checkpoint.image_where(name))
        return entries[0]

    def tasks(self) -> list[Any]:
        return self.entries("pstree.img")

    def living(self) -> Iterator[Any]:
        """The tasks that have files and memory: not zombies, which CRIU dumps as a core image alone."""
        for task in self.tasks():
            core = self.entries(f"core-{task.pid}.img") if self.checkpoint.has_image(f"core-{task.pid}.img") else []
            if not (core and core[0].tc.task_state == TaskState.DEAD):
                yield task

    def files(self) -> dict[int, Any]:
        if self._files is None:
            self._files = {}
            if self.checkpoint.has_image("files.img"):
                self._files = {entry.id: entry for entry in self.entries("files.img")}
        return self._files

    def file_str(self, kind: str, file_id: int) -> str:
        key = (kind, file_id)
        if key not in self._file_names:
            self._file_names[key] = self._describe(kind, file_id)
        return self._file_names[key]

    def _describe(self, kind: str, file_id: int) -> str:
        entry = self.files().get(file_id)
        if kind == "REG":
            reg = entry.reg if entry is not None and entry.HasField("reg") else None
            if reg is None or not reg.name:
                return "unknown path"
            return str(reg.name)  # a name that is not UTF-8 shows as bytes do, as crit shows it
        if kind == "PIPE":
            pipe = entry.pipe if entry is not None and entry.HasField("pipe") else None
            return f"pipe[{pipe.pipe_id}]" if pipe is not None else "pipe[?]"
        if kind == "UNIXSK":
            usk = entry.usk if entry is not None and entry.HasField("usk") else None
            if usk is None:
                return "unix[?]"
            from checkforensics.images.crit_json import message_to_dict

            name = message_to_dict(usk).get("name") or ""
            suffix = f" {name}" if name else ""
            return f"unix[{usk.ino} ({usk.peer}){suffix}]"
        return f"{kind}.{file_id}"



def explore_ps(explorer: _Explorer) -> Iterator[str]:
    tasks = explorer.tasks()
    comms = {}
    for task in tasks:
        if not explorer.checkpoint.has_image(f"core-{task.pid}.img"):  # crit crashes; its name is unknown
            comms[task.pid] = "?"
            continue
        core = explorer.first(f"core-{task.pid}.img")
        comms[task.pid] = core.tc.comm
    # crit recurses and prints nothing of a parent cycle; here every task comes once, a cycle
    # broken at its first task, and no deeper than the tree views draw (see model.tree)
    nodes = [_TaskNode(task.pid, task.ppid, task) for task in tasks]
    roots, _ = link(nodes)
    yield f"{'PID':>7}{'PGID':>7}{'SID':>7}   COMM"
    for place in walk(roots):
        task = place.process.task
        yield f"{task.pid:7d}{task.pgid:7d}{task.sid:7d}   {' ' * (4 * place.depth)}{comms[task.pid]}"


@dataclass
class _TaskNode:
    """A pstree entry as ``model.tree`` links it (the protobuf message takes no attributes)."""

    pid: int
    ppid: int
    task: Any
    children: list[Any] = field(default_factory=list)


def explore_fds(explorer: _Explorer) -> Iterator[str]:
    for task in explorer.living():
        ids = explorer.first(f"ids-{task.pid}.img")
        yield f"{task.pid}"
        for fd in explorer.entries(f"fdinfo-{ids.files_id}.img"):
            kind = fd.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number[fd.type].name
            yield f"\t{fd.fd:7d}: {explorer.file_str(kind, fd.id)}"
        fs = explorer.first(f"fs-{task.pid}.img")
        yield f"\t{'cwd':>7}: {explorer.file_str('REG', fs.cwd_id)}"
        yield f"\t{'root':>7}: {explorer.file_str('REG', fs.root_id)}"


def _vma_name(explorer: _Explorer, vma: Any, shared_ids: dict[int, int]) -> str:
    status = VmaStatus(vma.status)

    def shared_label(prefix: str) -> str:
        number = shared_ids.setdefault(vma.shmid, len(shared_ids) + 1)
        return f" {prefix}[{number:x}]"

    if status & VmaStatus.VMA_AREA_SYSVIPC:
        name = shared_label("ips")
    elif status & VmaStatus.VMA_ANON_SHARED:
        name = shared_label("shmem")
    elif status & VmaStatus.VMA_AREA_SOCKET:
        name = shared_label("packet")
    elif status & (VmaStatus.VMA_FILE_PRIVATE | VmaStatus.VMA_FILE_SHARED):
        name = " " + explorer.file_str("REG", vma.shmid)
        if vma.pgoff:
            name += f" + {vma.pgoff:#x}"
        if status & VmaStatus.VMA_FILE_SHARED:
            name += " (s)"
    elif status & VmaStatus.VMA_AREA_STACK:
        name = " [stack]"
    elif status & VmaStatus.VMA_AREA_VSYSCALL:
        name = " [vsyscall]"
    elif status & VmaStatus.VMA_AREA_VDSO:
        name = " [vdso]"
    elif vma.flags & MapFlags.MAP_GROWSDOWN:
        name = " [stack?]"
    else:
        name = ""
    if not status & VmaStatus.VMA_AREA_REGULAR:
        name += " *"
    return name


def _prot_str(prot: int) -> str:
    bits = (("r", Prot.PROT_READ), ("w", Prot.PROT_WRITE), ("x", Prot.PROT_EXEC))
    return "".join(letter if prot & bit else "-" for letter, bit in bits)


def explore_mems(explorer: _Explorer) -> Iterator[str]:
    shared_ids: dict[int, int] = {}
    for task in explorer.living():
        mm = explorer.first(f"mm-{task.pid}.img")
        yield f"{task.pid}"
        yield f"\t{'exe':<36}    {explorer.file_str('REG', mm.exe_file_id)}"
        for vma in mm.vmas:
            span = f"{vma.start:08x}-{vma.end:08x}"
            yield f"\t{span:<36}{_prot_str(vma.prot)}{_vma_name(explorer, vma, shared_ids)}"


def _nr_pages(entry: Any) -> int:
    """A pagemap entry's page count: ``nr_pages`` from CRIU 4.2 on, ``compat_nr_pages`` before."""
    return entry.nr_pages or entry.compat_nr_pages


def explore_rss(explorer: _Explorer) -> Iterator[str]:
    for task in explorer.living():
        vmas = list(explorer.first(f"mm-{task.pid}.img").vmas)
        pagemap = explorer.entries(f"pagemap-{task.pid}.img")[1:]
        yield f"{task.pid}"
        vmi = 0
        previous = -1
        for run in pagemap:
            nr_pages = _nr_pages(run)
            head = f"\t{run.vaddr:x} / {nr_pages:<8d}"
            # The index walk is crit's, down to the step back after each run, so that a
            # mapping spanning several runs is printed once and then marked with "~".
            while vmi < len(vmas) and vmas[vmi].end <= run.vaddr:
                vmi += 1
            run_end = run.vaddr + (nr_pages << PAGE_SHIFT)
            text = ""
            while vmi < len(vmas) and vmas[vmi].start < run_end:
                vma = vmas[vmi]
                if vmi == previous:
                    text += " ~"
                else:
                    text += f" {vma.start:08x} / {(vma.end - vma.start) >> PAGE_SHIFT:<8d}"
                    if vma.status & (VmaStatus.VMA_FILE_PRIVATE | VmaStatus.VMA_FILE_SHARED):
                        text += " " + explorer.file_str("REG", vma.shmid)
                    previous = vmi
                text += "\n\t" + " " * 23
                vmi += 1
            vmi = max(vmi - 1, 0)
            yield f"{head:<24}{text}"


_EXPLORERS = {"ps": explore_ps, "fds": explore_fds, "mems": explore_mems, "rss": explore_rss}


def explore(checkpoint: Checkpoint, what: str) -> Iterator[str]:
    """The lines ``crit x DIR what`` prints for ``checkpoint``."""
    return _EXPLORERS[what](_Explorer(checkpoint))
