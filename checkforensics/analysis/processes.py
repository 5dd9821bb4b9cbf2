"""The checkpointed processes with their command lines: what ``ps`` answers, and the one form of
a process every command shares (``PROCESS``: ``inspect``, ``diff A B``, the HTML report)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING

from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import COMMAND_LINE, FLAG, INTEGER, LIST, OBJECT, SIZE, TEXT

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel, Process
    from checkforensics.render import Lines, Table, Tree


def command_text(process: Process) -> str | None:
    """The command line as a shell would type it; where it was not read (its pages missing, a
    zombie) or is empty, the name the core image records in brackets, ``[nginx]``, as ps
    shows a process without one: never taken for argv."""
    if not process.cmdline:
        return f"[{process.comm}]" if process.comm else None
    return shlex.join(process.cmdline)


def state_note(process: Process) -> str | None:
    """How a tree says a process was not simply alive: ``stopped by SIGSTOP``, ``zombie, exit
    status 3``, ``zombie, killed by SIGKILL``; None for a live (or not dumped) process."""
    if process.state in (None, "Alive"):
        return None
    if process.state == "Stopped":
        return f"stopped by {process.stop_signal}" if process.stop_signal else "stopped"
    if process.zombie:
        if process.exit_signal:
            return f"zombie, killed by {process.exit_signal}"
        return "zombie" if process.exit_status is None else f"zombie, exit status {process.exit_status}"
    return process.state.lower()


def exe_text(process: Process) -> str | None:
    """Its program as ``ps`` shows it: the path (``memfd:NAME`` for a memfd), `` (deleted)``
    after one deleted while it ran, as /proc/PID/exe reads; None where unknown (a zombie)."""
    exe = process.exe
    if exe is None or not exe.path:
        return None
    return exe.path + (" (deleted)" if exe.deleted else "")


def _exe_sha256(process: Process) -> str | None:
    found = process.exe_contents
    return found.sha256 if found is not None else None


PROCESS = RecordType(
    "process",
    "processes",
    (
        Field("pid", INTEGER), Field("ppid", INTEGER), Field("pgid", INTEGER), Field("sid", INTEGER),
        Field("comm", TEXT, "the name the core image records (15 characters at most)"),
        Field("threads", LIST, "the thread ids", get=lambda p: p.tids),
        Field("thread_names", OBJECT, "each thread's name, by thread id",
              get=lambda p: {str(t.tid): t.comm for t in p.threads}),
        Field("uid", INTEGER), Field("gid", INTEGER), Field("euid", INTEGER), Field("egid", INTEGER),
        Field("state", TEXT, "CRIU's task state: Alive, Stopped, Zombie"),
        Field("stop_signal", TEXT, "the signal that stopped a Stopped process"),
        Field("exit_status", INTEGER, "the status a zombie passed to exit()"),
        Field("exit_signal", TEXT, "the signal that killed a zombie"),
        Field("cmdline", COMMAND_LINE, "argv read from memory; null where not dumped"),
        Field("exe", TEXT, "its program: the path CRIU recorded (memfd:NAME for a memfd it was started from); "
              "null where unknown (a zombie)", get=lambda p: p.exe.path if p.exe is not None else None),
        Field("exe_deleted", FLAG, "its program's file was deleted while it ran",
              get=lambda p: p.exe.deleted if p.exe is not None else None),
        Field("exe_sha256", TEXT, "the SHA-256 of its program where the checkpoint holds the bytes (a memfd, "
              "a deleted file CRIU saved, a file of rootfs-diff); null elsewhere (ps --hash)",
              get=_exe_sha256, optional=True),
        Field("exe_in", TEXT, "where those bytes are: pagemap-shmem-N.img, ghost-file-N.img, "
              "rootfs-diff.tar:PATH (ps --hash)", get=lambda p: p.exe_contents.where if p.exe_contents else None,
              optional=True),
        Field("identity", OBJECT, "credentials, capabilities (hexadecimal masks), seccomp, cgroups"),
        Field("env", LIST, "the environment read from memory (ps --env); null where not dumped", optional=True),
    ),
    (
        "pid", "ppid", "pgid", "sid", Column("THREADS", get=lambda p: len(p.tids)), "uid", "gid", "state", "comm",
        Column("EXE", get=exe_text, hint=TEXT), Column("COMMAND", get=command_text, hint=TEXT),
    ),
    "A checkpointed process.",
)  # fmt: skip


def process_list(model: CheckpointModel, pids: Iterable[int] = (), *, env: bool = False,
                 tree: bool = False, hashes: bool = False) -> Answer:  # fmt: skip
    """The processes ``pids`` (all by default) with their command lines (and environments with
    ``env``) read from memory and their programs; with ``hashes``, the SHA-256 of each program
    whose bytes the checkpoint holds (read only then); with ``tree``, in tree order, drawn as
    the parent/child tree."""
    chosen = model.processes(pids)
    known = model.command_lines(env=env)  # the tree, argv (and environments) read once
    model.executables(contents=hashes)
    if hashes:
        _hash_programs(model, chosen)
    environments = _environments(chosen) if env else []
    programs = [_programs(chosen)] if hashes else []
    include = {"env"} if env else set()
    answer = Answer(
        [Section(PROCESS, chosen, include=frozenset(include | ({"exe_sha256", "exe_in"} if hashes else set())))],
        nothing="no processes",
        after=[*programs] if tree else [*environments, *programs],
        warnings=known.warnings,
        about=frozenset(pids) or None,
    )
    if tree:  # each view is handed the processes, and places them in the tree

        def placed(items: Iterable[Process]) -> list[tuple[Process, int]]:
            return list(known.walk({p.pid for p in items}))

        answer.text = lambda items: _tree(placed(items), env)
        answer.table = lambda items: [_indented(placed(items)), *environments]
    return answer


def _indented(placed: list[tuple[Process, int]]) -> Table:
    """The table of the processes in tree order, each COMMAND indented by its depth."""
    from checkforensics.render import Table

    rows = []
    for process, depth in placed:
        *cells, command = PROCESS.row(process)
        rows.append([*cells, "  " * depth + command])
    return Table(PROCESS.headers, rows)


def _hash_programs(model: CheckpointModel, processes: list[Process]) -> None:
    """Hash each program whose bytes the checkpoint holds now, so that one it cannot read is
    said (and shown as not held) rather than stopping the table half-written."""
    for process in processes:
        if process.exe_contents is None:
            continue
        try:
            process.exe_contents.sha256  # noqa: B018 -- made once, kept
        except CheckforensicsError as exc:
            model.diagnostics.of_process(process.pid, f"its program's bytes not readable: {exc}", part=Part.PROCESSES)
            process.exe_contents = None


def _programs(processes: list[Process]) -> Table | Lines:
    """The programs whose bytes the checkpoint holds, with their SHA-256 (``ps --hash``)."""
    from checkforensics.render import Lines, Table

    held = [p for p in processes if p.exe_contents is not None]
    if not held:
        return Lines(["no program's bytes are in the checkpoint (no memfd, deleted or dropped program)"])
    rows = [[str(p.pid), TEXT.text(p.comm), TEXT.text(exe_text(p)), SIZE.text(p.exe_contents.size),
             p.exe_contents.sha256, p.exe_contents.where] for p in held]  # fmt: skip
    title = "programs whose bytes the checkpoint holds"
    return Table(["PID", "COMM", "EXE", "SIZE", "SHA256", "IN"], rows, title=title)


def _environments(processes: list[Process]) -> list[Lines]:
    from checkforensics.render import Lines

    return [Lines([f"environment of {p.pid} ({p.comm}):", *(f"  {v}" for v in p.env or ["-"])]) for p in processes]


def _tree(placed: list[tuple[Process, int]], with_env: bool) -> Tree:
    """The parent/child tree of the processes ``placed`` (each with its depth, in tree order)."""
    from checkforensics.model.tree import DEPTH_LIMIT
    from checkforensics.render import Tree, cell, tree_text

    root = Tree("[bold]processes[/]")
    parents = [root]
    for process, depth in placed:
        label = f"[bold]{process.pid}[/] {tree_text(cell(process.comm))}"
        note = state_note(process)
        if note:  # beside the name: a long command line would push it out of sight
            label += f" [{'red' if process.zombie else 'yellow'}]({note})[/]"
        label += f"  {tree_text(cell(command_text(process)))}"
        exe = process.exe
        if exe is not None and exe.path and (exe.deleted or exe.path.startswith("memfd:")):  # no file on disk
            label += f"  [red](exe {tree_text(cell(exe_text(process)))})[/]"
        if len(process.tids) > 1:
            label += f"  [dim]threads {', '.join(str(t) for t in process.tids)}[/]"
        if depth == DEPTH_LIMIT:  # a tree deeper than that is drawn flat there: say whose child it is
            label += f"  [dim]parent {process.ppid}[/]"
        node = parents[depth].add(label)
        del parents[depth + 1 :]
        parents.append(node)
        if with_env and process.env:
            env = node.add("[dim]environment[/]")
            for variable in process.env:
                env.add(tree_text(variable))
    return root
