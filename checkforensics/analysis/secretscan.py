"""Credential rules run over every process's dumped memory.

Each contiguous dumped run of each process is scanned on its own (secrets.scan_range cuts it
into overlapping chunks), so a secret straddling a page or chunk edge is found and nothing is
invented across unrelated mappings.  Shared memory objects (memfds, SysV segments, shared
anonymous memory; see model.shared) are scanned once each, offsets standing for addresses, and
their findings name the object and where each process maps it.  ``scan_files`` runs the same
rules over the files the container wrote (its layers).  Findings are deduplicated per process
(object, file), rule and value, keeping the first address and a count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checkforensics import progress
from checkforensics.analysis import secrets
from checkforensics.analysis.redaction import Redaction
from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel
from checkforensics.model.regions import MemoryFilter, Region
from checkforensics.model.shared import SHARED_OBJECT, SharedMemory
from checkforensics.model.view import ProcessMemory
from checkforensics.records.declare import Field, RecordType
from checkforensics.records.values import ADDRESS, INTEGER, LIST, LONG, OBJECT, SEVERITY, TEXT

if TYPE_CHECKING:
    from checkforensics.analysis.yarascan import YaraRules


@dataclass(frozen=True)
class SecretHit:
    pid: int | None  # None: in a shared memory object (``shared``), at offset ``address``
    comm: str | None
    address: int
    rule: secrets.Rule
    value: bytes
    shared: Any = None  # the SharedMemory object
    path: str | None = None  # in a file (``scan_files``), at offset ``address``: its path


def hit_key(hit: SecretHit) -> tuple[Any, ...]:
    """What makes hits one finding: the process (or shared object, or file), the rule and the value."""
    return hit.pid, None if hit.shared is None else hit.shared.shmid, hit.path, hit.rule.id, hit.value


def _scan_regions(
    memory: ProcessMemory,
    regions: Sequence[Region],
    rules: Sequence[secrets.Rule],
    yara: YaraRules | None,
    advance: progress.Advance,
) -> list[SecretHit]:
    """The rules over each region on its own: a match never joins bytes of two mappings or
    crosses pages that were not dumped. Findings in a shared object carry no pid."""
    shared = memory if isinstance(memory, SharedMemory) else None
    pid = None if shared is not None else memory.pid
    comm = shared.describe() if shared is not None else memory.comm
    hits = []
    for region in regions:
        found = [(f.start, f.rule, f.value) for f in secrets.scan_range(region.read, region.length, rules)]
        if yara is not None:
            found += [(f.start, f.rule, f.value) for f in yara.scan_range(region.read, region.length)]
        hits += [SecretHit(pid, comm, region.start + start, rule, value, shared) for start, rule, value in found]
        advance(region.length)
    return hits


def scan_memories(
    memories: Sequence[ProcessMemory],
    memory_filter: MemoryFilter | None = None,
    rules: Sequence[secrets.Rule] = secrets.BUILTIN_RULES,
    yara: YaraRules | None = None,
) -> list[SecretHit]:
    """The rules (and ``yara``, the user's YARA rules) over the dumped regions of ``memories``
    that ``memory_filter`` keeps (memgrep's --perms, --vma-type, --address, --file), in the
    order given and by address; shared memory objects among ``memories`` give findings
    without a pid, at offsets in the object."""
    chosen = [(memory, memory.regions(memory_filter)) for memory in memories]
    total = sum(region.length for _, regions in chosen for region in regions)
    hits: list[SecretHit] = []
    with progress.task("secrets", total) as advance:
        for memory, regions in chosen:
            hits += _scan_regions(memory, regions, rules, yara, advance)
    return hits


def scan_checkpoint(
    model: CheckpointModel,
    rules: Sequence[secrets.Rule] = secrets.BUILTIN_RULES,
    pids: Iterable[int] = (),
    *,
    memory_filter: MemoryFilter | None = None,
    shared: bool = True,
    yara: YaraRules | None = None,
) -> list[SecretHit]:
    """Every rule hit in the chosen processes (all by default), within ``memory_filter``, in
    process and address order; then, with ``shared``, in the shared memory objects that go
    with them (see ``memsearch.selection.shared_objects``), each scanned once. A process whose
    memory cannot be read is said to the model's diagnostics."""
    from checkforensics.analysis.memsearch.selection import shared_objects

    chosen = list(pids)
    memories: list[ProcessMemory] = list(model.memories(chosen))
    if shared:
        memories += shared_objects(model, chosen, memory_filter)
    return scan_memories(memories, memory_filter, rules, yara)


def scan_files(model: CheckpointModel, rules: Sequence[secrets.Rule] = secrets.BUILTIN_RULES) -> list[SecretHit]:
    """The rules over the files the container wrote in its layers (rootfs-diff.tar, /dev/shm,
    tmpfs), the first MiB of each as the one walk of the layers kept it (``rootfs_changes``'s
    ``heads``: 64 MiB in all; files past that are said to the diagnostics), in the order of the
    layers. A finding has no pid; its ``path`` names the file and its address is the offset in it."""
    from checkforensics.analysis.rootfs import rootfs_changes

    changes = rootfs_changes(model)
    if changes.heads_left_out:
        model.diagnostics.warn(
            f"the secrets of {changes.heads_left_out} file{'s' if changes.heads_left_out != 1 else ''} "
            "the container wrote were not looked for: "
            "the first MiB of each file is kept, 64 MiB in all",
            part=Part.CHANGES,
        )
    hits = []
    for (_, path), head in changes.heads.items():
        hits += [SecretHit(None, None, f.start, f.rule, f.value, path=path) for f in secrets.scan(head, rules)]
    return hits


@dataclass(frozen=True)
class SecretFinding:
    """One rule's value in one process (or shared object; with ``across_processes``, anywhere):
    where it is first, how often it occurs, and the value as shown (masked unless revealed)."""

    pid: int | None
    comm: str | None
    rule: str
    severity: str
    description: str
    address: int  # in a shared object: the offset in it
    value: str
    count: int
    shared: SharedMemory | None = None
    length: int = 0  # of the value found, in bytes
    path: str | None = None  # in a file: its path (address: the offset in it)

    @property
    def mapped(self) -> list[dict[str, Any]] | None:
        """Where each process that maps the shared object sees the value (None: not shared)."""
        return None if self.shared is None else self.shared.mapped_json(self.address, self.length)


SECRET_FINDING = RecordType(
    "finding",
    "findings",
    (
        Field("archive", TEXT, "the checkpoint searched", context=True),
        Field("pid", INTEGER, "null in a shared memory object"),
        Field("comm", TEXT, "in a shared memory object, the object: memfd:/dev/zero (shmem 8708)"),
        Field("rule", TEXT, "the rule's id (docs/secrets.md)"),
        Field("severity", SEVERITY),
        Field("description", TEXT, "what the rule finds"),
        Field("address", ADDRESS, "where the value is first; in a shared memory object, the offset in it"),
        Field("value", LONG, "redacted (ghp_…(40 chars)) unless --no-redact"),
        Field("count", INTEGER, "how often the value occurs there"),
        Field("shared", OBJECT, "the shared memory object (memgrep's object)", get=lambda f: f.shared and
              SHARED_OBJECT.json(f.shared), sometimes=True),
        Field("mapped", LIST, "as in memgrep's shared_matches", sometimes=True),
        Field("path", TEXT, "in a file the container wrote (triage): its path; address is the offset in it",
              sometimes=True),
    ),
    ("severity", "rule", "pid", "comm", "address", "value", "count"),
    "A value a credential rule (or a YARA rule) found in memory, once per process, rule and value.",
)  # fmt: skip


def secret_findings(
    hits: list[SecretHit], *, redact: bool = True, across_processes: bool = False
) -> list[SecretFinding]:
    """One finding per process, rule and value (with ``across_processes``: per rule and value,
    wherever it is): first place, count, and the value (masked as analysis.redaction masks
    secrets, unless not ``redact``)."""
    shown = Redaction(reveal=not redact)
    key = (lambda hit: (hit.rule.id, hit.value)) if across_processes else hit_key
    return [
        SecretFinding(
            group.first.pid, group.first.comm, group.first.rule.id, str(group.first.rule.severity).lower(),
            group.first.rule.description, group.first.address, shown.value(group.first.value), group.count,
            group.first.shared, len(group.first.value), group.first.path,
        )
        for group in secrets.dedupe(hits, key=key)
    ]  # fmt: skip


def finding_records(
    hits: list[SecretHit], *, redact: bool = True, across_processes: bool = False
) -> list[dict[str, Any]]:
    """The JSON forms (``SECRET_FINDING``, without the checkpoint) of ``secret_findings``."""
    records = []
    for finding in secret_findings(hits, redact=redact, across_processes=across_processes):
        record = SECRET_FINDING.json(finding)
        del record["archive"]
        records.append(record)
    return records
