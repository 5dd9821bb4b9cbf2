"""Writing what the container changed on disk out of the checkpoint (``diff --extract``): every
layer's files under one output directory, safely, with a manifest of what was taken.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from checkforensics.analysis.rootfs import RuntimeMade, changed_files, container_path, layer_whiteout, runtime_reason
from checkforensics.model import CheckpointModel
from checkforensics.model.layers import ROOTFS

if TYPE_CHECKING:
    from checkforensics.output import OutputDirectory


@dataclass
class Extraction:
    """What ``extract_changes`` did: one manifest record per layer entry taken, and how many
    entries the runtime made were left out."""

    records: list[dict[str, object]]
    hidden: int = 0


def extract_changes(model: CheckpointModel, out: OutputDirectory, *, runtime: bool = False) -> Extraction:
    """Write the container's regular files and directories of every layer into ``out``, safely;
    with ``runtime``, those the container runtime made too (``runtime_reason``, as ``diff``
    splits them), else only counted.

    Paths are confined to ``out`` (no ``..``, absolute paths are re-rooted) and every name is
    created relative to its directory's descriptor, never through a link; links, devices and
    FIFOs are recorded, never created; existing files are never overwritten. Each record has
    layer, path, type, size, origin (and runtime_reason), sha256 or linkname, and where it was
    written (if at all).
    """
    layers = model.layers
    made = RuntimeMade.of(model)
    done = Extraction([])
    for archive in layers.archives:
        name = archive.name
        base = [] if name == ROOTFS else [f"_{name.replace('/', '_').replace(' ', '_').strip('_')}"]
        with layers.entries(archive, digest=False) as entries:
            for changed, entry in changed_files(entries):
                info = entry.info
                parts = base + [part for part in changed.path.split("/") if part]
                path = container_path(changed.path, archive.root)
                marker = layer_whiteout(name, changed.path)
                reason = runtime_reason(name, replace(changed, path=path), info, made) if marker is None else None
                if reason is not None and not runtime:
                    done.hidden += 1
                    continue
                record: dict[str, object] = {
                    "layer": name,
                    "path": path,
                    "type": changed.type,
                    "size": changed.size,
                    "origin": "runtime" if reason else "container",
                    "runtime_reason": reason,
                    "written": None,
                }
                if marker is not None:  # a deletion, recorded, never written as a file
                    record.update(type=marker[0], path=marker[1], size=0)
                    done.records.append(record)
                    continue
                if info.isdir():
                    out.subdirectories(parts).close()
                elif info.isfile() and parts:
                    handle = entry.open()
                    digest = hashlib.sha256()
                    with out.subdirectories(parts[:-1]) as directory, directory.new_file(parts[-1]) as written:
                        while handle is not None and (chunk := handle.read(1 << 20)):
                            digest.update(chunk)
                            written.write(chunk)
                    record.update(sha256=digest.hexdigest(), written="/".join(parts))
                else:
                    record["linkname"] = changed.linkname
                done.records.append(record)
    return done
