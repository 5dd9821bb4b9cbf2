"""``search_memory``: every match of some patterns in the dumped memory of some processes.

Each process's regions are scanned window by window, here or by forked workers (see
``parallel``); a process whose pages cannot be read is reported and skipped.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from checkforensics.analysis.memsearch.parallel import cut_windows, search_in_parallel, worker_count
from checkforensics.analysis.memsearch.patterns import SearchPattern
from checkforensics.analysis.memsearch.prescan import PagesScreen, Stretch
from checkforensics.analysis.memsearch.scan import Hit, PatternSet, Progress, RegionScan, SearchPlan, scan_buffer
from checkforensics.errors import ArchiveError
from checkforensics.model import CheckpointModel
from checkforensics.model.pages import (
    DEFAULT_CHUNK_SIZE,
    MappedPages,
    PageSource,
    open_pages,
    region_blocks,
)
from checkforensics.model.regions import Mapping, MemoryFilter, ProcessMemory, Region

MAX_CONTEXT = 4096  # context bytes on either side of a match, at most
PARALLEL_THRESHOLD = 256 << 20  # less memory than this in a process is searched by one worker


@dataclass(frozen=True)
class MemoryMatch:
    """One match: where in which process, in which mapping, and the bytes around it."""

    pid: int
    comm: str | None
    address: int
    mapping: Mapping
    pattern: SearchPattern
    data: bytes
    before: bytes  # up to ``context`` bytes before the match, from the same region
    after: bytes

    @property
    def context_address(self) -> int:
        return self.address - len(self.before)


def search_memory(
    model: CheckpointModel,
    memories: Iterable[ProcessMemory],
    patterns: list[SearchPattern],
    *,
    memory_filter: MemoryFilter | None = None,
    context: int = 16,
    max_count: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
    warnings: list[str] | None = None,
    screen: PagesScreen | None = None,
) -> Iterator[MemoryMatch]:
    """Every match of ``patterns`` in the dumped memory of ``memories``, process by process, by address.

    ``context`` bytes are kept on either side of each match (from the same region);
    ``max_count`` ends a process's search after that many matches; ``progress`` is told how
    many bytes were scanned. ``workers``: processes scanning a mapped pages image together
    (default: one per CPU, up to MAX_WORKERS, for PARALLEL_THRESHOLD bytes or more); the
    matches are the same whatever the number. A process whose pages cannot be read is
    reported in ``warnings`` and skipped; what was found before the failure stays found.
    ``screen``: the tap the model was opened with (``prescan``), if any; a pages image it
    screened whole is searched in the stretches it kept, without reading the image again.
    """
    if not 0 <= context <= MAX_CONTEXT:
        raise ValueError(f"context must be between 0 and {MAX_CONTEXT} bytes")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    plan = SearchPlan(PatternSet(patterns, context), chunk_size, workers, max_count, progress, screen)
    warnings = warnings if warnings is not None else []
    for memory in memories:
        regions = memory.regions(memory_filter)
        if not regions:
            continue
        matches = _search_process(model, memory, regions, plan)
        try:
            yield from matches if max_count is None else itertools.islice(matches, max_count)
        except (ArchiveError, OSError) as exc:
            warnings.append(f"{memory.label}: {memory.pages_member}: memory not fully searched: {exc}")
        finally:
            matches.close()  # unmaps the window or ends the stream at once, also after --max-count


def _search_process(
    model: CheckpointModel, memory: ProcessMemory, regions: list[Region], plan: SearchPlan
) -> Iterator[MemoryMatch]:
    # a search leaves out the shared objects a process maps (each is searched once, on its
    # own), so all its regions lie in the process's own pages image
    stretches = plan.screen.stretches(memory.pages_member) if plan.screen is not None else None
    if stretches is not None and all(_one_stretch(region) for region in regions):
        yield from _matches(memory, _screened_hits(stretches, regions, plan), plan)
        return
    with open_pages(model.archive, memory.pages_member, plan.chunk_size) as source:
        yield from _matches(memory, _region_hits(source, regions, plan), plan)


def _matches(
    memory: ProcessMemory, found: Iterator[tuple[Mapping, list[Hit]]], plan: SearchPlan
) -> Iterator[MemoryMatch]:
    for mapping, hits in found:
        for hit in hits:
            yield MemoryMatch(
                memory.pid,
                memory.comm,
                hit.address,
                mapping,
                plan.patterns.patterns[hit.index],
                hit.data,
                hit.before,
                hit.after,
            )


def _one_stretch(region: Region) -> bool:
    """Whether ``region``'s bytes lie next to each other in its pages image."""
    return all(a[1] + a[2] == b[1] for a, b in itertools.pairwise(region.pieces))


def _screened_hits(
    stretches: list[Stretch], regions: list[Region], plan: SearchPlan
) -> Iterator[tuple[Mapping, list[Hit]]]:
    """Hits region by region, scanning only the stretches of the pages image that the screen kept
    (elsewhere no match starts): what scanning each region whole finds."""
    ends = [stretch.own_to for stretch in stretches]
    for region in regions:
        first, last = region.pieces[0][1], region.pieces[0][1] + region.length
        allowed = [region.start] * len(plan.patterns.patterns)
        hits: list[Hit] = []
        for stretch in itertools.islice(stretches, bisect.bisect_right(ends, first), None):
            if stretch.own_from >= last:
                break
            own_from, own_to = max(first, stretch.own_from), min(last, stretch.own_to)
            lo, hi = max(first, stretch.start), min(last, stretch.start + len(stretch.data))
            if own_to > own_from:
                hits += scan_buffer(
                    plan.patterns,
                    allowed,
                    stretch.data,
                    lo - stretch.start,
                    hi - stretch.start,
                    region.start + lo - first,
                    region.start + own_from - first,
                    region.start + own_to - first,
                    cap=plan.cap,
                )
        if plan.progress is not None:
            plan.progress(region.length)
        hits.sort(key=lambda hit: (hit.address, hit.index))
        yield region.mapping, hits


def _region_hits(source: PageSource, regions: list[Region], plan: SearchPlan) -> Iterator[tuple[Mapping, list[Hit]]]:
    """Hits window by window, in address order: from forked workers where that pays, else here."""
    if isinstance(source, MappedPages) and hasattr(os, "fork"):
        workers = plan.workers or (worker_count() if sum(r.length for r in regions) >= PARALLEL_THRESHOLD else 1)
        windows = cut_windows(regions, plan.chunk_size, plan.patterns.pad) if workers > 1 else None
        if windows is not None and len(windows) > 1:
            for window, hits in search_in_parallel(source, windows, workers, plan):
                yield regions[window.region].mapping, hits
            return
    for region in regions:
        scan = RegionScan(plan.patterns, region.start, plan.cap)
        for buffer, lo, hi, last in region_blocks(source, region):
            hits = scan.feed(buffer, lo, hi, last)
            if plan.progress is not None:
                plan.progress(hi - lo)
            yield region.mapping, hits


def searched_bytes(memories: Iterable[ProcessMemory], memory_filter: MemoryFilter | None = None) -> int:
    """How many bytes a search over ``memories`` reads (for a progress bar)."""
    return sum(region.length for memory in memories for region in memory.regions(memory_filter))
