"""The evidence hash of a checkpoint (``verify``): printed, recorded in a file, or checked
against a record or an expected SHA-256."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checkforensics import __version__
from checkforensics.errors import ArchiveError, InputError
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import FLAG, SIZE, TEXT, TIME
from checkforensics.render.escape import json_text

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination
    from checkforensics.render import Table

SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass
class Verification:
    """A checkpoint's hash, and what it was checked against (``expected`` None: nothing)."""

    given: str  # the checkpoint as named on the command line
    path: str  # ... and where it lies
    kind: str
    size: int | None  # of the archive file; None for a directory
    sha256: str
    recorded: str
    tool: str
    expected: str | None = None
    expected_for: str | None = None  # the checkpoint the record checked against was made for

    @property
    def match(self) -> bool | None:
        return None if self.expected is None else self.expected.strip().lower() == self.sha256


_RECORDED = (
    Field("path", TEXT, "the checkpoint, its absolute path"),
    Field("kind", TEXT, "tar, tar.gz, tar.zst, ..., directory"),
    Field("size", SIZE, "of the archive file; null for a directory"),
    Field("sha256", TEXT, "of the archive file (a directory: of a sha256sum-style listing of its files)"),
    Field("recorded", TIME, "when it was hashed"),
    Field("tool", TEXT, "checkforensics and its version"),
)
HASH_RECORD = RecordType("record", "records", _RECORDED, doc="The file verify --record writes.")
VERIFIED = RecordType(
    "verification",
    "verifications",
    (
        *_RECORDED,
        Field("expected", TEXT, "the SHA-256 checked against (--expect, --against); null when none"),
        Field("match", FLAG, "null when nothing was given to compare with"),
        Field("expected_for", TEXT, "with --against: the checkpoint the record was made for (its path, as the "
              "record says); null otherwise"),
    ),
    (Column("CHECKPOINT", "path", get=lambda v: v.given), "kind", "size", Column("SHA256", "sha256"), "expected",
     Column("MATCH", get=lambda v: None if v.match is None else "OK" if v.match else "MISMATCH"),
     Column("RECORDED FOR", "expected_for")),
    "verify's answer: the document itself (one object), and its one JSON Lines record.",
)  # fmt: skip


def verification(
    model: CheckpointModel, *, expect: str | None = None, against: Path | None = None, record: Destination | None = None
) -> Answer:
    """The checkpoint's hash (made in the listing pass of a compressed archive), checked
    against ``expect`` or the record file ``against``, written to ``record``; a mismatch is the
    answer's failure (exit 1). An archive whose end is missing (truncated, or damaged so that its
    listing stops) does not verify: ArchiveError (exit 3) saying what is missing, with the hash
    of what is there, and no record written. One whose listing a decompression limit stopped is
    whole, and hashed whole: it verifies, with the listing's warning."""
    expected, expected_for = _recorded(against) if against is not None else (expect, None)
    found = Verification(
        given=str(model.path),
        path=str(model.path.resolve()),
        kind=model.kind,
        size=model.path.stat().st_size if model.kind != "directory" else None,
        sha256=model.sha256(),
        recorded=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        tool=f"checkforensics {__version__}",
        expected=expected,
        expected_for=expected_for,
    )
    archive = model.archive
    if archive.cut is not None and not archive.limited:
        raise ArchiveError(
            f"{archive.cut}: the end of the evidence is missing, so it does not verify (the sha256 of the "
            f"{found.size} bytes there is {found.sha256}; no record written)",
            where=str(model.path),
        )
    if record is not None:
        with record.new_file(fsync=True) as handle:
            handle.write((json_text(HASH_RECORD.json(found), indent=2) + "\n").encode())
    failure = None
    if found.match is False:
        failure = f"mismatch: {found.given}: sha256 {found.sha256}, expected {found.expected}{_made_for(found)}"
    return Answer(
        [Section(VERIFIED, [found])], nothing="no checkpoint", single=True, failure=failure, text=_line, table=_table
    )


def _recorded(path: Path) -> tuple[str, str | None]:
    """The SHA-256 a record written by ``--record`` holds, and the checkpoint it was made for."""
    try:
        record = json.loads(path.read_text())
        wanted = record["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a record written by verify --record ({exc})", where=str(path)) from None
    if not isinstance(wanted, str) or not SHA256.fullmatch(wanted.strip()):
        raise InputError("not a record written by verify --record (its sha256 is not 64 hex digits)", where=str(path))
    made_for = record.get("path")
    return wanted, made_for if isinstance(made_for, str) else None


def _made_for(found: Verification) -> str:
    """``, recorded for PATH`` when the expected hash came from a record naming its checkpoint."""
    return f", recorded for {found.expected_for}" if found.expected_for else ""


def _line(items: Any) -> list[str]:
    """sha256sum's line, or the verdict (a mismatch with what was expected, and for what)."""
    return [
        f"{v.sha256}  {v.given}"
        if v.match is None
        else f"{v.given}: OK (sha256 {v.sha256})"
        if v.match
        else f"{v.given}: MISMATCH (sha256 {v.sha256}, expected {v.expected}{_made_for(v)})"
        for v in items
    ]


def _table(items: Any) -> Table:
    """The record's table; EXPECTED and MATCH only when something was compared."""
    from checkforensics.render import Table

    shown = list(items)
    compared = any(v.match is not None for v in shown)
    width = len(VERIFIED.headers) - (not any(v.expected_for for v in shown)) if compared else 4
    return Table(VERIFIED.headers[:width], [VERIFIED.row(v)[:width] for v in shown])
