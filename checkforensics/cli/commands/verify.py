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

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from checkforensics.cli.declare import Output, command

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer


def _sha256(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    """--expect checked before the checkpoint is opened."""
    if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", value.strip()):
        raise click.BadParameter(f"{value!r} is not a SHA-256 (64 hexadecimal digits)")
    return value


@command(
    reads=("sha256",),  # a compressed archive is hashed as it is listed
    options=[
        click.option("--against", type=click.Path(path_type=Path), help="Check against a record written by --record."),
        click.option("--expect", metavar="SHA256", callback=_sha256, help="Check against this SHA-256."),
    ],
    output=Output("Write the hash record to this file.", directory=False, required=False, flags=("--record",),
                  force_help="With --record: replace an existing record."),
    samples=[(), ("--record", "OUT")],
    records=["checkforensics.analysis.integrity:VERIFIED"],
)  # fmt: skip
def verify(model: CheckpointModel, against: Path | None, expect: str | None, output: Destination | None) -> Answer:
    from checkforensics.analysis.integrity import verification

    return verification(model, expect=expect, against=against, record=output)
