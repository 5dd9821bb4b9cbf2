"""What memgrep reports of a match: in a process's own memory (``MATCH``), or in a shared memory
object (``SHARED_MATCH``), with where each process that maps it sees it.

The matched bytes and their context are shown with printable ASCII kept and every other byte
(and ``\\``) written ``\\xNN`` (``escape_bytes``); ``match_hex`` holds the exact bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkforensics.model.regions import VMA
from checkforensics.model.scan import MemoryMatch, escape_bytes
from checkforensics.model.shared import SHARED_OBJECT, SharedMemory
from checkforensics.records.declare import Column, Field, RecordType
from checkforensics.records.values import ADDRESS, INTEGER, LIST, OBJECT, TEXT


@dataclass(frozen=True)
class SharedMatch:
    """A match in shared memory object ``object``, at offset ``match.address`` in it."""

    object: SharedMemory
    match: MemoryMatch


def _context(match: MemoryMatch) -> str:
    return escape_bytes(match.before + match.data + match.after)


def _bytes_fields(of: type[MemoryMatch] | type[SharedMatch]) -> tuple[Field, ...]:
    """The fields a match and a shared match share: the pattern, the bytes matched, the context."""
    get = (lambda item: item) if of is MemoryMatch else (lambda item: item.match)
    return (
        Field("pattern", TEXT, "the pattern as given on the command line", get=lambda i: get(i).pattern.name),
        Field("match", TEXT, "the bytes matched, escaped", get=lambda i: escape_bytes(get(i).data)),
        Field("match_hex", TEXT, "the exact bytes matched, in hex", get=lambda i: get(i).data.hex()),
        Field("length", INTEGER, "bytes matched", get=lambda i: len(get(i).data)),
        Field("context", TEXT, "--context bytes before, the match, the bytes after, escaped",
              get=lambda i: _context(get(i))),
    )  # fmt: skip


MATCH = RecordType(
    "match",
    "matches",
    (
        Field("archive", TEXT, "the checkpoint searched", context=True),
        Field("pid", INTEGER),
        Field("comm", TEXT),
        Field("address", ADDRESS, "the virtual address of the match's first byte"),
        Field("vma", OBJECT, "the mapping it lies in (a vma)", get=lambda m: VMA.json(m.mapping)),
        *_bytes_fields(MemoryMatch),
        Field("context_address", ADDRESS, "where context starts"),
    ),
    (
        "pid", "comm", "address", Column("VMA", get=lambda m: m.mapping.describe()),
        Column("MATCH", "match", style="bold red"), Column("CONTEXT", "context", fold=True),
    ),
    "A match in a process's own memory, process by process (tree order), by address.",
)  # fmt: skip

SHARED_MATCH = RecordType(
    "shared_match",
    "shared_matches",
    (
        Field("archive", TEXT, "the checkpoint searched", context=True),
        Field("object", OBJECT, "the shared memory object (shmid, kind, name, key, size)",
              get=lambda s: SHARED_OBJECT.json(s.object)),
        Field("offset", ADDRESS, "where the match starts in the object", get=lambda s: s.match.address),
        Field("mapped", LIST, "each process that sees the match: pid, comm and the address it sees it at",
              get=lambda s: s.object.mapped_json(s.match.address, len(s.match.data))),
        *_bytes_fields(SharedMatch),
        Field("context_offset", ADDRESS, "where context starts in the object", get=lambda s: s.match.context_address),
    ),
    (
        Column("SHARED MEMORY", get=lambda s: s.object.describe()), "offset",
        Column("MAPPED AT (PID:ADDRESS)", get=lambda s: [
            f"{pid}:{address:#x}" for pid, _, address in s.object.mapped_at(s.match.address, len(s.match.data))
        ]),
        Column("MATCH", "match", style="bold red"), Column("CONTEXT", "context", fold=True),
    ),
    "A match in a shared memory object, searched once (not with each process that maps it).",
)  # fmt: skip
