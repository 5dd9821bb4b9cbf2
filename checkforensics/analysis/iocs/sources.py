"""Where iocs looks: the source registry.

Each ``Source`` is one place of a checkpoint and a function of the model that yields what it
holds: ``Text`` (read for indicators by ``extract``, each found one placed on its line) or
``Seen`` (an indicator the source names itself: a socket's peer, a file's sha256). Adding a
source is one entry in ``SOURCES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from checkforensics.analysis.iocs.extract import IPV4, IPV6, PATH, SHA256, host_indicator
from checkforensics.analysis.iocs.files import TEXT_LIMIT, files_in_checkpoint
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel

TEXT_BUDGET = 64 << 20  # bytes of text read for indicators from all the files of one checkpoint


@dataclass(frozen=True)
class Place:
    """Where an indicator was found: the source's name and the exact place, as one line
    (``where``) and as keys (pid, comm, path, line, fd, variable, argument) where they apply."""

    source: str
    where: str
    pid: int | None = None
    comm: str | None = None
    path: str | None = None
    line: int | None = None
    fd: int | str | None = None
    variable: str | None = None
    argument: int | None = None

    def at_line(self, line: int, multiline: bool) -> Place:
        """This place narrowed to ``line`` of its text (said in ``where`` when the text has lines)."""
        where = (f"{self.where}:{line}" if self.path else f"{self.where} line {line}") if multiline else self.where
        return replace(self, where=where, line=line if multiline else self.line)

    def json(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass(frozen=True)
class Text:
    """Text to read for indicators, and where it is."""

    text: str
    place: Place


@dataclass(frozen=True)
class Seen:
    """An indicator a source names itself."""

    type: str
    value: str
    place: Place
    port: int | None = None


Finding = Text | Seen


@dataclass(frozen=True)
class Source:
    """One place iocs looks, its function (``find(model)``) and what docs/commands/iocs.md says of it."""

    name: str
    find: Callable[[CheckpointModel], Iterator[Finding]]
    doc: str


def _files(model: CheckpointModel) -> Iterator[Finding]:
    budget, unread, cut = TEXT_BUDGET, 0, []
    for held in files_in_checkpoint(model):
        where = f"{held.path} ({', '.join(held.holders)})" if held.holders else held.path
        place = Place(held.kind, where, path=held.path)
        if held.executable or held.suspicious_place:
            yield Seen(SHA256, held.sha256, place)
        if held.executable and (held.suspicious_place or held.kind != "rootfs-diff"):
            yield Seen(PATH, held.path, place)
        if not held.is_text:
            continue
        if len(held.head) > budget:
            unread += 1
            continue
        budget -= len(held.head)
        if len(held.head) < held.size:
            cut.append(held.path)
        yield Text(held.text, place)
    say = model.diagnostics.warn
    if cut:
        named = ", ".join(cut[:3]) + (f" and {len(cut) - 3} more" if len(cut) > 3 else "")
        say(f"only the first {TEXT_LIMIT >> 20} MiB of {len(cut)} text files read for indicators: {named}",
            part=Part.IOCS)  # fmt: skip
    if unread:
        say(f"{unread} more text files not read for indicators once {TEXT_BUDGET >> 20} MiB of text were "
            "(each still hashed where it counts)", part=Part.IOCS)  # fmt: skip


def _command_lines(model: CheckpointModel, env: bool) -> Iterator[Finding]:
    for process in model.command_lines(env=env).processes:
        who = f"pid {process.pid} ({process.comm})"
        if not env:
            for index, argument in enumerate(process.cmdline or ()):
                place = Place("argv", f"{who} argv[{index}]", process.pid, process.comm, argument=index)
                yield Text(argument, place)
            continue
        for entry in process.env or ():
            name = entry.partition("=")[0]
            yield Text(entry, Place("environment", f"{who} env {name}", process.pid, process.comm, variable=name))


def _argv(model: CheckpointModel) -> Iterator[Finding]:
    return _command_lines(model, env=False)


def _environment(model: CheckpointModel) -> Iterator[Finding]:
    return _command_lines(model, env=True)


def _container_log(model: CheckpointModel) -> Iterator[Finding]:
    from checkforensics.analysis.containerlog import open_container_log

    try:
        log = open_container_log(model)
    except CheckforensicsError:
        return  # no log in this checkpoint (a bare criu dump): nothing to look at
    with log:
        for entry in log.entries():
            yield Text(entry.message, Place("container-log", f"{log.member}:{entry.line}", line=entry.line))


def _sockets(model: CheckpointModel) -> Iterator[Finding]:
    for process in model.files(with_data=True).processes:  # the table the files source read
        for d in process.descriptors:
            if d.family not in ("INET", "INET6") or not d.remote:
                continue
            host, _, port = d.remote.rpartition(":")
            found = host_indicator(host)
            if found is None or found[0] not in (IPV4, IPV6) or found[1] in ("0.0.0.0", "::"):
                continue  # not connected (a listening or unbound socket names no peer)
            where = f"pid {process.pid} ({process.comm}) fd {d.fd} {d.proto or ''} {d.state or ''}".rstrip()
            place = Place("socket", f"{where} -> {d.remote}", process.pid, process.comm, fd=d.fd)
            yield Seen(found[0], found[1], place, int(port) if port.isdigit() else None)


def _history(model: CheckpointModel) -> Iterator[Finding]:
    from checkforensics.analysis.history import history_of

    for entry in history_of(model):
        who = f"pid {entry.pid} ({entry.comm})"
        at = f"history #{entry.position}" if entry.position is not None else f"freed history line at {entry.address:#x}"
        yield Text(entry.command, Place("history", f"{who} {at}", entry.pid, entry.comm, line=entry.position))


SOURCES: tuple[Source, ...] = (
    Source("files", _files, "the files whose bytes the checkpoint holds: what the container wrote "
           "(rootfs-diff.tar, /dev/shm, tmpfs), deleted-but-open files (ghost files) and memfds: the "
           "sha256 of each executable or dropped one, the path of each dropped executable, and the "
           "text of each text file"),
    Source("argv", _argv, "every process's command line, argument by argument, read from its memory"),
    Source("environment", _environment, "every process's environment, variable by variable, read from its memory"),
    Source("container-log", _container_log, "the container's CRI log (container.log, ctr.log), line by line"),
    Source("socket", _sockets, "the remote end of every connected TCP and UDP socket"),
    Source("history", _history, "the command lines typed into bash and other readline programs "
           "(`history`), live entries and remnants left in freed memory, each placed at its pid and "
           "position (or the freed block's address)"),
)  # fmt: skip
