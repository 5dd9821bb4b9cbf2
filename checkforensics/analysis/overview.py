"""What ``show`` and ``inspect`` report about a checkpoint as a whole, and its one form
(``OVERVIEW``: ``show``'s record, ``inspect``'s metadata, the HTML report's summary).

Everything here comes from the model's container metadata, sizes and dump-wide records; no
memory page is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel, Reads
from checkforensics.model.container import CHECKPOINTED_CERTAINTY, Checkpointed
from checkforensics.model.engines import ContainerInfo
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import INTEGER, LIST, OBJECT, SIZE, TEXT, TIME, Hint

if TYPE_CHECKING:
    from checkforensics.render import Table


@dataclass
class Overview:
    """A checkpoint at a glance."""

    path: Path  # the archive or directory
    kind: str  # what it is: tar, tar.gz, ..., directory
    container: ContainerInfo
    archive_size: int  # the archive file (a directory: all its files)
    checkpoint_size: int  # the CRIU images (checkpoint/), as checkpointctl's CHKPT SIZE
    memory_size: int  # bytes of dumped process memory (pages-*.img)
    amdgpu_pages: list[tuple[str, int]]  # the amdgpu plugin's GPU memory images: (member, size)
    rootfs_diff_size: int | None  # None: no rootfs-diff.tar in the checkpoint
    process_count: int | None
    hostname: str | None  # the UTS namespace's nodename: what the kernel said, maybe not what the engine set
    stats: dict[str, int] | None  # stats-dump's "dump" record, CRIU's field names
    warnings: list[str] = field(default_factory=list)  # the listing's, the container's, the dump's
    checkpointed: Checkpointed | None = None  # when it was taken, as best known, and where that was found
    sha256: str | None = None  # the evidence hash, when asked for (show's JSON, inspect, report)

    @property
    def amdgpu_pages_size(self) -> int | None:
        """Bytes of AMD GPU memory the amdgpu plugin dumped; None when it dumped none."""
        return sum(size for _, size in self.amdgpu_pages) if self.amdgpu_pages else None


def overview(model: CheckpointModel) -> Overview:
    """Container metadata, sizes and dump statistics of the checkpoint; no page read."""
    container, sizes, dump = model.container, model.sizes, model.dump
    model.say_listing()
    found = Overview(
        path=model.path,
        kind=model.kind,
        container=container.info,
        archive_size=sizes.archive,
        checkpoint_size=sizes.images,
        memory_size=sizes.memory,
        amdgpu_pages=sizes.amdgpu_pages,
        rootfs_diff_size=sizes.rootfs_diff,
        process_count=dump.process_count(),
        hostname=dump.hostname,
        stats=dump.statistics(),
        checkpointed=container.checkpointed,
    )
    said = model.diagnostics.said
    found.warnings = [*said(Part.LISTING), *said(Part.CONTAINER), *said(Part.DUMP)]
    return found


def overviews(model: CheckpointModel, *, hashed: bool = True, stats: bool = False) -> Answer:
    """``show``'s answer: the checkpoint's overview (with the evidence hash when ``hashed`` and
    the command was opened to hash it, which it is for JSON; with CRIU's dump statistics when
    ``stats``), in text drawn with every other checkpoint's as one table."""
    view = overview(model)
    if hashed and Reads.SHA256 in model.reads:
        view.sha256 = model.sha256()
    return Answer(
        [Section(OVERVIEW, [view], include=frozenset({"stats"} if stats else ()))],
        nothing="no checkpoint",
        array=True,
        together=True,
        text=lambda views: overview_tables(list(views), stats),
        table=lambda views: overview_tables(list(views), stats),
        warnings=view.warnings,
    )


class _CheckpointedTime(Hint):
    """When a checkpoint was taken (a ``Checkpointed``), as every command shows it to people: the
    time, and unless it is the engine's own record where it was found (``2026-11-23T00:00:00Z
    (file mtime, a guess)``). In JSON it is three keys (``CHECKPOINTED_FIELDS``)."""

    name = "time"

    def text(self, value: Any) -> str:
        return checkpointed_text(value)


CHECKPOINTED_TIME = _CheckpointedTime()


def checkpointed_text(value: Checkpointed | None, *, whole: bool = False) -> str:
    """When a checkpoint was taken as people read it: in a table without the fraction of a
    second (TIME), ``whole`` as recorded (inspect's tree, the report's page, as their other
    times); where it was found after it unless the engine recorded it."""
    if value is None:
        return TIME.text(None)
    shown = value.time if whole else TIME.text(value.time)
    return shown if value.source is None else f"{shown} ({value.source})"


def _checkpointed(key: str) -> Any:
    return lambda item: None if item.checkpointed is None else getattr(item.checkpointed, key)


