"""The process tree as the kernel saw it at checkpoint time: pstree + core (+ mm/pagemap/pages).

One broken process image does not sink the answer: what cannot be read is ``None`` with a
warning naming the image, and the rest of the tree still comes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from checkforensics.diagnostics import Diagnostics, Lines, Part
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.images.flags import TaskState
from checkforensics.images.load import text
from checkforensics.model.fdnames import signal_names
from checkforensics.model.store import ImageStore
from checkforensics.model.tree import DEPTH_LIMIT, link, pid_list, walk


@dataclass
class Thread:
    tid: int
    comm: str | None
    uid: int | None = None
    gid: int | None = None
    seccomp: str | None = None  # disabled, strict, filter


@dataclass
class Process:
    pid: int
    ppid: int
    pgid: int
    sid: int
    tids: list[int]
    comm: str | None = None
    state: str | None = None  # Alive, Stopped, Zombie ... (CRIU's task state)
    exit_code: int | None = None  # CRIU's task_core_entry.exit_code: a zombie's wait status
    stop_signal: str | None = None  # a stopped process's: the signal that stopped it (SIGSTOP, SIGTSTP...)
    exit_status: int | None = None  # a zombie's: the status it passed to exit()
    exit_signal: str | None = None  # a zombie's: the signal that killed it
    threads: list[Thread] = field(default_factory=list)
    uid: int | None = None
    gid: int | None = None
    euid: int | None = None
    egid: int | None = None
    identity: dict[str, Any] = field(default_factory=dict)  # credentials, capabilities, seccomp, cgroup
    cmdline: list[str] | None = None
    env: list[str] | None = None
    core: Any = None  # the CoreEntry of the main thread
    mm: Any = None  # the MmEntry, when loaded
    exe: Executable | None = None  # its program, when model.executables() was asked
    exe_contents: Any = None  # where the checkpoint holds its program's bytes (model.contents), when asked
    # in the forest ProcessTree links (a pstree can hold parent cycles); never compared or
    # printed, which on a chain of 100,000 processes would recurse 100,000 deep
    children: list[Process] = field(default_factory=list, repr=False, compare=False)
    dumped: bool = True  # CRIU wrote its core image; without one, only its place in pstree.img is known

    @property
    def zombie(self) -> bool:
        """Exited but not reaped: CRIU dumps only its core image (no memory, files or ids)."""
        return self.core is not None and self.core.tc.task_state == TaskState.DEAD


@dataclass(frozen=True)
class Executable:
    """A process's program as CRIU recorded it (its mm's ``exe_file_id``): ``path`` (a memfd's is
    ``memfd:NAME``), ``deleted`` when the file was deleted while it ran (a ghost or linked remap),
    as its mappings name them."""

    file_id: int
    path: str | None
    deleted: bool


@dataclass
class ProcessTree:
    """The processes in pstree order, linked into a forest at construction (``model.tree``):
    each process is the child of its listed parent, except where the pstree is inconsistent
    (a parent cycle, a process its own parent), which is said to ``diagnostics`` (the
    checkpoint's)."""

    processes: list[Process]  # in pstree order
    diagnostics: Diagnostics = field(default_factory=Diagnostics, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_pid: dict[int, Process] = {}
        for process in self.processes:
            self._by_pid.setdefault(process.pid, process)
        self._roots, inconsistent = link(self.processes)
        for line in inconsistent:
            self.diagnostics.warn(line.removeprefix("pstree.img: "), where="pstree.img", part=Part.PROCESSES)

    @property
    def warnings(self) -> Lines:
        """What the listing and the processes' images could not say (a listing cut short, a
        damaged core image, command lines not readable), in the order said: every command that
        reports on processes says them."""
        return self.diagnostics.lines(Part.LISTING, Part.PROCESSES)

    def by_pid(self, pid: int) -> Process | None:
        return self._by_pid.get(pid)

    def roots(self) -> list[Process]:
        """The processes no other is the parent of, in pstree order (see ``model.tree.link``)."""
        return list(self._roots)

    def walk(
        self, chosen: Collection[int] | None = None, max_depth: int = DEPTH_LIMIT
    ) -> Iterator[tuple[Process, int]]:
        """Each process (of ``chosen`` pids, or all) with its depth, parents before children:
        the order a tree is drawn in, every process exactly once, with a stack of its own (a
        chain can be 100,000 deep). A process left out passes its place on to its children.
        Processes deeper than ``max_depth`` come at that depth (see ``model.tree.walk``)."""
        return walk(self._roots, chosen, max_depth)


def _state_name(value: int) -> str:
    """Alive, Stopped, Zombie... CRIU dumps a zombie (exited, not yet reaped) as TASK_DEAD."""
    if value == TaskState.DEAD:
        return "Zombie"
    try:
        return TaskState(value).name.capitalize()
    except ValueError:
        return f"state {value}"


def _signal_name(number: int) -> str:
    return signal_names(1 << (number - 1))[0] if 0 < number <= 64 else f"signal {number}"


def _note_ending(process: Process, tc: Any) -> None:
    """What stopped a stopped process (CRIU 3.15 on records the signal), and how a zombie ended:
    its exit code is the wait status the kernel keeps for its parent (status << 8, or the
    signal's number, as waitpid(2) gives it)."""
    if tc.task_state == TaskState.STOPPED and tc.HasField("stop_signo") and tc.stop_signo:
        process.stop_signal = _signal_name(tc.stop_signo)
    elif tc.task_state == TaskState.DEAD:
        if tc.exit_code & 0x7F:
            process.exit_signal = _signal_name(tc.exit_code & 0x7F)
        else:
            process.exit_status = (tc.exit_code >> 8) & 0xFF


def capability_mask(words: Any) -> str | None:
    """A capability set (32-bit words, low first) as the hex mask /proc/PID/status shows."""
    if not words:
        return None
    return f"{sum(int(word) << (32 * i) for i, word in enumerate(words)):016x}"


def identity_of(core: Any) -> dict[str, Any]:
    """Credentials, capabilities, seccomp mode and cgroup set of a thread, where dumped."""
    thread_core = core.thread_core
    identity: dict[str, Any] = {}
    if thread_core.HasField("creds"):
        creds = thread_core.creds
        identity.update(
            uid=creds.uid, gid=creds.gid, euid=creds.euid, egid=creds.egid, suid=creds.suid, sgid=creds.sgid,
            fsuid=creds.fsuid, fsgid=creds.fsgid, groups=list(creds.groups),
            cap_eff=capability_mask(creds.cap_eff), cap_prm=capability_mask(creds.cap_prm),
            cap_inh=capability_mask(creds.cap_inh), cap_bnd=capability_mask(creds.cap_bnd),
            cap_amb=capability_mask(creds.cap_amb), securebits=creds.secbits,
            no_new_privs=bool(creds.no_new_privs) if creds.HasField("no_new_privs") else None,
            lsm_profile=text(creds.lsm_profile) or None,
        )
    if thread_core.HasField("seccomp_mode"):
        identity["seccomp"] = thread_core.DESCRIPTOR.fields_by_name["seccomp_mode"].enum_type.values_by_number[
            thread_core.seccomp_mode
        ].name
    if thread_core.HasField("cg_set"):
        identity["cg_set"] = thread_core.cg_set
    elif core.tc.HasField("cg_set"):
        identity["cg_set"] = core.tc.cg_set
    if core.tc.HasField("loginuid"):
        identity["loginuid"] = core.tc.loginuid
    return identity


def _apply_core(process: Process, core: Any) -> None:
    process.core = core
    tc = core.tc
    process.comm = text(tc.comm)
    process.state = _state_name(tc.task_state)
    process.exit_code = tc.exit_code
    _note_ending(process, tc)
    creds = core.thread_core.creds if core.thread_core.HasField("creds") else None
    if creds is not None:
        process.uid, process.gid, process.euid, process.egid = creds.uid, creds.gid, creds.euid, creds.egid
    process.identity = identity_of(core)


def _thread(store: ImageStore, pid: int, tid: int, missing: list[int]) -> Thread:
    if not store.has(f"core-{tid}.img"):
        missing.append(tid)
        return Thread(tid, None)
    try:
        core = store.first(f"core-{tid}.img")
    except CheckforensicsError as exc:
        store.diagnostics.warn(str(exc), where=f"core-{tid}.img", pid=pid, part=Part.PROCESSES)
        return Thread(tid, None)
    thread_core = core.thread_core
    creds = thread_core.creds if thread_core.HasField("creds") else None
    seccomp = None
    if thread_core.HasField("seccomp_mode"):
        seccomp = thread_core.DESCRIPTOR.fields_by_name["seccomp_mode"].enum_type.values_by_number[
            thread_core.seccomp_mode
        ].name
    comm = text(thread_core.comm if thread_core.HasField("comm") else core.tc.comm)
    return Thread(tid, comm, creds.uid if creds else None, creds.gid if creds else None, seccomp)


def build_tree(store: ImageStore) -> ProcessTree:
    """Every process and thread, with comm, state and credentials; no memory read.

    A pstree entry whose core image is absent costs no decoding: it is a process that is not
    ``dumped``, and one warning names all of them (as one names all threads without a core).
    """
    say = store.diagnostics.warn
    entries = store.messages("pstree.img")
    processes = []
    seen: set[int] = set()
    twice: list[int] = []
    undumped: list[int] = []
    threadless: list[int] = []
    for entry in entries:
        if entry.pid in seen:
            twice.append(entry.pid)
            continue
        seen.add(entry.pid)
        process = Process(entry.pid, entry.ppid, entry.pgid, entry.sid, list(entry.threads) or [entry.pid])
        processes.append(process)
        if not store.has(f"core-{entry.pid}.img"):
            process.dumped = False  # and its threads unknown: no Thread objects for them
            undumped.append(entry.pid)
            continue
        with contextlib.suppress(CheckforensicsError):  # _thread warns below
            _apply_core(process, store.first(f"core-{entry.pid}.img"))
        if process.zombie:
            # a zombie has no threads left, and CRIU writes whatever was in memory as its
            # thread id: its one core image is the process's own
            process.tids = [entry.pid]
            process.threads = [Thread(entry.pid, process.comm)]
        else:
            process.threads = [_thread(store, process.pid, tid, threadless) for tid in process.tids]
    if twice:
        say(
            f"the process tree is inconsistent: pid {pid_list(twice)} listed twice; only the first entry is used",
            where="pstree.img", part=Part.PROCESSES,
        )  # fmt: skip
    if undumped:
        say(
            f"no core image for pid {pid_list(undumped)}: only their place in the tree is known",
            where="pstree.img", part=Part.PROCESSES,
        )  # fmt: skip
    if threadless:
        say(
            f"no core image for thread {pid_list(threadless)}: their names and credentials are unknown",
            part=Part.PROCESSES,
        )
    tree = ProcessTree(processes, store.diagnostics)
    _resolve_cgroups(store, tree)
    return tree


def _resolve_cgroups(store: ImageStore, tree: ProcessTree) -> None:
    """Replace each process's cgroup set id by its controller paths (cgroup.img)."""
    if not store.has("cgroup.img"):
        return
    try:
        sets = {s.id: s for entry in store.messages("cgroup.img") for s in entry.sets}
    except CheckforensicsError as exc:
        store.diagnostics.warn(str(exc), part=Part.PROCESSES)
        return
    for process in tree.processes:
        members = sets.get(process.identity.get("cg_set", -1))
        if members is not None:
            process.identity["cgroups"] = {text(member.name) or "unified": text(member.path) for member in members.ctls}


class ProcessNotFoundError(CheckforensicsError):
    """A process asked for by PID is not in the checkpoint."""

    exit_code = ExitCode.USAGE
