"""Credential rules run over every process's dumped memory.

Each contiguous dumped run of each process is scanned on its own (secrets.scan_range cuts it
into overlapping chunks), so a secret straddling a page or chunk edge is found and nothing is
invented across unrelated mappings.  Shared memory objects (memfds, SysV segments, shared
anonymous memory; see sharedmem) are scanned once each, offsets standing for addresses, and
their findings name the object and where each process maps it.  Findings are deduplicated per
process (or object), rule and value, keeping the first address and a count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checkforensics.analysis import secrets
from checkforensics.analysis.memory import AddressSpace
from checkforensics.analysis.processes import ProcessTree, address_space
from checkforensics.archive import Checkpoint
from checkforensics.errors import CheckforensicsError


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


def scan_process(space: AddressSpace, pid: int, comm: str | None, rules: Sequence[secrets.Rule]) -> list[SecretHit]:
    hits = []
    for vaddr, offset, length in _extents_by_address(space):

        def read_at(position: int, size: int, base: int = offset) -> bytes:
            return space.read_dumped(base + position, size)

        for finding in secrets.scan_range(read_at, length, rules):
            hits.append(SecretHit(pid, comm, vaddr + finding.start, finding.rule, finding.value))
    return hits


def scan_tree(
    checkpoint: Checkpoint,
    tree: ProcessTree,
    rules: Sequence[secrets.Rule] = secrets.BUILTIN_RULES,
    pids: set[int] | None = None,
    *,
    shared: bool = True,
) -> list[SecretHit]:
    """Every rule hit in every (chosen) process, in process and address order, then in the shared
    memory objects (with ``pids``: those the processes map); warnings go to the tree."""
    hits = _scan_processes(checkpoint, tree, rules, pids)
    if shared:
        hits += _scan_shared(checkpoint, tree, rules, pids)
    return hits


def _scan_shared(
    checkpoint: Checkpoint, tree: ProcessTree, rules: Sequence[secrets.Rule], pids: set[int] | None
) -> list[SecretHit]:
    from checkforensics.analysis.memsearch import load_memories
    from checkforensics.analysis.sharedmem import load_shared_memories

    chosen = tuple(sorted(pids)) if pids else ()
    objects = load_shared_memories(checkpoint, load_memories(checkpoint, chosen, []), tree.warnings)
    hits = []
    for obj in objects:
        if pids and not obj.users:
            continue
        for hit in scan_process(obj.space, 0, obj.describe(), rules):
            hits.append(SecretHit(None, hit.comm, hit.address, hit.rule, hit.value, obj))
    return hits


def _scan_processes(
    checkpoint: Checkpoint, tree: ProcessTree, rules: Sequence[secrets.Rule], pids: set[int] | None
) -> list[SecretHit]:
    hits: list[SecretHit] = []
    for process in tree.processes:
        if (pids is not None and process.pid not in pids) or process.zombie:
            continue
        try:
            space = address_space(checkpoint, process.pid, process.mm)
        except CheckforensicsError as exc:
            tree.warnings.append(f"pid {process.pid}: memory not scanned for secrets: {exc}")
            continue
        hits += scan_process(space, process.pid, process.comm, rules)
    return hits


def finding_records(hits: list[SecretHit], *, redact: bool = True) -> list[dict[str, Any]]:
    """One record per process, rule and value: first address, count, and the value (redacted by default)."""
    records = []
    for group in secrets.dedupe(hits, key=_hit_key):
        hit = group.first
        value = secrets.redact(hit.value) if redact else hit.value.decode("utf-8", "backslashreplace")
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
