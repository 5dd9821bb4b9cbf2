"""Credential rules run over every process's dumped memory.

Each contiguous dumped run of each process is scanned on its own (secrets.scan_range cuts it
into overlapping chunks), so a secret straddling a page or chunk edge is found and nothing is
invented across unrelated mappings.  Shared memory objects (memfds, SysV segments, shared
anonymous memory; see sharedmem) are scanned once each, offsets standing for addresses, and
their findings name the object and where each process maps it.  Findings are deduplicated per
process (or object), rule and value, keeping the first address and a count.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checkforensics import progress
from checkforensics.analysis import secrets
from checkforensics.analysis.memory import AddressSpace
from checkforensics.analysis.processes import Process, ProcessTree, address_space
from checkforensics.analysis.redaction import Redaction
from checkforensics.archive import Checkpoint
from checkforensics.errors import CheckforensicsError

if TYPE_CHECKING:
    from checkforensics.analysis.memsearch import MemoryFilter, ProcessMemory, Region
    from checkforensics.analysis.yarascan import YaraRules


@dataclass(frozen=True)
class SecretHit:
    pid: int | None  # None: in a shared memory object (``shared``), at offset ``address``
    comm: str | None
    address: int
    rule: secrets.Rule
    value: bytes
    shared: Any = None  # the SharedMemory object


def _hit_key(hit: SecretHit) -> tuple[Any, ...]:
    return hit.pid, None if hit.shared is None else hit.shared.shmid, hit.rule.id, hit.value


def _extents_by_address(space: AddressSpace) -> list[tuple[int, int, int]]:
    """Dumped extents cut at mapping boundaries: a match may not cross from one VMA into another."""
    cut = []
    for vaddr, offset, length in space.present_extents():
        start, end = vaddr, vaddr + length
        while start < end:
            vma = space.vma_at(start)
            stop = min(end, vma.end) if vma is not None else end
            cut.append((start, offset + (start - vaddr), stop - start))
            start = stop
    return cut


def scan_process(
    space: AddressSpace,
    pid: int,
    comm: str | None,
    rules: Sequence[secrets.Rule],
    advance: progress.Advance | None = None,
    yara: YaraRules | None = None,
) -> list[SecretHit]:
    hits = []
    for vaddr, offset, length in _extents_by_address(space):

        def read_at(position: int, size: int, base: int = offset) -> bytes:
            return space.read_dumped(base + position, size)

        for finding in secrets.scan_range(read_at, length, rules):
            hits.append(SecretHit(pid, comm, vaddr + finding.start, finding.rule, finding.value))
        if yara is not None:
            for found in yara.scan_range(read_at, length):
                hits.append(SecretHit(pid, comm, vaddr + found.start, found.rule, found.value))
        if advance is not None:
            advance(length)
    return hits


def scan_tree(
    checkpoint: Checkpoint,
    tree: ProcessTree,
    rules: Sequence[secrets.Rule] = secrets.BUILTIN_RULES,
    pids: set[int] | None = None,
    *,
    shared: bool = True,
    yara: YaraRules | None = None,
) -> list[SecretHit]:
    """Every rule hit in every (chosen) process, in process and address order, then in the shared
    memory objects (with ``pids``: those the processes map); warnings go to the tree. ``yara``:
    the user's YARA rules, run over the same memory."""
    spaces = _address_spaces(checkpoint, tree, pids)
    objects = _shared_objects(checkpoint, tree, pids) if shared else []
    total = sum(space.dumped_bytes for _, space in spaces) + sum(obj.space.dumped_bytes for obj in objects)
    hits: list[SecretHit] = []
    with progress.task("secrets", total) as advance:
        for process, space in spaces:
            hits += scan_process(space, process.pid, process.comm, rules, advance, yara)
        for obj in objects:
            for hit in scan_process(obj.space, 0, obj.describe(), rules, advance, yara):
                hits.append(SecretHit(None, hit.comm, hit.address, hit.rule, hit.value, obj))
    return hits


