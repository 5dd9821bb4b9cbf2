"""The checkpoints lying in directories (``list``): each one's container, pod, engine, time and
size, from its metadata alone; a damaged archive said in a warning and skipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from checkforensics.analysis.overview import CHECKPOINTED_FIELDS, CHECKPOINTED_TIME, overview
from checkforensics.archive.layout import find_checkpoints
from checkforensics.errors import CheckforensicsError
from checkforensics.model import CheckpointModel
from checkforensics.model.container import Checkpointed, parse_kubelet_name
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import LIST, SIZE, TEXT

KUBELET_DIR = Path("/var/lib/kubelet/checkpoints")
# Podman keeps a non-exported checkpoint as an images directory inside the container's storage.
PODMAN_GLOB = "/var/lib/containers/storage/overlay-containers/*/userdata/checkpoint"


@dataclass
class Listed:
    """One checkpoint found: what its metadata (or the kubelet's file name) says."""

    file: Path
    namespace: str | None
    pod: str | None
    container: str | None
    engine: str | None
    checkpointed: Checkpointed | None
    size: int | None
    warnings: list[str] = field(default_factory=list)


LISTED = RecordType(
    "checkpoint",
    "checkpoints",
    (
        Field("file", TEXT, "the archive or directory", get=lambda c: str(c.file)),
        Field("namespace", TEXT, "from the archive, else the kubelet's file name"), Field("pod", TEXT),
        Field("container", TEXT), Field("engine", TEXT),
        *CHECKPOINTED_FIELDS,
        Field("size", SIZE, "the archive file (a directory: all its files)"),
        Field("warnings", LIST, "what of this checkpoint could not be read"),
    ),
    ("namespace", "pod", "container", "engine",
     Column("TIME CHECKPOINTED", get=lambda c: c.checkpointed, hint=CHECKPOINTED_TIME), "size",
     Column("FILE", get=lambda c: c.file.name)),
    "A checkpoint found in a directory (list).",
)  # fmt: skip


@dataclass
class Catalog:
    """What ``list`` answers, and whether no directory given could be looked at (exit 3)."""

    answer: Answer
    nowhere: bool


def catalog(directories: Sequence[Path]) -> Catalog:
    """The checkpoints in ``directories`` (default: the kubelet's and Podman's places), each
    damaged one a warning; every checkpoint's own warnings named with its file."""
    places = list(directories) or [KUBELET_DIR, *sorted(Path("/").glob(PODMAN_GLOB.lstrip("/")))]
    missing: list[Path] = []
    listed: list[Listed] = []
    warnings = []
    for path in find_checkpoints(places, missing):
        try:
            listed.append(_listed(path))
        except CheckforensicsError as exc:
            warnings.append(f"skipped {exc}")
            continue
        warnings += [f"{path.name}: {warning}" for warning in listed[-1].warnings]
    if directories:  # the default places need not all exist
        warnings[:0] = [f"{place}: no such directory" for place in missing]
    looked = [place for place in places if place not in missing] or places
    answer = Answer(
        [Section(LISTED, listed)], nothing=f"no checkpoints in {', '.join(map(str, looked))}", warnings=warnings
    )
    return Catalog(answer, nowhere=bool(directories) and len(missing) == len(places))


def _listed(path: Path) -> Listed:
    kubelet = parse_kubelet_name(path.name)
    with CheckpointModel.open(path) as model:
        view = overview(model)
    info = view.container
    return Listed(
        file=path,
        namespace=info.namespace or (kubelet.namespace if kubelet else None),
        pod=info.pod or (kubelet.pod if kubelet else None),
        container=info.name or (kubelet.container if kubelet else None),
        engine=info.engine,
        checkpointed=view.checkpointed,
        size=view.archive_size,
        warnings=view.warnings,
    )
