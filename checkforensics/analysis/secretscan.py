"""Credential rules run over every process's dumped memory.

Each contiguous dumped run of each process is scanned on its own (secrets.scan_range cuts it
into overlapping chunks), so a secret straddling a page or chunk edge is found and nothing is
invented across unrelated mappings.  Findings are deduplicated per process, rule and value,
keeping the first address and a count.
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
    pid: int
    comm: str | None
    address: int
    rule: secrets.Rule
    value: bytes


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
) -> list[SecretHit]:
    """Every rule hit in every (chosen) process, in process and address order; warnings go to the tree."""
    hits: list[SecretHit] = []
    for process in tree.processes:
        if pids is not None and process.pid not in pids:
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
    for group in secrets.dedupe(hits):
        hit = group.first
        value = secrets.redact(hit.value) if redact else hit.value.decode("utf-8", "backslashreplace")
        records.append(
            {
                "pid": hit.pid,
                "comm": hit.comm,
                "rule": hit.rule.id,
                "severity": str(hit.rule.severity).lower(),
                "description": hit.rule.description,
                "address": hit.address,
                "value": value,
                "count": group.count,
            }
        )
    return records
