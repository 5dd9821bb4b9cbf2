"""history: what was typed into readline programs (bash, python's REPL, psql, ...), from memory.

Every process with memory is looked at, whatever its name: its readline history list is found
by structure (``readline``: timestamps, the entries pointing at them, the array holding the
entries), each entry ``live`` with its position and time. In a process that keeps such a list,
the blocks glibc took back in the same heap that still hold a string malloc'd for exactly its
length are ``remnant``s (``heap``): what ``history -c`` (or anything else) freed, the text cut
by the 8 or 16 bytes the allocator wrote over its start, never mixed with the live list. And in
a bash (its timestamps start with ``#``), the variables it set or exported after it started
(``variables``).

``history_of(model)`` is the public function: the timeline and indicators read it.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from checkforensics.analysis.history.heap import HEAP_WALK_LIMIT, Heap, freed_timestamps
from checkforensics.analysis.history.readline import (
    MAX_ENTRIES,
    MAX_TIMESTAMPS,
    HistoryList,
    entries_pointing_at,
    history_lists,
    mapping_of,
    timestamps,
)
from checkforensics.analysis.history.variables import set_after_start, shell_variables
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.records.declare import Answer, Field, RecordType, Section
from checkforensics.records.values import ADDRESS, FLAG, INTEGER, LONG, TEXT, TIME

if TYPE_CHECKING:
    from checkforensics.diagnostics import Diagnostics
    from checkforensics.model import CheckpointModel
    from checkforensics.model.view import ProcessMemory

State = Literal["live", "remnant"]


@dataclass
class HistoryEntry:
    """One line of a readline history: ``live`` (in the list, at ``position``) or ``remnant``
    (text left in a freed block; ``command`` is then what survived, its end)."""

    pid: int
    comm: str | None
    terminal: str | None  # the terminal the process's standard input is on
    position: int | None  # 1 for the list's first entry; None for a remnant
    command: str
    time: dt.datetime | None  # aware (UTC); None when the entry has no timestamp that reads
    state: State
    address: int  # the HIST_ENTRY, or the freed block
    lost: int = 0  # bytes of a remnant's start the allocator wrote over (its text begins after them)
    program: str | None = None  # "bash" when the timestamps start with '#', else None

    @property
    def partial(self) -> bool:
        return self.state == "remnant"


@dataclass
class ShellVariable:
    """A variable a bash session set or exported after it started (not in its environment block
    with that value)."""

    pid: int
    comm: str | None
    terminal: str | None
    name: str
    value: str | None
    exported: bool
    address: int


@dataclass
class ProcessHistory:
    """What one process's memory says of its history: its entries (live, then remnants), the
    variables a bash set after it started, and the ends of timestamps freed from its list
    (``heap.freed_timestamps``: entries that left the list)."""

    entries: list[HistoryEntry]
    variables: list[ShellVariable]
    freed_timestamps: list[str] = field(default_factory=list)

    @property
    def live(self) -> list[HistoryEntry]:
        return [e for e in self.entries if e.state == "live"]


def _time(entry: HistoryEntry) -> str | None:
    if entry.time is None:
        return None
    return entry.time.isoformat(timespec="seconds").replace("+00:00", "Z")


HISTORY_ENTRY = RecordType(
    "history_entry",
    "history",
    (
        Field("pid", INTEGER),
        Field("comm", TEXT),
        Field("terminal", TEXT, "the terminal its standard input is on (/dev/pts/N), null when none"),
        Field("position", INTEGER, "1 for the live list's first entry; null for a remnant"),
        Field("command", LONG, "the line as typed; for a remnant the end that survived"),
        Field("time", TIME, "when it was typed, from readline's timestamp; null when unknown", get=_time),
        Field("state", TEXT, "live (in the history list) or remnant (left in freed memory)"),
        Field("partial", FLAG, "true when the command is only the end of the line (a remnant)"),
        Field("lost", INTEGER, "bytes at the start of a remnant's line that the allocator overwrote"),
        Field("address", ADDRESS, "the HIST_ENTRY, or the freed block"),
    ),
    ("pid", "comm", "terminal", "position", "time", "state", "command"),
    "One line of a readline history (bash, python's REPL, ...), live or left in freed memory.",
)

SHELL_VARIABLE = RecordType(
    "shell_variable",
    "shell_variables",
    (
        Field("pid", INTEGER),
        Field("comm", TEXT),
        Field("terminal", TEXT, "the terminal its standard input is on, null when none"),
        Field("name", TEXT),
        Field("value", TEXT),
        Field("exported", FLAG, "exported to the programs it starts (export NAME)"),
        Field("address", ADDRESS, "bash's SHELL_VAR"),
    ),
    ("pid", "comm", "terminal", "name", "exported", "value"),
    "A variable a bash session set or exported after it started (not in its environment block).",
)


def history_of(model: CheckpointModel) -> list[HistoryEntry]:
    """Every process's readline history: per process, its live entries in list order, then its
    remnants by address."""
    return [entry for found in _histories(model).values() for entry in found.entries]


def shell_variables_of(model: CheckpointModel) -> list[ShellVariable]:
    """The variables each bash set or exported after it started."""
    return [variable for found in _histories(model).values() for variable in found.variables]


def histories(model: CheckpointModel) -> dict[int, ProcessHistory]:
    """Each process's history by pid (processes with none left out): what triage weighs."""
    return _histories(model)