# The JSON keys of when a checkpoint was taken: show's, list's, inspect's and the report's.
CHECKPOINTED_FIELDS = (
    Field("checkpointed", TIME, "when it was taken, as best known", get=_checkpointed("time")),
    Field("checkpointed_from", TEXT, "where that time was found: " + ", ".join(CHECKPOINTED_CERTAINTY),
          get=_checkpointed("found_in")),
    Field("checkpointed_certainty", TEXT, "how sure that time is, as timeline's certainty: exact (config.dump), "
          "file-name, file-mtime (a guess: anyone can set it)", get=_checkpointed("certainty")),
)  # fmt: skip


class _Microseconds(Hint):
    """A duration CRIU counts in microseconds: an integer in JSON; in a table or a tree scaled as
    checkpointctl shows it (its ``FormatTime``), five significant digits at most: ``601 µs``,
    ``172 ms`` (171995), ``5.084 ms``, ``1.5 s``."""

    name = "integer"
    json_type = (int,)

    def text(self, value: Any) -> str:
        if value is None:
            return "-"
        if value < 1000:
            return f"{value} µs"
        scaled, unit = (value / 1000, "ms") if value < 1_000_000 else (value / 1_000_000, "s")
        return f"{scaled:.5g} {unit}"


INTERFACE = RecordType(
    "interface",
    "interfaces",
    (
        Field("network", TEXT, "the engine's network"), Field("name", TEXT, "the interface in the container"),
        Field("addresses", LIST, "with their prefix length: 10.88.0.2/16"), Field("gateways", LIST),
        Field("mac", TEXT),
    ),
    ("network", Column("INTERFACE", "name"), Column("ADDRESS", "addresses"), Column("GATEWAY", "gateways"), "mac"),
    "A network interface of the container, as the engine recorded it (network.status; CRI-O's IP annotation).",
)  # fmt: skip

CONTAINER = RecordType(
    "container",
    "container",
    (
        Field("name", TEXT), Field("image", TEXT), Field("image_id", TEXT), Field("id", TEXT), Field("runtime", TEXT),
        Field("created", TIME), Field("checkpointed", TIME, "the engine's checkpointedTime; null when none recorded"),
        Field("pod", TEXT), Field("namespace", TEXT), Field("pod_uid", TEXT), Field("sandbox_id", TEXT),
        Field("started", TIME, "when the container's process started"),
        Field("log_path", TEXT, "the CRI log file on the node"),
        Field("host_pid", INTEGER, "its first process's PID on the node"),
        Field("labels", OBJECT, "the CRI container's labels"), Field("cri_annotations", OBJECT),
        Field("hostname", TEXT, "what the OCI spec asked for"),
        Field("ip", TEXT, "the first interface's address", get=lambda c: c.ips[0] if c.ips else None),
        Field("mac", TEXT, "the first interface's MAC", get=lambda c: c.macs[0] if c.macs else None),
        Field("interfaces", record=INTERFACE),
    ),
    doc="The container as its engine recorded it (show's `container`).",
)  # fmt: skip

AMDGPU_IMAGE = RecordType(
    "amdgpu_image",
    "amdgpu_pages",
    (Field("member", TEXT, get=lambda m: m[0]), Field("size", SIZE, get=lambda m: m[1])),
    doc="An image of GPU memory CRIU's amdgpu plugin dumped.",
)

STATS_COLUMNS = (
    ("FREEZING TIME", "freezing_time", "us"),
    ("FROZEN TIME", "frozen_time", "us"),
    ("MEMDUMP TIME", "memdump_time", "us"),
    ("MEMWRITE TIME", "memwrite_time", "us"),
    ("PAGES SCANNED", "pages_scanned", ""),
    ("PAGES WRITTEN", "pages_written", ""),
)  # stats-dump's dump record as tables show it: header, CRIU's key, unit

DUMP_STATS = RecordType(
    "stats",
    "stats",
    tuple(Field(key, _Microseconds() if unit else INTEGER) for _, key, unit in STATS_COLUMNS),
    tuple(Column(header, key) for header, key, _ in STATS_COLUMNS),
    "CRIU's dump statistics (stats-dump), as the table shows them.",
)


def _short_id(value: str | None) -> str | None:
    return value[:12] if value else None


