"""The scanning core: every pattern over one buffer, and a region's windows stitched together.

Windows are stitched with an overlap of ``max_length - 1`` bytes (plus the context asked for),
so within a region each pattern finds exactly what ``re.finditer`` over the region's bytes
would find (leftmost matches, not overlapping one another; different patterns may overlap),
whatever the window size, provided a match is at most ``SearchPattern.max_length`` bytes long.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from checkforensics.model.pages import Buffer
from checkforensics.model.scan.patterns import SearchPattern
from checkforensics.model.scan.prescan import PagesScreen

Progress = Callable[[int], None]  # called with the number of bytes just scanned


class PatternSet:
    """Patterns scanned together, and how far apart stitched windows must overlap."""

    def __init__(self, patterns: list[SearchPattern], context: int) -> None:
        if not patterns:
            raise ValueError("no pattern to search for")
        self.patterns = patterns
        self.context = context
        # a match starting in one window must fit, with its after-context, in that window
        self.pad = max(pattern.max_length for pattern in patterns) - 1 + context
        self.folds = any(pattern.literal is not None and pattern.ignore_case for pattern in patterns)
        self.regexes = any(pattern.literal is None for pattern in patterns)


@dataclass
class Hit:
    address: int
    index: int
    data: bytes
    before: bytes
    after: bytes


@dataclass
class RegionScan:
    """The stitching state of one region: what is scanned, and the bytes kept for the next window.

    Every start address belongs to exactly one scan: a window owns the starts up to ``pad``
    bytes before its end (all of them when it is the region's last), and the next window takes
    over from there with the kept ``tail`` in front of it.
    """

    patterns: PatternSet
    start: int
    cap: int | None = None  # at most this many matches of each pattern per window
    cursor: int = 0  # address of the next byte fed
    owned_to: int = 0  # starts below this have been scanned
    tail: bytes = b""  # bytes from tail_address to cursor, kept for the next window
    tail_address: int = 0
    next_allowed: list[int] = field(default_factory=list)  # per pattern: where its next match may start

    def __post_init__(self) -> None:
        self.cursor = self.owned_to = self.tail_address = self.start
        self.next_allowed = [self.start] * len(self.patterns.patterns)

    def feed(self, buffer: Buffer, lo: int, hi: int, last: bool) -> list[Hit]:
        pad = self.patterns.pad
        address, end = self.cursor, self.cursor + hi - lo
        own_end = end if last else end - pad
        hits: list[Hit] = []
        if hi - lo <= 2 * pad:  # a small window: glue it to the tail and scan that
            joined = self.tail + bytes(buffer[lo:hi])
            hits += self._scan(joined, 0, len(joined), self.tail_address, self.owned_to, own_end)
            self.owned_to = max(self.owned_to, own_end)
            keep = max(self.tail_address, self.owned_to - pad)
            self.tail, self.tail_address = joined[keep - self.tail_address :], keep
        else:
            if self.tail:  # the seam: starts in the tail and in the window's first pad bytes
                seam = self.tail + bytes(buffer[lo : lo + 2 * pad])
                hits += self._scan(seam, 0, len(seam), self.tail_address, self.owned_to, address + pad)
                self.owned_to = max(self.owned_to, address + pad)
            hits += self._scan(buffer, lo, hi, address, self.owned_to, own_end)
            self.owned_to = max(self.owned_to, own_end)
            keep = max(address, self.owned_to - pad)
            self.tail, self.tail_address = bytes(buffer[lo + keep - address : hi]), keep
        self.cursor = end
        if last:
            self.tail = b""
        hits.sort(key=lambda hit: (hit.address, hit.index))
        return hits

    def _scan(self, buffer: Buffer, lo: int, hi: int, address: int, own_from: int, own_to: int) -> list[Hit]:
        return scan_buffer(self.patterns, self.next_allowed, buffer, lo, hi, address, own_from, own_to, cap=self.cap)


def scan_buffer(
    patterns: PatternSet,
    next_allowed: list[int],
    buffer: Buffer,
    lo: int,
    hi: int,
    address: int,
    own_from: int,
    own_to: int,
    only: int | None = None,
    cap: int | None = None,
) -> list[Hit]:
    """Matches in ``buffer[lo:hi]`` (``buffer[lo]`` being at ``address``) that start in [own_from, own_to).

    ``next_allowed`` holds, per pattern, the address its next match may start at (the end of
    its previous one); it is moved past each match found. ``only``: just that pattern.
    ``cap``: at most that many matches of each pattern (a search that wants no more than that
    stops before the rest matters).
    """
    if own_to <= own_from:
        return []
    spans: list[tuple[int, int, int]] = []
    folded = bytes(buffer[lo:hi]).lower() if patterns.folds else None
    view = None
    if patterns.regexes:
        # a view of exactly the window, so that lookbehind and \b never see bytes outside it
        view = buffer if lo == 0 and hi == len(buffer) else memoryview(buffer)[lo:hi]
    try:
        for index, pattern in enumerate(patterns.patterns):
            first = max(own_from, next_allowed[index]) - address
            limit = own_to - address
            if first >= limit or (only is not None and index != only):
                continue
            if pattern.literal is None:
                assert view is not None
                found = _regex_spans(pattern.regex, view, first, limit, cap)
            elif folded is not None and pattern.ignore_case:
                found = _literal_spans(folded, pattern.literal, first, limit, hi - lo, cap)
            else:
                absolute = _literal_spans(buffer, pattern.literal, lo + first, lo + limit, hi, cap)
                found = [(start - lo, stop - lo) for start, stop in absolute]
            spans += [(start, stop, index) for start, stop in found]
            if found:
                next_allowed[index] = address + found[-1][1]
    finally:
        if isinstance(view, memoryview):
            with contextlib.suppress(BufferError):
                view.release()
    context = patterns.context
    return [
        Hit(
            address + start,
            index,
            bytes(buffer[lo + start : lo + stop]),
            bytes(buffer[lo + max(0, start - context) : lo + start]),
            bytes(buffer[lo + stop : lo + min(hi - lo, stop + context)]),
        )
        for start, stop, index in spans
    ]


def _literal_spans(
    buffer: Buffer, literal: bytes, first: int, limit: int, end: int, cap: int | None = None
) -> list[tuple[int, int]]:
    """Non-overlapping occurrences of ``literal`` in ``buffer[:end]`` starting in [first, limit)."""
    spans: list[tuple[int, int]] = []
    size = len(literal)
    position = buffer.find(literal, first, end)
    while position != -1 and position < limit and (cap is None or len(spans) < cap):
        spans.append((position, position + size))
        position = buffer.find(literal, position + size, end)
    return spans


def _regex_spans(
    regex: re.Pattern[bytes], text: Any, first: int, limit: int, cap: int | None = None
) -> list[tuple[int, int]]:
    """``regex.finditer`` from ``first``: the non-empty matches that start before ``limit``."""
    spans: list[tuple[int, int]] = []
    for match in regex.finditer(text, first):
        start, stop = match.span()
        if start >= limit or (cap is not None and len(spans) >= cap):
            break
        if stop > start:
            spans.append((start, stop))
    return spans


@dataclass(frozen=True)
class SearchPlan:
    patterns: PatternSet
    chunk_size: int
    workers: int | None
    cap: int | None  # the most matches of one process anyone wants
    progress: Progress | None
    screen: PagesScreen | None = None  # pages images screened as a streamed archive was listed
