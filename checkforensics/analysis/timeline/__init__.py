"""timeline: everything dated in one or more checkpoints, as one stream in time order.

Each registered source (``sources.py``: the runtime's records, the checkpoint itself, the CRI
log, the files on disk) gives its events; those of several checkpoints are merged, one fact
found in several checkpoints (the same file at the same mtime, the same log line) being one
event naming each of them. Dated events come first, by time (to the nanosecond), then by
source in the registry's order; undated ones (a deleted file, a time that could not be read)
after them, in the order found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from checkforensics.analysis.timeline.event import CERTAINTIES, EVENT, Event, bodyfile_line, iso_time
from checkforensics.analysis.timeline.sources import SOURCES, source, sources_reads
from checkforensics.model import CheckpointModel
from checkforensics.records.declare import Answer, Section

__all__ = [
    "CERTAINTIES", "EVENT", "SOURCES", "Event", "bodyfile_line", "events_of", "iso_time", "merge", "merged_answer",
    "source", "sources_reads", "timeline",
]  # fmt: skip

NOTHING = "no dated or undated event in the checkpoint"


def events_of(model: CheckpointModel, *, memory: bool = True) -> list[Event]:
    """Every event the registered sources find in ``model``, in the sources' order; without
    ``memory``, not those of the sources that read process memory (shell history)."""
    return [
        event for each in SOURCES.values() if memory or "memory" not in each.reads for event in each.find(model)
    ]


def timeline(model: CheckpointModel, *, memory: bool = True) -> Answer:
    """One checkpoint's events, not yet ordered (``merged_answer`` orders and merges them)."""
    return Answer([Section(EVENT, events_of(model, memory=memory))], nothing=NOTHING)


def merge(found: Iterable[tuple[str, Iterable[Event]]]) -> list[Event]:
    """The events of each checkpoint (its name, its events) as one timeline: each fact once,
    naming every checkpoint that holds it, dated events by time and then undated ones."""
    order = {name: index for index, name in enumerate(SOURCES)}
    seen: dict[tuple[Any, ...], Event] = {}
    for checkpoint, events in found:
        counted: dict[tuple[Any, ...], int] = {}
        for event in events:
            nth = counted[event.key] = counted.get(event.key, 0) + 1  # two like lines of one log are two
            same = seen.get((event.key, nth))
            if same is None:
                seen[(event.key, nth)] = same = event
                same.checkpoints = []
            if checkpoint not in same.checkpoints:
                same.checkpoints.append(checkpoint)
    everything = list(seen.values())  # in the order found: what sorts equal keeps it
    dated = sorted((e for e in everything if e.ns is not None), key=lambda e: (e.ns, order.get(e.source, len(order))))
    return dated + [e for e in everything if e.ns is None]


def merged_answer(answers: Sequence[Answer], *, dated_only: bool = False, runtime: bool = False) -> Answer:
    """The answers of ``timeline`` for each checkpoint as one answer, merged (``merge``);
    ``dated_only``: without the undated events; ``runtime``: with the files the container
    runtime made (as ``diff --all``)."""
    found = []
    for answer in answers:
        for section in answer.sections:
            found.append((str(section.context.get("archive", "")), section.items))
    events = [
        e for e in merge(found) if (e.ns is not None or not dated_only) and (runtime or e.runtime_made is None)
    ]
    return Answer([Section(EVENT, events)], nothing=NOTHING)
