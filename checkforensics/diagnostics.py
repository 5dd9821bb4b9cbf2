"""Diagnostics: what could not be read or was cut short, typed, kept once, told once.

Every part of the model and the analyses says what went wrong through the ``Diagnostics`` of
the checkpoint it reads (``model.diagnostics``), instead of handing lists of strings up through
its callers. A diagnostic knows where it is (a member, a process), what it says and how bad it
is; the collection keeps each once, in the order first said, and the renderer writes them on
stderr after the output (and in a JSON document's ``warnings``) — so a warning reaches the
screen one way, whatever said it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class Level(enum.IntEnum):
    NOTE = 0  # worth knowing, nothing is missing from the answer (--debug shows notes)
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
        self._seen: dict[str, Diagnostic] = {}
        self._told: set[str] = set()
        self.prefix = prefix  # the checkpoint's name, when a command reads several

    def warn(self, what: str, *, where: str | None = None, pid: int | None = None) -> None:
        self.add(Diagnostic(what, where, Level.WARNING, pid))

    def note(self, what: str, *, where: str | None = None, pid: int | None = None) -> None:
        self.add(Diagnostic(what, where, Level.NOTE, pid))

    def add(self, diagnostic: Diagnostic) -> None:
        self._seen.setdefault(str(diagnostic), diagnostic)

    def extend(self, texts: Iterable[str | Diagnostic], *, pid: int | None = None) -> None:
        """Diagnostics from a part that returns them as text (``"pid 7: ..."``)."""
        for text in texts:
            self.add(text if isinstance(text, Diagnostic) else Diagnostic(text, pid=pid))

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(list(self._seen.values()))

    def __len__(self) -> int:
        return len(self._seen)

    def warnings(self) -> list[str]:
        """Every warning as a line, in the order first said."""
        return [self._line(d) for d in self._seen.values() if d.level >= Level.WARNING]

    def notes(self) -> list[str]:
        return [self._line(d) for d in self._seen.values() if d.level < Level.WARNING]

    def untold(self, pids: Iterable[int] | None = None) -> list[str]:
        """The warnings not told yet, those about other processes than ``pids`` left for when
        those are asked about (all when ``pids`` is None); marked told."""
        wanted = None if pids is None else set(pids)
        lines = []
        for key, diagnostic in self._seen.items():
            if key in self._told or diagnostic.level < Level.WARNING:
                continue
            if wanted is not None and diagnostic.pid is not None and diagnostic.pid not in wanted:
                continue
            self._told.add(key)
            lines.append(self._line(diagnostic))
        return lines

    def _line(self, diagnostic: Diagnostic) -> str:
        return f"{self.prefix}: {diagnostic}" if self.prefix else str(diagnostic)