def scan_memories(
    memories: Sequence[ProcessMemory],
    memory_filter: MemoryFilter,
    rules: Sequence[secrets.Rule] = secrets.BUILTIN_RULES,
    yara: YaraRules | None = None,
) -> list[SecretHit]:
    """The rules over the regions of ``memories`` that ``memory_filter`` keeps (memgrep's
    --perms, --vma-type, --address, --file), each region on its own; shared memory objects
    among ``memories`` give findings without a pid, as in ``scan_tree``."""
    from checkforensics.analysis.sharedmem import SharedMemory

    regions = [(memory, region) for memory in memories for region in memory.regions(memory_filter)]
    hits: list[SecretHit] = []
    with progress.task("secrets", sum(region.length for _, region in regions)) as advance:
        for memory, region in regions:
            read_at = _region_reader(memory, region)
            found = [(f.start, f.rule, f.value) for f in secrets.scan_range(read_at, region.length, rules)]
            if yara is not None:
                found += [(f.start, f.rule, f.value) for f in yara.scan_range(read_at, region.length)]
            shared = memory if isinstance(memory, SharedMemory) else None
            comm = shared.describe() if shared is not None else memory.comm
            for start, rule, value in found:
                hits.append(SecretHit(memory.pid, comm, region.start + start, rule, value, shared))
            advance(region.length)
    return hits


def _region_reader(memory: ProcessMemory, region: Region) -> Callable[[int, int], bytes]:
    """Reads ``size`` bytes at ``position`` of ``region``, across its pieces of the pages image."""
    starts = [vaddr - region.start for vaddr, _, _ in region.pieces]

    def read_at(position: int, size: int) -> bytes:
        out = bytearray()
        index = max(0, bisect.bisect_right(starts, position) - 1)
        while size > 0 and index < len(region.pieces):
            vaddr, offset, length = region.pieces[index]
            inside = position - (vaddr - region.start)
            take = min(size, length - inside)
            if take > 0:
                out += memory.space.read_dumped(offset + inside, take)
                position, size = position + take, size - take
            index += 1
        return bytes(out)

    return read_at


def _shared_objects(checkpoint: Checkpoint, tree: ProcessTree, pids: set[int] | None) -> list[Any]:
    """The shared memory objects to scan: all, or (with ``pids``) those the processes map."""
    from checkforensics.analysis.memsearch import load_memories
    from checkforensics.analysis.sharedmem import load_shared_memories

    chosen = tuple(sorted(pids)) if pids else ()
    objects = load_shared_memories(checkpoint, load_memories(checkpoint, chosen, []), tree.warnings)
    return [obj for obj in objects if obj.users or not pids]


def _address_spaces(
    checkpoint: Checkpoint, tree: ProcessTree, pids: set[int] | None
) -> list[tuple[Process, AddressSpace]]:
    spaces = []
    for process in tree.processes:
        if (pids is not None and process.pid not in pids) or process.zombie:
            continue
        try:
            spaces.append((process, address_space(checkpoint, process.pid, process.mm)))
        except CheckforensicsError as exc:
            tree.warnings.append(f"pid {process.pid}: memory not scanned for secrets: {exc}")
    return spaces


def finding_records(hits: list[SecretHit], *, redact: bool = True) -> list[dict[str, Any]]:
    """One record per process, rule and value: first address, count, and the value (masked as
    analysis.redaction masks secrets, unless not ``redact``)."""
    records = []
    shown = Redaction(reveal=not redact)
    for group in secrets.dedupe(hits, key=_hit_key):
        hit = group.first
        value = shown.value(hit.value)
        record = {
            "pid": hit.pid,
            "comm": hit.comm,
            "rule": hit.rule.id,
            "severity": str(hit.rule.severity).lower(),
            "description": hit.rule.description,
            "address": hit.address,
            "value": value,
            "count": group.count,
        }
        if hit.shared is not None:  # address is the offset in the object
            record["shared"] = hit.shared.as_json()
            places = hit.shared.mapped_at(hit.address)
            record["mapped"] = [{"pid": pid, "comm": comm, "address": address} for pid, comm, address in places]
        records.append(record)
    return records
