"""Records: the documents commands print, built from the one JSON form of each thing they
report, and the text forms several commands share. A record's own form lives with its type
(``process_record`` in model.processes, ``descriptor_record`` in model.descriptions,
``CHANGED_FILE`` in analysis.rootfs, ``finding_records`` in analysis.secretscan), so that
analyses that compare records (``diff A B``) use the very same form; none is encoded twice
(docs/json.md describes them)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from checkforensics.records.values import human_size, short_time

# Types only: a command imports records for one record kind, and must not pay for importing
# memory search and the rootfs reader to list processes (start-up is most of a small command).
if TYPE_CHECKING:
    from checkforensics.analysis.memsearch import MemoryMatch
    from checkforensics.analysis.overview import Overview
    from checkforensics.model import Process
    from checkforensics.model.files import FileTable
    from checkforensics.model.shared import SharedMemory


def file_table_record(table: FileTable, with_data: bool, only_sockets: bool = False) -> dict[str, Any]:
    from checkforensics.model.descriptions import descriptor_record
    from checkforensics.model.files import SOCKET_TYPES

    return {
        "processes": [
            {
                "pid": p.pid,
                "comm": p.comm,
                "fds": [
                    descriptor_record(d, with_data) for d in p.descriptors if not only_sockets or d.type in SOCKET_TYPES
                ],
            }
            for p in table.processes
        ],
        "warnings": table.warnings,
    }


def descriptor_lines(table: FileTable, with_data: bool, only_sockets: bool = False) -> list[dict[str, Any]]:
    """The JSON Lines form of a descriptor table: one descriptor a line, with the pid and comm
    of its process first."""
    from checkforensics.model.descriptions import descriptor_record
    from checkforensics.model.files import SOCKET_TYPES

    return [
        {"pid": p.pid, "comm": p.comm, **descriptor_record(d, with_data)}
        for p in table.processes
        for d in p.descriptors
        if not only_sockets or d.type in SOCKET_TYPES
    ]


def command_text(process: Process) -> str | None:
    """The command line as a shell would type it; where it was not read (its pages missing, a
    zombie) or is empty, the name the core image records in brackets, ``[nginx]``, as ps
    shows a process without one: never taken for argv."""
    if not process.cmdline:
        return f"[{process.comm}]" if process.comm else None
    return shlex.join(process.cmdline)


def state_note(process: Process) -> str | None:
    """How a tree says a process was not simply alive: ``stopped by SIGSTOP``, ``zombie, exit
    status 3``, ``zombie, killed by SIGKILL``; None for a live (or not dumped) process."""
    if process.state in (None, "Alive"):
        return None
    if process.state == "Stopped":
        return f"stopped by {process.stop_signal}" if process.stop_signal else "stopped"
    if process.zombie:
        if process.exit_signal:
            return f"zombie, killed by {process.exit_signal}"
        return "zombie" if process.exit_status is None else f"zombie, exit status {process.exit_status}"
    return process.state.lower()


STATS_COLUMNS = (
    ("FREEZING TIME", "freezing_time", "us"),
    ("FROZEN TIME", "frozen_time", "us"),
    ("MEMDUMP TIME", "memdump_time", "us"),
    ("MEMWRITE TIME", "memwrite_time", "us"),
    ("PAGES SCANNED", "pages_scanned", ""),
    ("PAGES WRITTEN", "pages_written", ""),
)


def overview_record(view: Overview, *, sha256: str | None, with_stats: bool) -> dict[str, Any]:
    info = view.container
    document: dict[str, Any] = {
        "archive": str(view.path),
        "kind": view.kind,
        "sha256": sha256,
        "engine": info.engine,
        "container": {
            "name": info.name,
            "image": info.image,
            "image_id": info.image_id,
            "id": info.id,
            "runtime": info.runtime,
            "created": info.created,
            "checkpointed": info.checkpointed,
            "pod": info.pod,
            "namespace": info.namespace,
            "pod_uid": info.pod_uid,
            "sandbox_id": info.sandbox_id,
            "started": info.started,
            "log_path": info.log_path,
            "host_pid": info.host_pid,
            "labels": info.labels,
            "cri_annotations": info.cri_annotations,
            "hostname": info.hostname,
            "ip": info.ips[0] if info.ips else None,
            "mac": info.macs[0] if info.macs else None,
            "interfaces": [
                {
                    "network": iface.network,
                    "name": iface.name,
                    "addresses": list(iface.addresses),
                    "gateways": list(iface.gateways),
                    "mac": iface.mac,
                }
                for iface in info.interfaces
            ],
        },
        "checkpointed": view.checkpointed,
        "checkpointed_from": view.checkpointed_from,
        "hostname": view.hostname,
        "processes": view.process_count,
        "archive_size": view.archive_size,
        "checkpoint_size": view.checkpoint_size,
        "memory_size": view.memory_size,
        "amdgpu_pages_size": view.amdgpu_pages_size,
        "amdgpu_pages": [{"member": name, "size": size} for name, size in view.amdgpu_pages],
        "rootfs_diff_size": view.rootfs_diff_size,
        "warnings": view.warnings,
    }
    if with_stats:
        document["stats"] = view.stats
    return document


def overview_row(view: Overview) -> list[Any]:
    info = view.container
    return [
        info.name,
        info.image,
        info.id[:12] if info.id else None,
        info.runtime,
        short_time(info.created),
        short_time(view.checkpointed),
        info.engine,
        info.ips,
        info.macs,
        human_size(view.checkpoint_size),
        human_size(view.rootfs_diff_size),
    ]


INTERFACE_COLUMNS = ["NETWORK", "INTERFACE", "ADDRESS", "GATEWAY", "MAC"]


def interface_rows(view: Overview) -> list[list[Any]]:
    """Each network interface the engine recorded (network.status; CRI-O's IP annotation), with
    its addresses as prefixes (``10.88.0.2/16``), gateways and MAC."""
    return [
        [iface.network, iface.name, list(iface.addresses), list(iface.gateways), iface.mac]
        for iface in view.container.interfaces
    ]


POD_COLUMNS = ["POD", "NAMESPACE", "POD UID", "SANDBOX"]


def in_a_pod(view: Overview) -> bool:
    """Whether the checkpoint names a Kubernetes pod (CRI-O, containerd)."""
    info = view.container
    return any(value is not None for value in (info.pod, info.namespace, info.pod_uid, info.sandbox_id))


def pod_row(view: Overview) -> list[Any]:
    info = view.container
    return [info.pod, info.namespace, info.pod_uid, info.sandbox_id[:12] if info.sandbox_id else None]


def stats_row(view: Overview) -> list[Any]:
    stats = view.stats or {}
    return [
        None if stats.get(key) is None else f"{stats[key]} {unit}".rstrip() for _, key, unit in STATS_COLUMNS
    ]


def match_record(match: MemoryMatch) -> dict[str, Any]:
    from checkforensics.analysis.memsearch import escape_bytes

    return {
        "pid": match.pid,
        "comm": match.comm,
        "address": match.address,
        "vma": match.mapping.as_json(),
        "pattern": match.pattern.name,
        "match": escape_bytes(match.data),
        "match_hex": match.data.hex(),
        "length": len(match.data),
        "context": escape_bytes(match.before + match.data + match.after),
        "context_address": match.context_address,
    }


def shared_match_record(obj: SharedMemory, match: MemoryMatch) -> dict[str, Any]:
    from checkforensics.analysis.memsearch import escape_bytes

    return {
        "object": obj.as_json(),
        "offset": match.address,
        "mapped": [
            {"pid": pid, "comm": comm, "address": address}
            for pid, comm, address in obj.mapped_at(match.address, len(match.data))
        ],
        "pattern": match.pattern.name,
        "match": escape_bytes(match.data),
        "match_hex": match.data.hex(),
        "length": len(match.data),
        "context": escape_bytes(match.before + match.data + match.after),
        "context_offset": match.context_address,
    }
