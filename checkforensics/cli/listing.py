"""``checkforensics list``: the checkpoints lying in the usual places (or the given directories)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from checkforensics.analysis.overview import overview
from checkforensics.archive import Checkpoint
from checkforensics.archive.layout import find_checkpoints
from checkforensics.cli.options import output_options
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.model import CheckpointModel
from checkforensics.records import short_time
from checkforensics.render import Result, Table, human_size, print_warnings, render

KUBELET_DIR = Path("/var/lib/kubelet/checkpoints")
# Podman keeps a non-exported checkpoint as an images directory inside the container's storage.
PODMAN_GLOB = "/var/lib/containers/storage/overlay-containers/*/userdata/checkpoint"

# checkpoint-<pod>_<namespace>-<container>-<RFC 3339 time>.tar, as the kubelet names them.
_KUBELET_NAME = re.compile(
    r"^checkpoint-(?P<pod>[^_]+)_(?P<rest>.+)-(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\.tar"
)


@dataclass(frozen=True)
class KubeletName:
    pod: str
    namespace: str | None
    container: str | None
    time: str


def parse_kubelet_name(name: str) -> KubeletName | None:
    """Pod, namespace, container and time from a kubelet checkpoint file name.

    Namespace and container are joined by a dash and either may contain dashes; the split is
    taken at the first dash, so archive metadata is preferred whenever it is readable.
    """
    match = _KUBELET_NAME.match(name)
    if match is None:
        return None
    namespace, _, container = match["rest"].partition("-")
    return KubeletName(match["pod"], namespace or None, container or None, match["time"])


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _checkpoint_time(checkpoint: Checkpoint, recorded: str | None, kubelet: KubeletName | None) -> tuple[str, str]:
    """When the checkpoint was taken, and where that comes from."""
    if recorded:
        return recorded, "config.dump"
    if kubelet is not None:
        return kubelet.time, "file name"
    inventory = checkpoint.member(checkpoint.images_prefix + "inventory.img")
    if inventory is not None:
        return _iso(inventory.mtime), "inventory.img mtime"
    return _iso(checkpoint.path.stat().st_mtime), "file mtime"


def _entry(path: Path) -> dict[str, Any]:
    kubelet = parse_kubelet_name(path.name)
    with CheckpointModel.open(path) as model:
        view = overview(model)
        info = view.container
        taken, source = _checkpoint_time(model.archive, info.checkpointed, kubelet)
    return {
        "file": str(path),
        "namespace": info.namespace or (kubelet.namespace if kubelet else None),
        "pod": info.pod or (kubelet.pod if kubelet else None),
        "container": info.name or (kubelet.container if kubelet else None),
        "engine": info.engine,
        "checkpointed": taken,
        "checkpointed_from": source,
        "size": view.archive_size,
    }


@click.command(name="list")
@click.argument("directories", metavar="[DIR]...", nargs=-1, type=click.Path(path_type=Path))
@output_options()
def list_checkpoints(directories: tuple[Path, ...], fmt: str, no_color: bool) -> int:
    """List the checkpoints in directories (default: the kubelet's and Podman's places).

    A damaged archive is reported on stderr and skipped.

    \b
    Examples:
      checkforensics list
      checkforensics list /srv/evidence --format json
    """
    places = list(directories) or [KUBELET_DIR, *sorted(Path("/").glob(PODMAN_GLOB.lstrip("/")))]
    entries = []
    for path in find_checkpoints(places):
        try:
            entries.append(_entry(path))
        except CheckforensicsError as exc:
            print_warnings([f"skipped {exc}"])
    rows = [
        [e["namespace"], e["pod"], e["container"], e["engine"], short_time(e["checkpointed"]),
         human_size(e["size"]), Path(e["file"]).name]
        for e in entries
    ]  # fmt: skip
    columns = ["NAMESPACE", "POD", "CONTAINER", "ENGINE", "TIME CHECKPOINTED", "SIZE", "FILE"]
    render(Result(json={"checkpoints": entries}, jsonl=entries, text=[Table(columns, rows)]), fmt, no_color=no_color)
    return ExitCode.OK if entries else ExitCode.NOTHING_FOUND
