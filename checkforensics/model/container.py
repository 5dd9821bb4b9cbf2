"""``ContainerMetadata``: what the container engine wrote beside the CRIU images, read once
(``model.container``).

config.dump, spec.dump, network.status and containerd's status.dump and status are each read
and decoded the first time any of them is asked for, all five together and in that order, so
that what is wrong with them is said once, in the same order whoever asks first. Their meaning
as one ``ContainerInfo`` (which engine, which names, which addresses) is ``engines.py``'s; when
the checkpoint was taken is told from them, from the kubelet's file name, or from the archive.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from checkforensics.archive import IMAGES_DIR, Checkpoint
from checkforensics.diagnostics import Part
from checkforensics.model.engines import ContainerInfo, container_info
from checkforensics.model.store import ImageStore

CONFIG_DUMP = "config.dump"
SPEC_DUMP = "spec.dump"
NETWORK_STATUS = "network.status"
STATUS_DUMP = "status.dump"  # containerd: the CRI ContainerStatus
TASK_STATUS = "status"  # containerd: its own record of the task (host PID, start time)

# What is lost when a container checkpoint lacks one of its engine's records.
_RECORDS = {
    CONFIG_DUMP: "container name, image, ID and times unknown",
    SPEC_DUMP: "engine, pod, annotations and mounts unknown",
}

# Where ``checkpointed`` found its time, and how sure that time is (the timeline's certainties):
# the engine's record, the kubelet's file name, or a modification time anyone can set (a guess).
CHECKPOINTED_CERTAINTY = {
    CONFIG_DUMP: "exact",
    "file name": "file-name",
    "inventory.img mtime": "file-mtime",
    "file mtime": "file-mtime",
}


class Checkpointed(NamedTuple):
    """When a checkpoint was taken (RFC 3339), and where that was found (``CHECKPOINTED_CERTAINTY``)."""

    time: str
    found_in: str

    @property
    def certainty(self) -> str:
        return CHECKPOINTED_CERTAINTY[self.found_in]

    @property
    def source(self) -> str | None:
        """What is said beside the time: nothing for the engine's own record; where it was found
        otherwise, and for a modification time that it is a guess (``file mtime, a guess``)."""
        if self.certainty == "exact":
            return None
        return f"{self.found_in}, a guess" if self.certainty == "file-mtime" else self.found_in


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


@dataclass(frozen=True)
class _Records:
    config: Any
    spec: Any
    network: Any
    status: Any
    task_status: Any


class ContainerMetadata:
    """The engine's records of one checkpoint (each None when absent or unreadable), what they
    say as one ``ContainerInfo``, and ``warnings``: what is missing or wrong in them."""

    def __init__(self, archive: Checkpoint, store: ImageStore) -> None:
        self._archive = archive
        self._store = store

    @property
    def warnings(self) -> list[str]:
        """What is missing or wrong in the records: unreadable JSON, config.dump or spec.dump
        missing or not a JSON object, network.status of no known shape (as the checkpoint's
        diagnostics hold them)."""
        self._records  # noqa: B018 -- read, once, so that every warning is said
        return self._store.diagnostics.said(Part.CONTAINER)

    @cached_property
    def _records(self) -> _Records:
        read = self._store.json_member
        records = _Records(*(read(name) for name in (CONFIG_DUMP, SPEC_DUMP, NETWORK_STATUS, STATUS_DUMP, TASK_STATUS)))
        self._check({CONFIG_DUMP: records.config, SPEC_DUMP: records.spec})
        if records.network is not None and not isinstance(records.network, dict | list):
            self._say(NETWORK_STATUS, "not a JSON object or list (no network recorded)")
        return records

    def _say(self, name: str, what: str) -> None:
        self._store.diagnostics.warn(what, where=name, part=Part.CONTAINER)

    def _check(self, records: dict[str, object]) -> None:
        """Say which of config.dump and spec.dump a container checkpoint lacks, or holds something
        other than a JSON object (unreadable ones were said when read). A bare ``criu dump -D``
        directory has neither, and nothing is said of it."""
        if self._archive.images_prefix != IMAGES_DIR:
            return
        for name, lost in _RECORDS.items():
            if not self._archive.has(name):
                self._say(name, f"missing ({lost})")
            elif records[name] is not None and not isinstance(records[name], dict):
                self._say(name, f"not a JSON object ({lost})")

    @property
    def config(self) -> Any:
        """config.dump's JSON (Podman, CRI-O, containerd: names, image, times)."""
        return self._records.config

    @property
    def spec(self) -> Any:
        """spec.dump's JSON: the OCI runtime spec (annotations, mounts, devices, hostname)."""
        return self._records.spec

    @property
    def network(self) -> Any:
        """network.status's JSON: the container's interfaces as the engine set them up."""
        return self._records.network

    @property
    def status(self) -> Any:
        """containerd's status.dump JSON: the CRI ContainerStatus (``created_at``, ``started_at``, ns)."""
        return self._records.status

    @property
    def task_status(self) -> Any:
        """containerd's status JSON: its record of the task (``CreatedAt``, ``StartedAt``, ns)."""
        return self._records.task_status

    @cached_property
    def info(self) -> ContainerInfo:
        """The records as one ``ContainerInfo``: engine, names, image, pod, addresses, times."""
        records = self._records
        return container_info(records.config, records.spec, records.network, records.status, records.task_status)

    @cached_property
    def checkpointed(self) -> Checkpointed:
        """When the checkpoint was taken, and where that comes from: the engine's record
        (config.dump's checkpointedTime: CRI-O, containerd), the kubelet's file name, the time
        the images were archived (inventory.img's mtime: Podman records none), the file's mtime."""
        if self.info.checkpointed:
            return Checkpointed(self.info.checkpointed, CONFIG_DUMP)
        archive = self._archive
        kubelet = parse_kubelet_name(archive.path.name)
        if kubelet is not None:
            return Checkpointed(kubelet.time, "file name")
        inventory = archive.member(archive.images_prefix + "inventory.img")
        if inventory is not None:
            return Checkpointed(_iso(inventory.mtime), "inventory.img mtime")
        return Checkpointed(_iso(archive.path.stat().st_mtime), "file mtime")


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
