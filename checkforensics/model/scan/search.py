"""``scan_memory``: every match of some patterns in the dumped memory of one memory view.

This is what ``ProcessMemory.scan`` runs. The view's regions are scanned window by window, here
or by forked workers (see ``parallel``), or, when the checkpoint was listed through a screen made
for the same patterns (``prescan``), only in the stretches of the pages image the screen kept.
The view is taken as ``ScannedMemory``, what a scan asks of it: scanning does not know the
memory view (``model.view``), which stands on it.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from checkforensics.model.pages import DEFAULT_CHUNK_SIZE, MappedPages, PageSource, region_blocks
from checkforensics.model.regions import Mapping, MemoryFilter, Region
from checkforensics.model.scan.parallel import cut_windows, search_in_parallel, worker_count
from checkforensics.model.scan.patterns import SearchPattern
from checkforensics.model.scan.prescan import PagesScreen, Stretch
from checkforensics.model.scan.windows import Hit, PatternSet, Progress, RegionScan, SearchPlan, scan_buffer

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

MAX_CONTEXT = 4096  # context bytes on either side of a match, at most
PARALLEL_THRESHOLD = 256 << 20  # less memory than this in a process is searched by one worker


class ScannedMemory(Protocol):
    """What a scan asks of a memory view (``model.view``'s ``ProcessMemory`` and the shared
    objects are ones): who it is, its dumped regions, and its own pages image."""

    @property
    def pid(self) -> int: ...

    @property
    def comm(self) -> str | None: ...

    @property
    def pages_member(self) -> str: ...  # the pages image's member name in the checkpoint

    def regions(self, memory_filter: MemoryFilter | None = None) -> list[Region]: ...

    def open_pages(self, chunk_size: int | None = None) -> AbstractContextManager[PageSource]: ...


@dataclass(frozen=True)
class MemoryMatch:
    """One match: where in which process, in which mapping, and the bytes around it.

    In a shared memory object ``pid`` is None and ``address`` is the offset in the object."""

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


def check_options(context: int, chunk_size: int) -> None:
    """ValueError for a context or window size no search takes."""
    if not 0 <= context <= MAX_CONTEXT:
        raise ValueError(f"context must be between 0 and {MAX_CONTEXT} bytes")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")


def scan_memory(
    memory: ScannedMemory,
    patterns: list[SearchPattern],
    memory_filter: MemoryFilter | None = None,
    *,
    context: int = 16,
    max_count: int | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    screen: PagesScreen | None = None,
) -> Generator[MemoryMatch, None, None]:
    """The matches in ``memory``'s own regions that ``memory_filter`` keeps, by address (see
    ``ProcessMemory.scan``). Closing the iterator unmaps the window or ends the stream at once."""
    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    check_options(context, chunk_size)
    regions = memory.regions(memory_filter)
    if not regions:
        return
    if screen is not None and not screen.serves(patterns, context):
        screen = None  # screened for other patterns: its stretches say nothing of these
    plan = SearchPlan(PatternSet(patterns, context), chunk_size, workers, max_count, progress, screen)
    matches = _matches(memory, regions, plan)
    try:
        yield from matches if max_count is None else itertools.islice(matches, max_count)
    finally:
        matches.close()


def _matches(memory: ScannedMemory, regions: list[Region], plan: SearchPlan) -> Iterator[MemoryMatch]:
    # a scan leaves out the shared objects a process maps (each is scanned once, on its own),
    # so all its regions lie in the view's own pages image
    stretches = plan.screen.stretches(memory.pages_member) if plan.screen is not None else None
    if stretches is not None and all(_one_stretch(region) for region in regions):
        found = _screened_hits(stretches, regions, plan)
        yield from _as_matches(memory, found, plan)
        return
    with memory.open_pages(plan.chunk_size) as source:
        yield from _as_matches(memory, _region_hits(source, regions, plan), plan)


def _as_matches(
    memory: ScannedMemory, found: Iterator[tuple[Mapping, list[Hit]]], plan: SearchPlan
) -> Iterator[MemoryMatch]:
    patterns = plan.patterns.patterns
    for mapping, hits in found:
        for hit in hits:
            yield MemoryMatch(
                memory.pid, memory.comm, hit.address, mapping, patterns[hit.index], hit.data, hit.before, hit.after
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
