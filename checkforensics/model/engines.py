"""What each container engine records, as one ``ContainerInfo``: config.dump, spec.dump,
network.status, and containerd's status.dump and status.

Podman, CRI-O and containerd each write these files differently; this module turns any of
them into one ``ContainerInfo``, telling the engine from the records themselves; the records
are read once, by ``ContainerMetadata`` (``container.py``). Missing is not empty: a field
nobody recorded is ``None``.

containerd adds ``status.dump``, the CRI ContainerStatus the kubelet would get (Go's JSON of
the protobuf message: ``labels``, ``annotations``, ``log_path``, ``image``, ``created_at`` and
``started_at`` in nanoseconds since the epoch), and ``status``, its own record of the task
(``Pid`` on the host, ``CreatedAt``, ``StartedAt``). CRI-O keeps the same facts as OCI
annotations (``io.kubernetes.cri-o.Labels`` and ``.Annotations`` as JSON text, ``.LogPath``,
``.SandboxID``, and the kubelet's ``io.kubernetes.pod.uid``).

References: Podman's libpod checkpoint export; CRI-O and containerd kubelet checkpoints
(annotations ``io.kubernetes.cri-o.*``, ``io.kubernetes.cri.*``); containerd's
internal/cri/server/container_checkpoint_linux.go; the CRI API's ContainerStatus; the OCI
runtime spec.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

# Engine names as checkpointctl prints them.
PODMAN = "Podman"
CRIO = "CRI-O"
CONTAINERD = "containerd"

_MANAGER_ANNOTATION = "io.container.manager"
_CRIU_ANNOTATION_PREFIX = "org.criu.checkpoint."
# What the kubelet puts on every container (labels; CRI-O also copies them into annotations)
POD_UID = "io.kubernetes.pod.uid"
# containerd's OCI annotations
CONTAINERD_SANDBOX_ID = "io.kubernetes.cri.sandbox-id"
CONTAINERD_SANDBOX_UID = "io.kubernetes.cri.sandbox-uid"
# CRI-O's OCI annotations
CRIO_SANDBOX_ID = "io.kubernetes.cri-o.SandboxID"
CRIO_LABELS = "io.kubernetes.cri-o.Labels"
CRIO_ANNOTATIONS = "io.kubernetes.cri-o.Annotations"
CRIO_LOG_PATH = "io.kubernetes.cri-o.LogPath"


@dataclass(frozen=True)
class Interface:
    """One network interface of the container as the engine recorded it."""

    network: str | None
    name: str | None
    addresses: tuple[str, ...]  # with prefix length, e.g. "10.88.0.2/16"
    gateways: tuple[str, ...]
    mac: str | None

    @property
    def ips(self) -> tuple[str, ...]:
        return tuple(address.split("/", 1)[0] for address in self.addresses)


@dataclass
class ContainerInfo:
    """What the engine recorded about the checkpointed container."""

    engine: str | None = None
    name: str | None = None
    image: str | None = None
    image_id: str | None = None
    id: str | None = None
    runtime: str | None = None
    created: str | None = None
    checkpointed: str | None = None
    pod: str | None = None
    namespace: str | None = None
    pod_uid: str | None = None  # the Kubernetes pod's UID
    sandbox_id: str | None = None  # the CRI pod sandbox the container ran in
    hostname: str | None = None
    started: str | None = None  # RFC 3339; when the container's process started (CRI status)
    log_path: str | None = None  # the CRI log file on the node (its copy: container.log)
    host_pid: int | None = None  # the container's first process as the node saw it (containerd's status)
    interfaces: list[Interface] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)  # the OCI spec's
    labels: dict[str, str] = field(default_factory=dict)  # the CRI container's labels
    cri_annotations: dict[str, str] = field(default_factory=dict)  # the CRI container's annotations

    @property
    def ips(self) -> list[str]:
        return [ip for interface in self.interfaces for ip in interface.ips]

    @property
    def macs(self) -> list[str]:
        return [interface.mac for interface in self.interfaces if interface.mac]

    @property
    def criu_annotations(self) -> dict[str, str]:
        return {key: value for key, value in self.annotations.items() if key.startswith(_CRIU_ANNOTATION_PREFIX)}


def _text(value: Any) -> str | None:
    """A non-empty string, or None for absent, empty, zero-time and non-string values."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return value


def _string_map(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(key): str(value) for key, value in raw.items()}


def _annotations(spec: dict[str, Any] | None) -> dict[str, str]:
    return _string_map((spec or {}).get("annotations"))


