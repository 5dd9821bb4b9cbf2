"""List the checkpoints in directories (default: the kubelet's and Podman's places).

A damaged archive is reported on stderr and skipped; a checkpoint whose metadata is missing
or broken is listed, with a warning.

\b
Examples:
  checkforensics list
  checkforensics list /srv/evidence --format json
"""

from __future__ import annotations

from pathlib import Path

import click

from checkforensics.cli.declare import declared
from checkforensics.cli.options import output_options


@click.command(help=__doc__, name="list")
@click.argument("directories", metavar="[DIR]...", nargs=-1, type=click.Path(path_type=Path))
@output_options()
def list_checkpoints(directories: tuple[Path, ...], fmt: str) -> int:
    from checkforensics.analysis.catalog import catalog
    from checkforensics.errors import ExitCode
    from checkforensics.render.answers import write_answer

    found = catalog(directories)  # takes directories, not checkpoints: it writes its answer itself
    code = write_answer(found.answer, fmt, warnings=lambda: found.answer.warnings)
    return ExitCode.BAD_INPUT if found.nowhere else code


declared(list_checkpoints, takes="other", samples=[], records=["checkforensics.analysis.catalog:LISTED"])
