"""``search_memory``: every match of some patterns in the dumped memory of some processes.

Each memory view scans itself (``ProcessMemory.scan``, see ``model.scan``); here the views are
taken one after the other, and one whose pages cannot be read is reported and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from checkforensics.diagnostics import Diagnostic, Part
from checkforensics.errors import ArchiveError
from checkforensics.model import CheckpointModel
from checkforensics.model.pages import DEFAULT_CHUNK_SIZE
from checkforensics.model.regions import MemoryFilter
from checkforensics.model.scan import MemoryMatch, PagesScreen, Progress, SearchPattern
from checkforensics.model.scan.search import check_options
from checkforensics.model.shared import SharedMemory
from checkforensics.model.view import ProcessMemory


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
    screen: PagesScreen | None = None,
) -> Iterator[MemoryMatch]:
    """Every match of ``patterns`` in the dumped memory of ``memories`` (views of ``model``),
    process by process, by address.

    ``context``, ``max_count`` (per process), ``chunk_size``, ``workers``, ``progress`` and
    ``screen`` (the tap the model was opened with, if any) are those of ``ProcessMemory.scan``.
    A process whose pages cannot be read is said to the model's diagnostics and skipped; what
    was found before the failure stays found.
    """
    check_options(context, chunk_size)
    for memory in memories:
        matches = memory.scan(
            patterns,
            memory_filter,
            context=context,
            max_count=max_count,
            chunk_size=chunk_size,
            workers=workers,
            progress=progress,
            screen=screen,
        )
        try:
            yield from matches
        except (ArchiveError, OSError) as exc:
            pid = None if isinstance(memory, SharedMemory) else memory.pid
            cut = Diagnostic(f"{memory.pages_member}: memory not fully searched: {exc}", memory.label, pid=pid)
            model.diagnostics.add(cut, Part.SEARCH)
        finally:
            matches.close()  # unmaps the window or ends the stream at once, also after --max-count


def searched_bytes(memories: Iterable[ProcessMemory], memory_filter: MemoryFilter | None = None) -> int:
    """How many bytes a search over ``memories`` reads (for a progress bar)."""
    return sum(region.length for memory in memories for region in memory.regions(memory_filter))
