"""Indicators of compromise, for blocking and hunting, each with where it was found.

IPv4 and IPv6 addresses (with their ports and scope), domains, URLs, e-mail addresses (the
user@host comment of an SSH key too), the sha256 of every executable or dropped file whose
bytes the checkpoint holds (what the container wrote, deleted-but-open files, memfds) and the
paths of dropped executables; read from the files the container wrote, deleted files and
memfds, every process's argv and environment, the container's log and the peers of its TCP and
UDP sockets. One row an indicator, with every place it was found. Loopback, link-local and
unspecified addresses are left out unless --include-local; documentation ranges
(203.0.113.0/24, ...) and private ones are kept, typed by SCOPE. Process memory beyond argv
and the environment is not searched (memgrep --regex does that). --format csv for
spreadsheets and SIEMs, --format stix for a STIX 2.1 bundle (needs the stix2 package: pip
install 'checkforensics[stix]'). Exit code 1 when nothing is found.

\b
Examples:
  checkforensics iocs checkpoint.tar
  checkforensics iocs checkpoint.tar --format stix > iocs.stix.json
  checkforensics iocs checkpoints/ --format csv > iocs.csv
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from checkforensics.cli.declare import command
from checkforensics.render import FORMATS
from checkforensics.render.exports import CSV, Export

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer

STIX = Export(
    "stix",
    "stix: a STIX 2.1 bundle of indicators, observed data and notes naming where each was found",
    "checkforensics.analysis.iocs.stix:write_bundle",
    needs=("stix2", "stix"),
)


@command(
    reads=("everything",),
    takes="checkpoints",
    options=[
        click.option(
            "--include-local",
            is_flag=True,
            help="Keep loopback, link-local and unspecified addresses (and URLs to them).",
        ),
    ],
    samples=[(), ("--include-local",), ("--format", "csv")],
    records=["checkforensics.analysis.iocs:INDICATOR"],
    formats=(*FORMATS, CSV, STIX),
)
def iocs(model: CheckpointModel, include_local: bool) -> Answer:
    from checkforensics.analysis.iocs import indicators

    return indicators(model, include_local=include_local)
