"""Write a self-contained HTML report: summary, hashes, triage, malfind, processes, files, changes, memory maps.

No network access and no external assets; secret values are redacted unless
--include-secrets. What is printed (the file written, its size, what it holds) takes
--format; the HTML file is the same in every format.

\b
Example:
  checkforensics report checkpoint.tar -o report.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from checkforensics.cli.declare import Output, command
from checkforensics.render import JSON, JSONL, TEXT

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer


@command(
    reads=("everything", "sha256"),
    options=[click.option("--include-secrets", is_flag=True, help="Show secret values in full (redacted by default).")],
    output=Output("The HTML file to write.", directory=False, force_help="Overwrite an existing file."),
    formats=(TEXT, JSON, JSONL),
    samples=[("-o", "OUT")],
    records=["checkforensics.report:REPORT"],
)
def report(model: CheckpointModel, include_secrets: bool, output: Destination) -> Answer:
    from checkforensics.report import write_report

    return write_report(model, output.new_file(), include_secrets=include_secrets)
