"""crit's explorers (``crit x DIR ps|fds|mems|rss``), line for line, over any checkpoint.

The text is crit 4.2's, so scripts written against crit keep working; where crit crashes
(a CRIU 4.1 pagemap without ``nr_pages``, a file id missing from files.img, a parent pid
absent from the tree, a parent cycle, a task without a core image, a zombie's missing ids/mm
images) these print what can be known instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from checkforensics.archive import Checkpoint
from checkforensics.errors import ImageError
from checkforensics.images.flags import PAGE_SHIFT, MapFlags, Prot, TaskState, VmaStatus
from checkforensics.images.load import load_image, text
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



def explore_ps(explorer: _Explorer) -> Iterator[dict[str, Any]]:
    """The tasks in pstree order."""
    for task in explorer.tasks():
        comm = None  # crit crashes on a task without a core image; its name is unknown
        if explorer.checkpoint.has_image(f"core-{task.pid}.img"):
            comm = text(explorer.first(f"core-{task.pid}.img").tc.comm)  # invalid UTF-8 kept as \xNN
        yield {"pid": task.pid, "ppid": task.ppid, "pgid": task.pgid, "sid": task.sid, "comm": comm}


def _ps_lines(tasks: Iterable[dict[str, Any]]) -> Iterator[str]:
    # crit recurses and prints nothing of a parent cycle; here every task comes once, a cycle
    # broken at its first task, and no deeper than the tree views draw (see model.tree)
    roots, _ = link([_TaskNode(task["pid"], task["ppid"], task) for task in tasks])
    yield f"{'PID':>7}{'PGID':>7}{'SID':>7}   COMM"
    for node, depth in walk(roots):
        task = node.task
        comm = "?" if task["comm"] is None else task["comm"]
        yield f"{task['pid']:7d}{task['pgid']:7d}{task['sid']:7d}   {' ' * (4 * depth)}{comm}"


@dataclass
class _TaskNode:
    """A pstree entry as ``model.tree`` links it."""

    pid: int
    ppid: int
    task: dict[str, Any]
    children: list[Any] = field(default_factory=list)


def explore_fds(explorer: _Explorer) -> Iterator[dict[str, Any]]:
    """Each living task's descriptors, then its cwd and root."""
    for task in explorer.living():
        ids = explorer.first(f"ids-{task.pid}.img")
        fds: list[dict[str, Any]] = []
        for fd in explorer.entries(f"fdinfo-{ids.files_id}.img"):
            kind = fd.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number[fd.type].name
            fds.append({"fd": fd.fd, "file": explorer.file_str(kind, fd.id)})
        fs = explorer.first(f"fs-{task.pid}.img")
        fds.append({"fd": "cwd", "file": explorer.file_str("REG", fs.cwd_id)})
        fds.append({"fd": "root", "file": explorer.file_str("REG", fs.root_id)})
        yield {"pid": task.pid, "fds": fds}


def _fds_lines(tasks: Iterable[dict[str, Any]]) -> Iterator[str]:
    for task in tasks:
        yield f"{task['pid']}"
        for fd in task["fds"]:
            number = f"{fd['fd']:7d}" if isinstance(fd["fd"], int) else f"{fd['fd']:>7}"
            yield f"\t{number}: {fd['file']}"


def _vma_name(explorer: _Explorer, vma: Any, shared_ids: dict[int, int]) -> str:
    """What crit prints after a mapping's permissions, without the space before it."""
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
    return name.removeprefix(" ")


def _prot_str(prot: int) -> str:
    bits = (("r", Prot.PROT_READ), ("w", Prot.PROT_WRITE), ("x", Prot.PROT_EXEC))
    return "".join(letter if prot & bit else "-" for letter, bit in bits)


def explore_mems(explorer: _Explorer) -> Iterator[dict[str, Any]]:
    """Each living task's executable and mappings."""
    shared_ids: dict[int, int] = {}
    for task in explorer.living():
        mm = explorer.first(f"mm-{task.pid}.img")
        vmas = [
            {"start": v.start, "end": v.end, "prot": _prot_str(v.prot), "name": _vma_name(explorer, v, shared_ids)}
            for v in mm.vmas
        ]
        yield {"pid": task.pid, "exe": explorer.file_str("REG", mm.exe_file_id), "vmas": vmas}


