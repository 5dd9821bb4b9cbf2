"""Which memory a search looks at: processes by PID, the shared objects that go with them, and
how many matches each may report.

memgrep, memparse, memdump and the secret rules choose memory the same way, here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from checkforensics.analysis.memsearch.search import search_memory
from checkforensics.diagnostics import Diagnostic, Part
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.model import CheckpointModel
from checkforensics.model.regions import MemoryFilter
from checkforensics.model.scan import MemoryMatch, PagesScreen, Progress, SearchPattern
from checkforensics.model.shared import SharedMemory
from checkforensics.model.view import ProcessMemory


class SharedObjectNotFoundError(CheckforensicsError):
    """A shared memory object asked for by id is not in the checkpoint."""

    exit_code = ExitCode.USAGE


def shared_objects(
    model: CheckpointModel, pids: Iterable[int] = (), memory_filter: MemoryFilter | None = None
) -> list[SharedMemory]:
    """The shared memory objects a search covers: every one, or (with ``pids``) those the chosen
    processes map. Filters by address, permissions or file leave them out (an object has no
    addresses, permissions or file of its own); ``--vma-type`` keeps those of its kinds."""
    chosen = set(pids)
    memory_filter = memory_filter or MemoryFilter()
    if memory_filter.address is not None or memory_filter.perms is not None or memory_filter.file_glob is not None:
        return []
    objects = model.shared_memory
    if chosen:
        objects = [obj for obj in objects if any(use.pid in chosen for use in obj.users)]
    if memory_filter.kinds:
        objects = [obj for obj in objects if obj.kind in memory_filter.kinds]
    return objects


def one_memory(model: CheckpointModel, pid: int | None, shmid: int | None) -> ProcessMemory:
    """The memory of process ``pid``, or else of shared memory object ``shmid``. Why the
    process's cannot be read is said in the error: what the listing and the processes said
    (its own reason last), then what the memory's part said of no process in particular."""
    if pid is not None:
        memories = model.memories([pid])
        if not memories:
            said = model.diagnostics.said
            why = list(dict.fromkeys([*said(Part.LISTING, Part.PROCESSES), *said(Part.MEMORY, pids=())]))
            raise CheckforensicsError(f"the memory of process {pid} cannot be read ({'; '.join(why) or 'no images'})")
        return memories[0]
    found = model.shared_object(shmid) if shmid is not None else None
    if found is None:
        known = ", ".join(str(obj.shmid) for obj in model.shared_memory) or "none"
        raise SharedObjectNotFoundError(f"no shared memory object {shmid} (there are: {known})", where=str(model.path))
    return found


def at_most(model: CheckpointModel, matches: Iterable[MemoryMatch], limit: int | None) -> Iterator[MemoryMatch]:
    """The first ``limit`` matches of each process; each process that had more is said to the
    model's diagnostics."""
    counts: Counter[int] = Counter()
    for match in matches:
        counts[match.pid] += 1
        if limit is not None and counts[match.pid] > limit:
            if counts[match.pid] == limit + 1:
                what = f"more than {limit} matches; only the first {limit} are shown (--max-count)"
                model.diagnostics.of_process(match.pid, what, part=Part.SEARCH)
            continue
        yield match


def shared_matches(
    model: CheckpointModel,
    objects: list[SharedMemory],
    patterns: list[SearchPattern],
    context: int,
    limit: int | None,
    progress: Progress | None,
    screen: PagesScreen | None = None,
) -> Iterator[tuple[SharedMemory, MemoryMatch]]:
    """Matches in each shared object (offsets as addresses), at most ``limit`` per object
    (``screen``: as for ``search_memory``); an object with more is said to the model's
    diagnostics."""
    for obj in objects:
        found = search_memory(
            model,
            [obj],
            patterns,
            context=context,
            max_count=None if limit is None else limit + 1,
            progress=progress,
            screen=screen,
        )
        for number, match in enumerate(found, 1):
            if limit is not None and number > limit:
                more = Diagnostic(f"more than {limit} matches; only the first {limit} are shown", obj.label)
                model.diagnostics.add(more, Part.SEARCH)
                break
            yield obj, match
