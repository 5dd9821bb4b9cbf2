"""Searching, sizing, hex-dumping and copying the dumped memory of checkpointed processes.

Memory is read where it lies, never extracted and never read whole:

- a plain tar: the pages image's byte range of the archive file is mapped (``mmap``, read-only),
  one window of ``chunk_size`` bytes at a time, so the process never holds more than a window;
- a directory: the same, over the pages file itself;
- a compressed archive: the pages image is streamed in increasing file order, ``chunk_size``
  bytes at a time.

Memory is cut into *regions*: stretches of one mapping whose pages were all dumped and are
contiguous in virtual addresses (several pagemap runs may make one region). A region never
continues into another mapping or across pages that were not dumped, so a match can never be
made of bytes that were not next to each other in the process.

A search scans each region once, window by window, for every pattern. Windows are stitched
with an overlap of ``max_length - 1`` bytes (plus the context asked for), so within a region
each pattern finds exactly what ``re.finditer`` over the region's bytes would find (leftmost
matches, not overlapping one another; different patterns may overlap), whatever the window
size, provided a match is at most ``SearchPattern.max_length`` bytes long. Literal patterns
know their length; a regular expression's longest match comes from its parse, capped at
``MAX_MATCH_LENGTH``: a longer match of an unbounded regex (``\\w+``) may be found cut short.

References: criu/pagemap.c, criu/include/image.h (VMA status), images/mm.proto,
images/pagemap.proto, images/regfile.proto and images/memfd.proto (file names); hexdump(1) ``-C``.

What is searched comes from the model (``checkforensics.model``): each process's mappings,
regions and pages image (``model.regions``, ``model.pages``). The modules here, in the order
data flows through them:

- ``patterns``: ``SearchPattern``, what to look for, and how long its matches can be;
- ``scan``: scanning buffers and stitching a region's windows;
- ``parallel``: forked workers scanning windows of a mapped pages image, and the merge;
- ``search``: ``search_memory`` and ``MemoryMatch``;
- ``memparse``: sizes, ``hexdump -C`` lines and raw copies (memparse, memdump).

The constants re-exported here are for reading; the code looks each one up in the module that
defines it (``MAX_WORKERS`` in ``parallel``, ``PARALLEL_THRESHOLD`` in ``search``), which is
where a test changes it.
"""

from __future__ import annotations

from checkforensics.analysis.memsearch.memparse import (
    HEXDUMP_WIDTH,
    DumpedRegion,
    MemorySize,
    dump_memory,
    hexdump,
    hexdump_line,
    memory_sizes,
)
from checkforensics.analysis.memsearch.parallel import MAX_WORKERS
from checkforensics.analysis.memsearch.patterns import MAX_MATCH_LENGTH, SearchPattern, escape_bytes, longest_match
from checkforensics.analysis.memsearch.scan import Progress, scan_buffer
from checkforensics.analysis.memsearch.search import (
    MAX_CONTEXT,
    PARALLEL_THRESHOLD,
    MemoryMatch,
    search_memory,
    searched_bytes,
)

__all__ = [
    "HEXDUMP_WIDTH",
    "MAX_CONTEXT",
    "MAX_MATCH_LENGTH",
    "MAX_WORKERS",
    "PARALLEL_THRESHOLD",
    "DumpedRegion",
    "MemoryMatch",
    "MemorySize",
    "Progress",
    "SearchPattern",
    "dump_memory",
    "escape_bytes",
    "hexdump",
    "hexdump_line",
    "longest_match",
    "memory_sizes",
    "scan_buffer",
    "search_memory",
    "searched_bytes",
]