OVERVIEW = RecordType(
    "checkpoint",
    "checkpoints",
    (
        Field("archive", TEXT, "the archive or directory", get=lambda v: str(v.path)),
        Field("kind", TEXT, "tar, tar.gz, tar.zst, ..., directory"),
        Field("sha256", TEXT, "of the archive file (a directory: of a sha256sum listing); null with --no-hash"),
        Field("engine", TEXT, "Podman, CRI-O, containerd, or null", get=lambda v: v.container.engine),
        Field("container", OBJECT, "the container (`container` below)", get=lambda v: CONTAINER.json(v.container)),
        *CHECKPOINTED_FIELDS,
        Field("hostname", TEXT, "the UTS namespace's nodename"),
        Field("processes", INTEGER, "how many pstree.img lists", get=lambda v: v.process_count),
        Field("archive_size", SIZE), Field("checkpoint_size", SIZE, "the CRIU images (checkpointctl's CHKPT SIZE)"),
        Field("memory_size", SIZE, "the processes' pages images"),
        Field("amdgpu_pages_size", SIZE, "GPU memory the amdgpu plugin dumped"),
        Field("amdgpu_pages", record=AMDGPU_IMAGE), Field("rootfs_diff_size", SIZE),
        Field("warnings", LIST, "what of the checkpoint could not be read"),
        Field("stats", OBJECT, "stats-dump's dump record, CRIU's names, times in microseconds", optional=True),
    ),
    (
        Column("FILE", get=lambda v: str(v.path)),
        Column("CONTAINER", get=lambda v: v.container.name), Column("IMAGE", get=lambda v: v.container.image),
        Column("ID", get=lambda v: _short_id(v.container.id)), Column("RUNTIME", get=lambda v: v.container.runtime),
        Column("CREATED", get=lambda v: v.container.created, hint=TIME),
        Column("CHECKPOINTED", get=lambda v: v.checkpointed, hint=CHECKPOINTED_TIME), "engine",
        Column("IP", get=lambda v: v.container.ips), Column("MAC", get=lambda v: v.container.macs),
        Column("CHKPT SIZE", "checkpoint_size"), Column("ROOT FS DIFF SIZE", "rootfs_diff_size"),
        Column("POD", get=lambda v: v.container.pod), Column("NAMESPACE", get=lambda v: v.container.namespace),
        Column("POD UID", get=lambda v: v.container.pod_uid),
        Column("SANDBOX", get=lambda v: _short_id(v.container.sandbox_id)),
        Column("AMD GPU PAGES", "amdgpu_pages_size"), "hostname", "processes",
    ),
    "A checkpoint at a glance (show; inspect's metadata).",
)  # fmt: skip

BASE_COLUMNS = ("CONTAINER", "IMAGE", "ID", "RUNTIME", "CREATED", "CHECKPOINTED", "ENGINE", "IP", "MAC", "CHKPT SIZE",
                "ROOT FS DIFF SIZE")  # fmt: skip


def in_a_pod(view: Overview) -> bool:
    """Whether the checkpoint names a Kubernetes pod (CRI-O, containerd)."""
    info = view.container
    return any(value is not None for value in (info.pod, info.namespace, info.pod_uid, info.sandbox_id))


def overview_tables(views: list[Overview], with_stats: bool) -> list[Table]:
    """``show``'s tables: the overview (the pod's columns, AMD GPU memory, the host name and
    processes of a bare dump when any checkpoint has them; FILE with several), the network
    interfaces when any is known, and CRIU's dump statistics with ``with_stats``."""
    from checkforensics.render import Table

    headers = list(BASE_COLUMNS)
    if any(in_a_pod(view) for view in views):
        headers += ["POD", "NAMESPACE", "POD UID", "SANDBOX"]
    if any(view.amdgpu_pages for view in views):
        headers += ["AMD GPU PAGES"]
    if any(view.container.engine is None for view in views):
        headers += ["HOSTNAME", "PROCESSES"]
    several = len(views) > 1  # which row is which file
    files = [[str(view.path)] if several else [] for view in views]
    interfaces = [[*file, *INTERFACE.row(i)] for file, view in zip(files, views, strict=True)
                  for i in view.container.interfaces]  # fmt: skip
    tables = [_chosen(OVERVIEW, ["FILE"] * several + headers, views)]
    if interfaces:
        tables.append(Table(["FILE"] * several + INTERFACE.headers, interfaces, title="Network interfaces"))
    if with_stats:
        rows = [[*file, *DUMP_STATS.row(view.stats or {})] for file, view in zip(files, views, strict=True)]
        tables.append(Table(["FILE"] * several + DUMP_STATS.headers, rows, title="CRIU dump statistics"))
    return tables


def _chosen(kind: RecordType, headers: list[str], items: Iterable[Any]) -> Table:
    """The table of ``items`` with those columns of ``kind`` named ``headers``, in that order."""
    from checkforensics.render import Table

    index = [kind.headers.index(header) for header in headers]
    return Table(headers, [[row[i] for i in index] for row in map(kind.row, items)])
