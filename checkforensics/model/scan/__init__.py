"""Scanning memory for patterns where it lies: what ``ProcessMemory.scan`` stands on.

Memory is read where it lies, never extracted and never read whole:

- a plain tar: the pages image's byte range of the archive file is mapped (``mmap``, read-only),
  one window of ``chunk_size`` bytes at a time, so the process never holds more than a window;
- a directory, or a compressed archive's spool: the same, over that file;
- a compressed archive without a spool: the pages image is streamed in increasing file order,
  ``chunk_size`` bytes at a time, or, when its one listing pass went through a screen made for
  the same patterns (``prescan``), only the stretches the screen kept are scanned.

A scan goes over each region of a memory view (a stretch of one mapping whose pages were all
dumped, contiguous in virtual addresses; see ``model.regions``) once, window by window, for
every pattern. Windows are stitched with an overlap of ``max_length - 1`` bytes (plus the
context asked for), so within a region each pattern finds exactly what ``re.finditer`` over the
region's bytes would find (leftmost matches, not overlapping one another; different patterns
may overlap), whatever the window size, provided a match is at most ``SearchPattern.max_length``
bytes long. Literal patterns know their length; a regular expression's longest match comes from
its parse, capped at ``MAX_MATCH_LENGTH``: a longer match of an unbounded regex (``\\w+``) may
be found cut short. A match never joins bytes of two mappings or crosses pages not dumped.

The modules, in the order data flows through them:

- ``patterns``: ``SearchPattern``, what to look for, and how long its matches can be;
- ``windows``: scanning buffers and stitching a region's windows;
- ``parallel``: forked workers scanning windows of a mapped pages image, and the merge;
- ``prescan``: ``PagesScreen``, the tap that screens pages images in a compressed archive's pass;
- ``search``: ``scan_memory`` (``ProcessMemory.scan``) and ``MemoryMatch``.

The constants re-exported here are for reading; the code looks each one up in the module that
defines it (``MAX_WORKERS`` in ``parallel``, ``PARALLEL_THRESHOLD`` in ``search``), which is
where a test changes it.

References: criu/pagemap.c, images/pagemap.proto.
"""

from __future__ import annotations

from checkforensics.model.scan.parallel import MAX_WORKERS
from checkforensics.model.scan.patterns import MAX_MATCH_LENGTH, SearchPattern, escape_bytes, longest_match
from checkforensics.model.scan.prescan import PagesScreen
from checkforensics.model.scan.search import MAX_CONTEXT, PARALLEL_THRESHOLD, MemoryMatch, scan_memory
from checkforensics.model.scan.windows import Progress, scan_buffer

__all__ = [
    "MAX_CONTEXT",
    "MAX_MATCH_LENGTH",
    "MAX_WORKERS",
    "PARALLEL_THRESHOLD",
    "MemoryMatch",
    "PagesScreen",
    "Progress",
    "SearchPattern",
    "escape_bytes",
    "longest_match",
    "scan_buffer",
    "scan_memory",
]
