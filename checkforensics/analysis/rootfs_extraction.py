"""Writing what the container changed on disk out of the checkpoint (``diff --extract``): every
layer's files under one output directory, safely, with a manifest of what was taken.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checkforensics.analysis.rootfs import RuntimeMade, changed_files, container_path, layer_whiteout, runtime_reason
from checkforensics.model import CheckpointModel
from checkforensics.model.layers import ROOTFS
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import OBJECT, SIZE, TEXT

if TYPE_CHECKING:
    from checkforensics.output import Destination, OutputDirectory


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
                elif info.isfile() and parts and entry.cut is not None:
                    pass  # not written: what is not read (a sparse file's holes) was said by the layers
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


def _origin(entry: dict[str, Any]) -> str:
    return "container" if entry["origin"] == "container" else f"runtime ({entry['runtime_reason']})"


def _extracted_type(origin: bool) -> RecordType:
    return RecordType(
        "entry", "entries",
        (Field("layer", TEXT), Field("path", TEXT),
         Field("type", TEXT, "as a changed file's, or deleted / opaque for a whiteout"), Field("size", SIZE),
         Field("origin", TEXT, "container, or runtime"), Field("runtime_reason", TEXT),
         Field("written", TEXT, "its path under the output directory; null when not created"),
         Field("content", OBJECT, "sha256 (a file written) or linkname (a link or device, not created)",
               spread=True, get=lambda e: {key: e[key] for key in ("sha256", "linkname") if key in e})),
        ("layer", *([Column("ORIGIN", get=_origin)] if origin else []), "type", "size", "written", "path"),
        "An entry of a layer, as diff --extract wrote or listed it.",
    )  # fmt: skip


EXTRACTED = _extracted_type(origin=False)
EXTRACTED_WITH_ORIGIN = _extracted_type(origin=True)  # --all: the runtime's entries too


def extraction(model: CheckpointModel, output: Destination, *, runtime: bool = False) -> Answer:
    """The changes of ``model`` written under ``output`` (``extract_changes``), listed."""
    with output.directory(force_hint=False) as directory:  # diff's --force compares containers: never suggested
        done = extract_changes(model, directory, runtime=runtime)
    where = str(Path(output.path))
    written = sum(1 for record in done.records if record["written"])
    message = f"{written} files written under {where}; links and devices listed, not created"
    what = "entry" if done.hidden == 1 else "entries"
    left_out = f"{done.hidden} {what} made by the container runtime left out (--all writes them)"
    message += f"; {left_out}" if done.hidden else ""
    return Answer(
        [Section(EXTRACTED_WITH_ORIGIN if runtime else EXTRACTED, done.records)],
        nothing="no changes by the container to write" + (f"; {left_out}" if done.hidden else ""),
        head={"output": where},
        extra={"hidden": done.hidden},
        text=lambda entries: [message] if any(True for _ in entries) else [],
    )
