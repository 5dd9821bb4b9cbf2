"""Searching with several processes at once: a mapped pages image cut into windows for forked workers.

A mapped pages image can be read anywhere at any time, so a big search is cut into windows that
forked workers scan independently, each window owning the match starts in its middle and reading
``pad`` bytes either side. Merging puts back what one sequential scan would have found: where a
pattern's last match in one window runs into the next, that window is scanned again for that
pattern from where the match ends (rare: it needs a match across the cut).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from checkforensics.errors import ArchiveError
from checkforensics.model.pages import MappedPages
from checkforensics.model.regions import Region
from checkforensics.model.scan.windows import Hit, PatternSet, Progress, SearchPlan, scan_buffer

MAX_WORKERS = 4


@dataclass(frozen=True)
class Window:
    """Starts [own_from, own_to) of one region, scanned from the bytes [start, end)."""

    region: int  # index in the process's regions
    own_from: int
    own_to: int
    start: int
    end: int
    offset: int  # where ``start`` lies in the pages image


def cut_windows(regions: list[Region], chunk_size: int, pad: int) -> list[Window] | None:
    """The windows of ``regions``; None when a region is not one piece of the pages image."""
    windows = []
    for index, region in enumerate(regions):
        if len(region.pieces) != 1:
            return None
        vaddr, offset, length = region.pieces[0]
        for own_from in range(vaddr, vaddr + length, chunk_size):
            own_to = min(own_from + chunk_size, vaddr + length)
            start, end = max(vaddr, own_from - pad), min(vaddr + length, own_to + pad)
            windows.append(Window(index, own_from, own_to, start, end, offset + start - vaddr))
    return windows


def _scan_windows(
    source: MappedPages,
    patterns: PatternSet,
    windows: list[Window],
    cap: int | None,
    progress: Progress | None = None,
) -> list[list[Hit] | None]:
    """Each window's hits on its own; with ``cap``, the windows after ``cap`` hits are left (None)."""
    results: list[list[Hit] | None] = []
    found = 0
    for window in windows:
        if cap is not None and found >= cap:
            results.append(None)
            continue
        hits = _scan_window(source, patterns, window, [window.own_from] * len(patterns.patterns), cap)
        results.append(hits)
        found += len(hits)
        if progress is not None:
            progress(window.own_to - window.own_from)
    return results


def _scan_window(
    source: MappedPages,
    patterns: PatternSet,
    window: Window,
    allowed: list[int],
    cap: int | None,
    only: int | None = None,
) -> list[Hit]:
    with source.mapped(window.offset, window.end - window.start) as (buffer, lo, hi):
        return scan_buffer(
            patterns, allowed, buffer, lo, hi, window.start, window.own_from, window.own_to, only=only, cap=cap
        )


def _merge_windows(
    source: MappedPages,
    patterns: PatternSet,
    windows: list[Window],
    results: list[list[Hit] | None],
    cap: int | None,
) -> Iterator[tuple[Window, list[Hit]]]:
    """Each window's hits as a sequential scan of its region finds them (see above).

    A window a worker left unscanned (it had found ``cap`` hits before) is scanned here, if the
    caller still wants more.
    """
    allowed: list[int] = []
    region = -1
    for window, scanned in zip(windows, results, strict=True):
        if window.region != region:
            region, allowed = window.region, [window.own_from] * len(patterns.patterns)
        if scanned is None:
            yield window, _scan_window(source, patterns, window, allowed, cap)
            continue
        merged: list[Hit] = []
        for index in range(len(patterns.patterns)):
            mine = [hit for hit in scanned if hit.index == index]
            if mine and mine[0].address < allowed[index]:  # the last match before runs into this window
                mine = _scan_window(source, patterns, window, allowed, cap, only=index)
            elif mine:
                allowed[index] = mine[-1].address + len(mine[-1].data)
            merged += mine
        merged.sort(key=lambda hit: (hit.address, hit.index))
        yield window, merged


def worker_count() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def _in_processes(
    work: Callable[[list[Window]], list[list[Hit] | None]], parts: list[list[Window]]
) -> list[list[Hit] | None]:
    """``work`` over each part, the first one here and the others in forked children, results in order."""
    import pickle

    children: list[tuple[int, int]] = []
    try:
        for part in parts[1:]:
            reader, writer = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: scan, send the hits, and leave without running the parent's cleanup
                status = 1
                try:
                    os.close(reader)
                    try:
                        payload, status = pickle.dumps(work(part), pickle.HIGHEST_PROTOCOL), 0
                    except BaseException as exc:
                        payload = pickle.dumps(f"{type(exc).__name__}: {exc}")
                    with open(writer, "wb") as pipe:
                        pipe.write(payload)
                finally:
                    os._exit(status)
            os.close(writer)
            children.append((pid, reader))
        results = work(parts[0])
        while children:
            pid, reader = children.pop(0)
            with open(reader, "rb") as pipe:
                payload = pipe.read()
            _, status = os.waitpid(pid, 0)
            answer = pickle.loads(payload) if payload else "the worker ended without an answer"
            if status != 0 or isinstance(answer, str):
                raise ArchiveError(f"a search worker failed: {answer}")
            results += answer
        return results
    finally:
        for pid, reader in children:  # only after a failure: stop the others
            with contextlib.suppress(OSError):
                os.close(reader)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)


def balanced_parts(windows: list[Window], count: int) -> list[list[Window]]:
    """``windows`` cut into at most ``count`` runs of consecutive windows with about as many bytes
    each (runs, because the merge puts results back in window order)."""
    total = sum(window.end - window.start for window in windows)
    parts: list[list[Window]] = [[]]
    done = 0
    for window in windows:
        size = window.end - window.start
        if parts[-1] and len(parts) < count and done + size / 2 >= total * len(parts) / count:
            parts.append([])  # the cut nearest to this part's share: before the window's middle
        parts[-1].append(window)
        done += size
    return parts


def search_in_parallel(
    source: MappedPages, windows: list[Window], workers: int, plan: SearchPlan
) -> Iterator[tuple[Window, list[Hit]]]:
    parts = balanced_parts(windows, workers)

    def work(part: list[Window]) -> list[list[Hit] | None]:
        return _scan_windows(source, plan.patterns, part, plan.cap, plan.progress if part is parts[0] else None)

    results = _in_processes(work, parts)
    if plan.progress is not None:
        plan.progress(sum(window.own_to - window.own_from for part in parts[1:] for window in part))
    yield from _merge_windows(source, plan.patterns, windows, results, plan.cap)
