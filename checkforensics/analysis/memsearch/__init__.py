"""Searching, sizing, hex-dumping and copying the dumped memory of checkpointed processes.

Memory is read where it lies, never extracted and never read whole, by the memory views of the
model: each ``ProcessMemory`` (and ``SharedMemory``) scans itself for patterns
(``ProcessMemory.scan``), reads its regions from its pages image where it lies, mapped or
streamed (``page_sources``), and never hands out the archive. How a scan is cut into windows,
stitched, shared among forked workers or served from a compressed archive's screen is the
model's (``checkforensics.model.scan``); the modules here choose what to search and say what
was found:

- ``search``: ``search_memory``, the views of several processes one after the other, a process
  whose pages cannot be read reported and skipped;
- ``selection``: which processes and shared objects a search covers, and how many matches each
  may report (memgrep, memparse, memdump and the secret rules choose the same way);
- ``memparse``: sizes, ``hexdump -C`` lines and raw copies (memparse, memdump);
- ``grep``: memgrep's ``SearchPlan`` and its answer, ``matches``: its match records;
- ``dumps``: memparse's and memdump's answers and records.

The scanning names (``SearchPattern``, ``MemoryMatch``, ``PagesScreen``, the limits) are
re-exported from ``model.scan`` for the commands that search; the code looks each constant up
in the module that defines it (``MAX_WORKERS`` in ``model.scan.parallel``, ``PARALLEL_THRESHOLD``
in ``model.scan.search``), which is where a test changes it.

References: hexdump(1) ``-C``.
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
from checkforensics.analysis.memsearch.search import search_memory, searched_bytes
from checkforensics.model.scan import (
    MAX_CONTEXT,
    MAX_MATCH_LENGTH,
    MAX_WORKERS,
    PARALLEL_THRESHOLD,
    MemoryMatch,
    PagesScreen,
    Progress,
    SearchPattern,
    escape_bytes,
    longest_match,
    scan_buffer,
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
    "PagesScreen",
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