def history_answer(model: CheckpointModel, pids: tuple[int, ...] = ()) -> Answer:
    """history's answer: the entries, then the shell variables."""
    found = _histories(model, pids)
    return Answer(
        [
            Section(HISTORY_ENTRY, [e for f in found.values() for e in f.entries]),
            Section(SHELL_VARIABLE, [v for f in found.values() for v in f.variables]),
        ],
        nothing="no readline history in memory",
        about=frozenset(pids) or None,
    )


# Each checkpoint's histories, read once however many analyses ask (triage, timeline, iocs and
# the report all weigh them): the read walks every process's heap.
_READ: weakref.WeakKeyDictionary[CheckpointModel, dict[int, ProcessHistory]] = weakref.WeakKeyDictionary()


def _histories(model: CheckpointModel, pids: tuple[int, ...] = ()) -> dict[int, ProcessHistory]:
    if not pids:
        if model not in _READ:
            _READ[model] = _read_histories(model, ())
        return _READ[model]
    return _read_histories(model, pids)


def _read_histories(model: CheckpointModel, pids: tuple[int, ...]) -> dict[int, ProcessHistory]:
    terminals = _terminals(model)
    environments = {p.pid: p.env for p in model.command_lines(env=True).processes}
    found = {}
    for memory in model.memories(pids):
        try:
            history = process_history(
                memory, terminals.get(memory.pid), environments.get(memory.pid), model.diagnostics
            )
        except (CheckforensicsError, OSError) as exc:
            model.diagnostics.of_process(memory.pid, f"history not read: {exc}", part=Part.MEMORY)
            continue
        if history.entries or history.variables:
            found[memory.pid] = history
    return found


def _terminals(model: CheckpointModel) -> dict[int, str]:
    terminals = {}
    for process in model.files().processes:
        for descriptor in process.descriptors:
            if descriptor.fd == 0 and descriptor.type == "TTY" and descriptor.path:
                terminals[process.pid] = descriptor.path
    return terminals


def process_history(
    memory: ProcessMemory, terminal: str | None, environment: list[str] | None, diagnostics: Diagnostics
) -> ProcessHistory:
    """One process's history (live entries, remnants) and, for a bash, its variables set after
    start; what a bound cut short is said to ``diagnostics``."""
    if memory.architecture.pointer_size != 8 or memory.architecture.byte_order != "little":
        return ProcessHistory([], [])
    stamps = timestamps(memory)
    if not stamps:
        return ProcessHistory([], [])
    if len(stamps) >= MAX_TIMESTAMPS:
        diagnostics.of_process(
            memory.pid, f"history: only the first {MAX_TIMESTAMPS} timestamps looked at", part=Part.SEARCH
        )
    lists = history_lists(memory, entries_pointing_at(memory, stamps))
    if not lists:
        return ProcessHistory([], [])
    for history in lists:
        if history.cut:
            diagnostics.of_process(
                memory.pid, f"history: the list at {history.array:#x} cut at {MAX_ENTRIES} entries", part=Part.SEARCH
            )
    entries = _live(memory, terminal, lists)
    bash = any(e.program == "bash" for e in entries)
    heap = _heap_of(memory, lists[0])
    if heap is not None and heap.cut:
        diagnostics.of_process(
            memory.pid,
            f"history: remnants and variables read in the first {HEAP_WALK_LIMIT >> 20} MiB of [heap] only",
            part=Part.SEARCH,
        )
    variables: list[ShellVariable] = []
    tails: list[str] = []
    if heap is not None:
        entries += _remnants(memory, terminal, heap, entries, environment or [])
        tails = [tail.decode() for tail in freed_timestamps(heap)]
        if bash:
            variables = [
                ShellVariable(memory.pid, memory.comm, terminal, v.name, v.value, v.exported, v.address)
                for v in set_after_start(shell_variables(memory, heap), environment)
            ]
    return ProcessHistory(entries, variables, tails)


def _live(memory: ProcessMemory, terminal: str | None, lists: list[HistoryList]) -> list[HistoryEntry]:
    entries = []
    for history in lists:
        for index, entry in enumerate(history.entries):
            entries.append(
                HistoryEntry(
                    memory.pid,
                    memory.comm,
                    terminal,
                    index + 1,
                    entry.line.decode("utf-8", "backslashreplace"),
                    entry.time,
                    "live",
                    entry.address,
                    program="bash" if entry.comment == b"#" else None,
                )
            )
    return entries


def _heap_of(memory: ProcessMemory, history: HistoryList) -> Heap | None:
    mapping = mapping_of(memory, history.entries[0].address)
    if mapping is None or mapping.kind != "heap":
        return None  # remnants and variables are read in the main arena's heap only
    return Heap.read(memory, mapping)


def _remnants(
    memory: ProcessMemory, terminal: str | None, heap: Heap, live: list[HistoryEntry], environment: list[str]
) -> list[HistoryEntry]:
    """Freed text that is not part of a live line or of the environment block (copies the
    program made of them), each text once, by address."""
    known = [e.command for e in live] + environment
    seen: set[str] = set()
    found = []
    for freed in heap.freed_texts(heap.tcache_key()):
        text = freed.text.decode().rstrip("\n")
        if not text or text in seen or any(text in other for other in known):
            continue
        seen.add(text)
        found.append(
            HistoryEntry(memory.pid, memory.comm, terminal, None, text, None, "remnant", freed.address, freed.lost)
        )
    return found
