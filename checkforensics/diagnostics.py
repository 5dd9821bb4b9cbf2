"""Diagnostics: what could not be read or was cut short, typed, kept once, told once.

Every part of the model and the analyses says what went wrong through the ``Diagnostics`` of
the checkpoint it reads (``model.diagnostics``; the model hands it to its ``ImageStore``, so
whatever reads images can speak), instead of handing lists of strings up through its callers.
A diagnostic knows where it is (a member, ``pid 7``), what it says, how bad it is and which
process it concerns; the channel also knows which *part* said it (``Part``: ``processes``,
``files``, ``memory``, ...), as a logger knows its name. It keeps each once, in the
order first said, and tells each once: the renderer writes what is not told yet on stderr
after the output (and in a JSON document's ``warnings``), so a warning reaches the screen one
way, whatever said it. A question about some processes hears only of those (``untold(pids)``).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass


class Part(enum.StrEnum):
    """The parts of the model and analyses that speak; a result's ``warnings`` are its part's."""

    LISTING = "listing"  # the archive's listing: hostile names, a listing cut short at a limit
    CONTAINER = "container"  # the engine's records (config.dump, spec.dump, ...)
    DUMP = "dump"  # CRIU's dump-wide records (stats-dump, pstree.img's count)
    PROCESSES = "processes"  # the process tree, core images, command lines
    FILES = "files"  # the descriptor table
    MOUNTS = "mounts"  # the mountpoints images
    MEMORY = "memory"  # memory views: mm, pagemaps, shared objects, file names of mappings
    CHANGES = "changes"  # the container's changed and deleted files
    SEARCH = "search"  # memory searches: cut short, more matches than shown
    CORE = "core"  # core files: what was left out to keep them bounded
    INFLIGHT = "inflight"  # data in flight: holders that disagree
    MALFIND = "malfind"  # the suspicious-mappings scan
    LOG = "log"  # the container's log
    IOCS = "iocs"  # indicators: texts read only in part
    TIMELINE = "timeline"  # the timeline: times that could not be read


class Level(enum.IntEnum):
    NOTE = 0  # worth knowing, nothing is missing from the answer (never told as a warning)
    WARNING = 1  # part of the evidence could not be read: the answer is short of it


@dataclass(frozen=True)
class Diagnostic:
    """``what`` went wrong ``where`` (a member, ``pid 7``, a path; None: the checkpoint as a
    whole); ``pid``: the process it concerns, so a question about other processes does not hear
    of it."""

    what: str
    where: str | None = None
    level: Level = Level.WARNING
    pid: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class Diagnostics:
    """The diagnostics of one checkpoint (or one command), each kept once."""

    def __init__(self, prefix: str | None = None) -> None:
        self._seen: dict[str, Diagnostic] = {}  # by its line, in the order first said
        self._parts: dict[str, dict[Part | None, int]] = {}  # line -> part -> when said to it
        self._told: set[str] = set()
        self._clock = itertools.count()
        self.prefix = prefix  # the checkpoint's name, when a command reads several

    def warn(self, what: str, *, where: str | None = None, pid: int | None = None, part: Part | None = None) -> None:
        self.add(Diagnostic(what, where, Level.WARNING, pid), part)

    def note(self, what: str, *, where: str | None = None, pid: int | None = None, part: Part | None = None) -> None:
        self.add(Diagnostic(what, where, Level.NOTE, pid), part)

    def of_process(self, pid: int, what: str, *, part: Part) -> None:
        """A warning about process ``pid`` (``pid 7: what``)."""
        self.warn(what, where=f"pid {pid}", pid=pid, part=part)

    def add(self, diagnostic: Diagnostic, part: Part | None = None) -> None:
        """Keep ``diagnostic`` (once: said again, by any part, it is the same one)."""
        key = str(diagnostic)
        self._seen.setdefault(key, diagnostic)
        self._parts.setdefault(key, {}).setdefault(part, next(self._clock))

    def extend(self, texts: Iterable[str | Diagnostic], *, pid: int | None = None, part: Part | None = None) -> None:
        """Diagnostics from a part that gives them as text (``"pid 7: ..."``)."""
        for text in texts:
            self.add(text if isinstance(text, Diagnostic) else Diagnostic(text, pid=pid), part)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(list(self._seen.values()))

    def __len__(self) -> int:
        return len(self._seen)

    def warnings(self) -> list[str]:
        """Every warning as a line, in the order first said."""
        return [self._line(d) for d in self._seen.values() if d.level >= Level.WARNING]

    def notes(self) -> list[str]:
        return [self._line(d) for d in self._seen.values() if d.level < Level.WARNING]

    def said(self, *parts: Part, pids: Collection[int] | None = None) -> list[str]:
        """The warnings these parts said (told or not), in the order they said them, each once:
        what a result of theirs reports (``ProcessTree.warnings`` is what the listing and the
        processes said). With ``pids``, not those about other processes."""
        keys = self._by_part(parts)
        return [self._line(self._seen[key]) for key in keys if self._about(self._seen[key], pids)]

    def untold(self, pids: Iterable[int] | None = None, *, parts: Collection[Part] | None = None) -> list[str]:
        """The warnings not told yet (of ``parts`` only, in the order said to them, when given),
        marked told. Those about other processes than ``pids`` are left for when those are asked
        about (all processes when ``pids`` is None)."""
        wanted = None if pids is None else set(pids)
        keys = self._by_part(tuple(parts)) if parts is not None else list(self._seen)
        lines = []
        for key in keys:
            diagnostic = self._seen[key]
            if key in self._told or diagnostic.level < Level.WARNING or not self._about(diagnostic, wanted):
                continue
            self._told.add(key)
            lines.append(self._line(diagnostic))
        return lines

    def tell(self, diagnostics: Iterable[Diagnostic]) -> list[str]:
        """These diagnostics (kept, if they were not), those not told yet as lines, marked told."""
        lines = []
        for diagnostic in diagnostics:
            key = str(diagnostic)
            if key not in self._seen:
                self.add(diagnostic)
            if key not in self._told and self._seen[key].level >= Level.WARNING:
                self._told.add(key)
                lines.append(self._line(self._seen[key]))
        return lines

    def lines(self, *parts: Part) -> Lines:
        """What ``parts`` said, as a list a caller may add lines to (said by the last of them, the
        result's own: a process tree's warnings start with the listing's)."""
        return Lines(self, parts)

    def _by_part(self, parts: tuple[Part, ...]) -> list[str]:
        when = {}
        for key, said in self._parts.items():
            times = [said[part] for part in parts if part in said]
            if times and self._seen[key].level >= Level.WARNING:
                when[key] = min(times)
        return sorted(when, key=when.__getitem__)

    @staticmethod
    def _about(diagnostic: Diagnostic, pids: Collection[int] | None) -> bool:
        """Whether ``diagnostic`` concerns one of ``pids`` or no process in particular (any, without ``pids``)."""
        return pids is None or diagnostic.pid is None or diagnostic.pid in pids

    def _line(self, diagnostic: Diagnostic) -> str:
        return f"{self.prefix}: {diagnostic}" if self.prefix else str(diagnostic)


class Lines(list[str]):
    """The warnings some parts of a checkpoint said, as a list (a result's ``warnings``). What a
    caller appends is said to the channel too, by the last of those parts, so that whoever reads
    the result's warnings next hears of it (no caller appends to one any more: a candidate for
    a plain list of what was said)."""

    def __init__(self, diagnostics: Diagnostics, parts: tuple[Part, ...]) -> None:
        super().__init__(diagnostics.said(*parts))
        self._diagnostics, self._part = diagnostics, parts[-1]

    def append(self, line: str) -> None:
        self._diagnostics.add(Diagnostic(line), self._part)
        super().append(line)

    def extend(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.append(line)

    def __iadd__(self, lines: Iterable[str]) -> Lines:  # type: ignore[override]
        self.extend(lines)
        return self
