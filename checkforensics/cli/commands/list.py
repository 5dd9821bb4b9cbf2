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
from typing import Any

import click

from checkforensics.analysis.overview import overview
from checkforensics.archive.layout import find_checkpoints
from checkforensics.cli.declare import declared
from checkforensics.cli.options import output_options
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.model import CheckpointModel
from checkforensics.model.container import parse_kubelet_name
from checkforensics.records.forms import short_time
from checkforensics.render import Result, Table, human_size, render

KUBELET_DIR = Path("/var/lib/kubelet/checkpoints")
# Podman keeps a non-exported checkpoint as an images directory inside the container's storage.
PODMAN_GLOB = "/var/lib/containers/storage/overlay-containers/*/userdata/checkpoint"

def _entry(path: Path) -> dict[str, Any]:
    kubelet = parse_kubelet_name(path.name)
    with CheckpointModel.open(path) as model:
        view = overview(model)
        info = view.container
    return {
        "file": str(path),
        "namespace": info.namespace or (kubelet.namespace if kubelet else None),
        "pod": info.pod or (kubelet.pod if kubelet else None),
        "container": info.name or (kubelet.container if kubelet else None),
        "engine": info.engine,
        "checkpointed": view.checkpointed,
        "checkpointed_from": view.checkpointed_from,
        "size": view.archive_size,
        "warnings": view.warnings,
    }


@click.command(help=__doc__, name="list")
@click.argument("directories", metavar="[DIR]...", nargs=-1, type=click.Path(path_type=Path))
@output_options()
def list_checkpoints(directories: tuple[Path, ...], fmt: str, no_color: bool) -> int:
    places = list(directories) or [KUBELET_DIR, *sorted(Path("/").glob(PODMAN_GLOB.lstrip("/")))]
    missing: list[Path] = []
    entries, warnings = [], []
    for path in find_checkpoints(places, missing):
        try:
            entries.append(_entry(path))
        except CheckforensicsError as exc:
            warnings.append(f"skipped {exc}")
            continue
        warnings += [f"{path.name}: {warning}" for warning in entries[-1]["warnings"]]
    if directories:  # the default places need not all exist
        warnings[:0] = [f"{place}: no such directory" for place in missing]
    if not entries:
        looked = [place for place in places if place not in missing] or places
        warnings.append(f"no checkpoints found in {', '.join(map(str, looked))}")
    rows = [
        [e["namespace"], e["pod"], e["container"], e["engine"], short_time(e["checkpointed"]),
         human_size(e["size"]), Path(e["file"]).name]
        for e in entries
    ]  # fmt: skip
    columns = ["NAMESPACE", "POD", "CONTAINER", "ENGINE", "TIME CHECKPOINTED", "SIZE", "FILE"]
    text = [Table(columns, rows)] if entries else []
    render(Result(json={"checkpoints": entries}, jsonl=entries, text=text, warnings=warnings), fmt, no_color=no_color)
    if entries:
        return ExitCode.OK
    if directories and len(missing) == len(places):
        return ExitCode.BAD_INPUT  # nothing could be looked at
    return ExitCode.NOTHING_FOUND


declared(list_checkpoints, reads=(), takes="other", samples=[])