def _mems_lines(tasks: Iterable[dict[str, Any]]) -> Iterator[str]:
    for task in tasks:
        yield f"{task['pid']}"
        yield f"\t{'exe':<36}    {task['exe']}"
        for vma in task["vmas"]:
            span = f"{vma['start']:08x}-{vma['end']:08x}"
            yield f"\t{span:<36}{vma['prot']}{' ' + vma['name'] if vma['name'] else ''}"


def _nr_pages(entry: Any) -> int:
    """A pagemap entry's page count: ``nr_pages`` from CRIU 4.2 on, ``compat_nr_pages`` before."""
    return entry.nr_pages or entry.compat_nr_pages


def explore_rss(explorer: _Explorer) -> Iterator[dict[str, Any]]:
    """Each living task's pagemap runs, each with the mappings it falls in; a mapping spanning
    several runs is ``continued`` after the first."""
    for task in explorer.living():
        vmas = list(explorer.first(f"mm-{task.pid}.img").vmas)
        pagemap = explorer.entries(f"pagemap-{task.pid}.img")[1:]
        runs = []
        vmi = 0
        previous = -1
        for run in pagemap:
            nr_pages = _nr_pages(run)
            # The index walk is crit's, down to the step back after each run, so that a
            # mapping spanning several runs is listed once and then marked as continued.
            while vmi < len(vmas) and vmas[vmi].end <= run.vaddr:
                vmi += 1
            run_end = run.vaddr + (nr_pages << PAGE_SHIFT)
            touched = []
            while vmi < len(vmas) and vmas[vmi].start < run_end:
                vma = vmas[vmi]
                file_backed = vma.status & (VmaStatus.VMA_FILE_PRIVATE | VmaStatus.VMA_FILE_SHARED)
                touched.append(
                    {
                        "start": vma.start,
                        "pages": (vma.end - vma.start) >> PAGE_SHIFT,
                        "file": explorer.file_str("REG", vma.shmid) if file_backed else None,
                        "continued": vmi == previous,
                    }
                )
                previous = vmi
                vmi += 1
            vmi = max(vmi - 1, 0)
            runs.append({"vaddr": run.vaddr, "pages": nr_pages, "vmas": touched})
        yield {"pid": task.pid, "runs": runs}


def _rss_lines(tasks: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One item per line (the renderer escapes each as one line): a run's first mapping on its
    line, each further one on a line of its own, then crit's blank-but-indented line."""
    for task in tasks:
        yield f"{task['pid']}"
        for run in task["runs"]:
            head = f"\t{run['vaddr']:x} / {run['pages']:<8d}"
            line = f"{head:<24}"
            for vma in run["vmas"]:
                if vma["continued"]:
                    line += " ~"
                else:
                    line += f" {vma['start']:08x} / {vma['pages']:<8d}"
                    if vma["file"] is not None:
                        line += " " + vma["file"]
                yield line
                line = "\t" + " " * 23
            yield line


_EXPLORERS = {
    "ps": (explore_ps, _ps_lines),
    "fds": (explore_fds, _fds_lines),
    "mems": (explore_mems, _mems_lines),
    "rss": (explore_rss, _rss_lines),
}


def explore_records(checkpoint: Checkpoint, what: str) -> Iterator[dict[str, Any]]:
    """What ``crit x DIR what`` shows for ``checkpoint``, a record per task (docs/json.md)."""
    return _EXPLORERS[what][0](_Explorer(checkpoint))


def explore_lines(what: str, records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The lines crit prints for the records of ``explore_records``."""
    return _EXPLORERS[what][1](records)


def explore(checkpoint: Checkpoint, what: str) -> Iterator[str]:
    """The lines ``crit x DIR what`` prints for ``checkpoint``."""
    return explore_lines(what, explore_records(checkpoint, what))
