"""Print, record or check the SHA-256 of a checkpoint (exit 1 when it does not match).

For an archive this is the SHA-256 of the file, as sha256sum prints it; for a directory,
of a sha256sum-style listing of every file in it, sorted by path. A record is never
written inside the checkpoint directory (it would change what it hashes), and an existing
one is only replaced with --force.

\b
Examples:
  checkforensics verify checkpoint.tar --record checkpoint.tar.sha256.json
  checkforensics verify checkpoint.tar --against checkpoint.tar.sha256.json
  checkforensics verify checkpoint.tar --expect 3f1c...e9
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import click

from checkforensics import __version__
from checkforensics.archive import Checkpoint
from checkforensics.cli.declare import declared
from checkforensics.cli.options import output_options
from checkforensics.errors import ExitCode, InputError
from checkforensics.output import OutputGuard
from checkforensics.render import Result, Table, View, json_text, render

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@click.command(name="verify", help=__doc__)
@click.argument("checkpoint", metavar="CHECKPOINT")
@click.option("--record", "record", type=click.Path(path_type=Path), help="Write the hash record to this file.")
@click.option("--force", is_flag=True, help="With --record: replace an existing record.")
@click.option("--against", type=click.Path(path_type=Path), help="Check against a record written by --record.")
@click.option("--expect", metavar="SHA256", help="Check against this SHA-256.")
@output_options()
def verify(
    checkpoint: str,
    record: Path | None,
    force: bool,
    against: Path | None,
    expect: str | None,
    fmt: str,
    no_color: bool,
) -> int:
    if expect is not None and not _SHA256.fullmatch(expect.strip()):
        raise click.BadParameter(f"{expect!r} is not a SHA-256 (64 hexadecimal digits)", param_hint="--expect")
    writer = OutputGuard(checkpoint).new_file(record, force=force, fsync=True) if record is not None else None
    with Checkpoint.open(checkpoint, hash_in_pass=True) as opened:  # a compressed archive hashed as it is listed
        digest = opened.sha256()
        kind = opened.kind
        size = opened.path.stat().st_size if kind != "directory" else None
    document = {
        "path": str(Path(checkpoint).resolve()),
        "kind": kind,
        "size": size,
        "sha256": digest,
        "recorded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": f"checkforensics {__version__}",
    }
    wanted = expect
    if against is not None:
        try:
            wanted = json.loads(against.read_text())["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"not a record written by verify --record ({exc})", where=str(against)) from None
        if not isinstance(wanted, str) or not _SHA256.fullmatch(wanted.strip()):
            raise InputError("not a record written by verify --record (its sha256 is not 64 hex digits)",
                             where=str(against))  # fmt: skip
    if writer is not None:
        with writer as handle:
            handle.write((json_text(document, indent=2) + "\n").encode())
    matched = None if wanted is None else wanted.strip().lower() == digest
    result = {**document, "expected": wanted, "match": matched}
    view = View(text=lambda: _line(checkpoint, digest, matched), table=lambda: _table(checkpoint, result))
    render(Result(json=result, jsonl=[result], text=[view]), fmt, no_color=no_color)
    return ExitCode.NOTHING_FOUND if matched is False else ExitCode.OK


def _line(checkpoint: str, digest: str, matched: bool | None) -> str:
    """sha256sum's line, or the verdict."""
    if matched is None:
        return f"{digest}  {checkpoint}"
    return f"{checkpoint}: {'OK' if matched else 'MISMATCH'} (sha256 {digest})"


def _table(checkpoint: str, result: dict[str, Any]) -> Table:
    columns = ["CHECKPOINT", "KIND", "SIZE", "SHA256"]
    row = [checkpoint, result["kind"], result["size"], result["sha256"]]
    if result["match"] is not None:
        columns += ["EXPECTED", "MATCH"]
        row += [result["expected"], "OK" if result["match"] else "MISMATCH"]
    return Table(columns, [row])


declared(verify, reads=(), takes="checkpoints", samples=[()])