def _json_map(text: str | None) -> dict[str, str]:
    """A JSON object held in an annotation's text (CRI-O's Labels, Annotations), or {}."""
    if not text:
        return {}
    try:
        return _string_map(json.loads(text))
    except (ValueError, RecursionError):
        return {}


def unix_nanos(value: Any) -> str | None:
    """Nanoseconds since the epoch (CRI's timestamps) as RFC 3339 in UTC, to the nanosecond;
    None for absent, zero, negative or absurd values."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    seconds, nanos = divmod(value, 1_000_000_000)
    try:
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def detect_engine(annotations: dict[str, str], config: dict[str, Any] | None) -> str | None:
    """Which engine wrote the checkpoint, from its annotations."""
    manager = annotations.get(_MANAGER_ANNOTATION)
    if manager == "libpod":
        return PODMAN
    if manager == "cri-o" or "io.kubernetes.cri-o.Metadata" in annotations:
        return CRIO
    if any(key.startswith("io.kubernetes.cri.") for key in annotations):
        return CONTAINERD
    if config is not None and "rootfsImageName" in config and "createdTime" in config:
        return PODMAN  # Podman before it annotated its manager
    return None


def parse_network_status(data: Any) -> list[Interface]:
    """Interfaces from network.status in each form it takes.

    Podman 4+ writes ``{network: {"interfaces": {ifname: {"subnets": [...], "mac_address"}}}}``;
    older Podman and CNI plugins write a list of CNI results ``[{"interfaces": [...],
    "ips": [{"address", "gateway", "interface": index}]}]``; a container without a network
    has ``null``.  Unknown shapes give no interfaces rather than an error.
    """
    if isinstance(data, dict):
        return [iface for network, status in sorted(data.items()) for iface in _podman_network(network, status)]
    if isinstance(data, list):
        return [iface for result in data for iface in _cni_result(result)]
    return []


def _podman_network(network: str, status: Any) -> list[Interface]:
    interfaces = status.get("interfaces") if isinstance(status, dict) else None
    if not isinstance(interfaces, dict):
        return []
    found = []
    for name, iface in sorted(interfaces.items()):
        if not isinstance(iface, dict):
            continue
        subnets = [s for s in iface.get("subnets") or [] if isinstance(s, dict)]
        found.append(
            Interface(
                network=network,
                name=name,
                addresses=tuple(s["ipnet"] for s in subnets if _text(s.get("ipnet"))),
                gateways=tuple(s["gateway"] for s in subnets if _text(s.get("gateway"))),
                mac=_text(iface.get("mac_address")),
            )
        )
    return found


def _cni_result(result: Any) -> list[Interface]:
    if not isinstance(result, dict):
        return []
    raw_interfaces = [i for i in result.get("interfaces") or [] if isinstance(i, dict)]
    ips = [ip for ip in result.get("ips") or [] if isinstance(ip, dict)]
    found = []
    for index, iface in enumerate(raw_interfaces):
        if iface.get("sandbox") is None and len(raw_interfaces) > 1:
            continue  # the host side of a veth pair
        mine = [ip for ip in ips if ip.get("interface") == index]
        found.append(
            Interface(
                network=_text(result.get("name")),
                name=_text(iface.get("name")),
                addresses=tuple(ip["address"] for ip in mine if _text(ip.get("address"))),
                gateways=tuple(ip["gateway"] for ip in mine if _text(ip.get("gateway"))),
                mac=_text(iface.get("mac")),
            )
        )
    if not found and ips:  # addresses without interface records
        found.append(
            Interface(
                network=_text(result.get("name")),
                name=None,
                addresses=tuple(ip["address"] for ip in ips if _text(ip.get("address"))),
                gateways=tuple(ip["gateway"] for ip in ips if _text(ip.get("gateway"))),
                mac=None,
            )
        )
    return found


def _crio_container_name(annotations: dict[str, str]) -> str | None:
    raw = annotations.get("io.kubernetes.cri-o.Metadata")
    if raw:
        try:
            meta = json.loads(raw)
        except json.JSONDecodeError:
            meta = None
        if isinstance(meta, dict) and _text(meta.get("name")):
            return meta["name"]
    return _text(annotations.get("io.kubernetes.container.name"))


def container_info(
    config: dict[str, Any] | None,
    spec: dict[str, Any] | None,
    network: Any = None,
    status: Any = None,
    task_status: Any = None,
) -> ContainerInfo:
    """Combine the metadata files (each may be None when absent) into one record: config.dump,
    spec.dump, network.status, and containerd's status.dump (``status``, the CRI
    ContainerStatus) and status (``task_status``)."""
    config = config if isinstance(config, dict) else None
    spec = spec if isinstance(spec, dict) else None
    # only containerd writes status.dump and status beside the images
    containerd_files = isinstance(status, dict) or isinstance(task_status, dict)
    status = status if isinstance(status, dict) else {}
    task_status = task_status if isinstance(task_status, dict) else {}
    annotations = _annotations(spec)
    # without a spec to hold the engine's annotations, config.dump alone cannot tell Podman from CRI-O
    engine = detect_engine(annotations, config if spec is not None else None)
    if engine is None and containerd_files:
        engine = CONTAINERD
    cfg = config or {}
    info = ContainerInfo(
        engine=engine,
        name=_text(cfg.get("name")),
        image=_text(cfg.get("rootfsImageName")) or _text(cfg.get("rootfsImageRef")) or _text(cfg.get("rootfsImage")),
        image_id=_text(cfg.get("rootfsImageID")) or _text(cfg.get("rootfsImageRef")),
        id=_text(cfg.get("id")),
        runtime=_text(cfg.get("runtime")),
        created=_text(cfg.get("createdTime")),
        checkpointed=_text(cfg.get("checkpointedTime")),
        hostname=_text((spec or {}).get("hostname")),
        interfaces=parse_network_status(network),
        annotations=annotations,
    )
    if engine == CRIO:
        info.name = _crio_container_name(annotations) or info.name
        info.created = _text(annotations.get("io.kubernetes.cri-o.Created")) or info.created
        info.pod = _text(annotations.get("io.kubernetes.pod.name"))
        info.namespace = _text(annotations.get("io.kubernetes.pod.namespace"))
        crio_ip = _text(annotations.get("io.kubernetes.cri-o.IP.0"))
        if crio_ip and crio_ip not in info.ips:
            info.interfaces.append(Interface(None, None, (crio_ip,), (), None))
        info.labels = _json_map(annotations.get(CRIO_LABELS))
        info.cri_annotations = _json_map(annotations.get(CRIO_ANNOTATIONS))
        info.pod_uid = _text(annotations.get(POD_UID)) or _text(info.labels.get(POD_UID))
        info.sandbox_id = _text(annotations.get(CRIO_SANDBOX_ID))
        info.log_path = _text(annotations.get(CRIO_LOG_PATH))
    elif engine == CONTAINERD:
        info.name = _text(annotations.get("io.kubernetes.cri.container-name")) or info.name
        info.pod = _text(annotations.get("io.kubernetes.cri.sandbox-name"))
        info.namespace = _text(annotations.get("io.kubernetes.cri.sandbox-namespace"))
        info.image = info.image or _text(annotations.get("io.kubernetes.cri.image-name"))
        info.sandbox_id = _text(annotations.get(CONTAINERD_SANDBOX_ID))
    _add_cri_status(info, status, task_status)
    if info.pod_uid is None:  # containerd 1.7 and 2.x annotate it; older ones only have the label
        info.pod_uid = _text(annotations.get(CONTAINERD_SANDBOX_UID)) or _text(info.labels.get(POD_UID))
    return info


def _add_cri_status(info: ContainerInfo, status: dict[str, Any], task_status: dict[str, Any]) -> None:
    """What containerd's status.dump (the CRI ContainerStatus) and status add; each fills only
    what nothing else recorded, except labels and annotations, which are the CRI's own."""
    labels = _string_map(status.get("labels"))
    if labels:
        info.labels = labels
    annotations = _string_map(status.get("annotations"))
    if annotations:
        info.cri_annotations = annotations
    info.log_path = info.log_path or _text(status.get("log_path"))
    image = status.get("image")
    info.image = info.image or (_text(image.get("image")) if isinstance(image, dict) else None)
    info.image_id = info.image_id or _text(status.get("image_ref"))
    info.created = info.created or unix_nanos(status.get("created_at")) or unix_nanos(task_status.get("CreatedAt"))
    info.started = unix_nanos(status.get("started_at")) or unix_nanos(task_status.get("StartedAt"))
    info.host_pid = _positive_int(task_status.get("Pid"))
    metadata = status.get("metadata")
    if info.name is None and isinstance(metadata, dict):
        info.name = _text(metadata.get("name"))
    info.id = info.id or _text(status.get("id"))
