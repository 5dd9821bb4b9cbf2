"""Records: the documents commands print, built from the one JSON form of each thing they
report. A record's own form lives with its type (``PROCESS`` in analysis.processes,
``OVERVIEW`` in analysis.overview, ``descriptor_record`` in model.descriptions,
``changed_file_record`` in analysis.rootfs, ``finding_records`` in analysis.secretscan), so that
analyses that compare records (``diff A B``) use the very same form; none is encoded twice
(docs/json.md describes them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

# Types only: a command imports records for one record kind, and must not pay for importing
# memory search and the rootfs reader to list processes (start-up is most of a small command).
if TYPE_CHECKING:
    from checkforensics.analysis.rootfs import RootfsChanges


def changes_record(path: Path, changes: RootfsChanges, *, runtime: bool = False) -> dict[str, Any]:
    """The container's changes; the entries the runtime made too with ``runtime`` (each entry's
    ``origin`` says whose), else only counted in ``hidden``."""
    from checkforensics.analysis.rootfs import changed_file_record

    changed = [changed_file_record(f, name) for name, f in changes.files]
    if runtime:
        changed += [changed_file_record(e.file, name, e.reason) for name, e in changes.runtime]
    return {
        "archive": str(path),
        "changed": changed,
        "deleted": [{"path": path} for path in changes.deleted],
        "opaque": [{"path": path} for path in changes.opaque],
        "hidden": 0 if runtime else len(changes.runtime),
        "layers": [
            {
                "name": layer.name,
                "member": layer.member,
                "entries": len(layer.files) + len(layer.runtime),
                "runtime": len(layer.runtime),
            }
            for layer in changes.layers
        ],
        "warnings": changes.warnings,
    }
