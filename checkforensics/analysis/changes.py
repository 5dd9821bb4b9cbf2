"""What ``diff`` answers about one checkpoint: the changes on disk listed (the container's first,
the runtime's on request), or one changed file shown whole.

A change is a changed file, a deleted path or a directory made opaque; in JSON each kind has its
list (``changed``, ``deleted``, ``opaque``), in JSON Lines and tables each change is a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from checkforensics.analysis.rootfs import (
    CHANGED_FILE,
    LAYER,
    LayerFile,
    RootfsChanges,
    read_changed_file,
    rootfs_changes,
)
from checkforensics.model import CheckpointModel
from checkforensics.model.layers import ROOTFS
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import OBJECT, SIZE, TEXT, TIME

KINDS = ("changed", "deleted", "opaque")
NO_LAYERS = "no rootfs-diff.tar, deleted.files, /dev/shm or tmpfs archive in the checkpoint"


@dataclass(frozen=True)
class Change:
    """One change: a changed file of a layer, or a path the rootfs layer deleted or made opaque."""

    change: str  # one of KINDS
    path: str
    file: LayerFile | None = None

    @property
    def layer(self) -> str | None:
        return self.file.layer if self.file is not None else ROOTFS

    @property
    def origin(self) -> str:
        return f"runtime ({self.file.reason})" if self.file is not None and self.file.reason else "container"


def _record(change: Change) -> dict[str, Any]:
    return CHANGED_FILE.json(change.file) if change.file is not None else {"path": change.path}


def _file(change: Change, read: Any) -> Any:
    return read(change.file) if change.file is not None else None


def _shown_path(change: Change) -> str:
    linkname = change.file.linkname if change.file is not None else None
    return change.path + (f" -> {linkname}" if linkname else "")


def _change_type(origin: bool) -> RecordType:
    columns = (
        Column("LAYER", get=lambda c: c.layer),
        *([Column("ORIGIN", get=lambda c: c.origin)] if origin else []),
        Column("TYPE", get=lambda c: c.file.type if c.file is not None else c.change),
        Column("SIZE", get=lambda c: _file(c, lambda f: f.size if f.type == "file" else None), hint=SIZE),
        Column("MODE", get=lambda c: _file(c, lambda f: f"{f.mode:04o}")),
        Column("OWNER", get=lambda c: _file(c, lambda f: f"{f.uid}:{f.gid}")),
        Column("MTIME", get=lambda c: _file(c, lambda f: f.mtime), hint=TIME),
        Column("PATH", get=_shown_path),
    )
    return RecordType(
        "change", "changes",
        (Field("change", TEXT, "changed, deleted or opaque: the list of the document it is in"),
         Field("record", OBJECT, "a changed-file record (changed), else {path}", spread=True, get=_record)),
        columns, "A change on disk: a changed file, a deleted path, a directory made opaque.", group=("change",),
    )  # fmt: skip


CHANGE = _change_type(origin=False)
CHANGE_WITH_ORIGIN = _change_type(origin=True)  # diff --all: the runtime's entries too


def _in_order(changes: RootfsChanges, runtime: bool) -> list[Change]:
    """The container's changes first (its layer, then its deletions, then /dev/shm and tmpfs
    layers), and with ``runtime`` the entries the runtime made."""
    files = [Change("changed", f.path, LayerFile(layer, f)) for layer, f in changes.files]
    ordered = [change for change in files if change.layer == ROOTFS]
    ordered += [Change("deleted", path) for path in changes.deleted]
    ordered += [Change("opaque", path) for path in changes.opaque]
    ordered += [change for change in files if change.layer != ROOTFS]
    if runtime:
        ordered += [Change("changed", e.file.path, LayerFile(layer, e.file, e.reason)) for layer, e in changes.runtime]
    return ordered


def hidden_note(changes: RootfsChanges) -> str | None:
    """How many entries the runtime made were left out, where, and how to see them."""
    hidden = changes.runtime
    if not hidden:
        return None
    layers = ", ".join(dict.fromkeys(layer for layer, _ in hidden))
    what = "entry" if len(hidden) == 1 else "entries"
    return f"{len(hidden)} {what} made by the container runtime not shown ({layers}); --all lists them"


def _nothing(changes: RootfsChanges, runtime: bool, note: str | None) -> str:
    if not changes.layers and not changes.deleted:
        return NO_LAYERS
    if runtime:
        return "no changes"
    return "no changes by the container" + (f"; {note}" if note else "")


def changes_answer(model: CheckpointModel, *, runtime: bool = False) -> Answer:
    """The changes on disk of ``model``: the container's, and with ``runtime`` the entries the
    runtime made, else only counted (``hidden``)."""
    changes = rootfs_changes(model)
    note = None if runtime else hidden_note(changes)
    kind = CHANGE_WITH_ORIGIN if runtime else CHANGE
    return Answer(
        [Section(kind, _in_order(changes, runtime), groups=tuple((name,) for name in KINDS))],
        nothing=_nothing(changes, runtime, note),
        head={"archive": str(model.path)},
        extra={
            "hidden": 0 if runtime else len(changes.runtime),
            "layers": [LAYER.json(layer) for layer in changes.layers],
        },
        after=[note] if note else [],
        warnings=changes.warnings,
    )


def _hexdump(data: bytes) -> Iterator[str]:
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        yield f"{offset:08x}  {hexes:<47}  |{text}|"


def _content(shown: Iterable[LayerFile], content: bytes) -> list[Any]:
    """A changed file's content: UTF-8 text without NUL bytes as its lines (tabs kept, other
    controls escaped as everywhere), anything else as a hexdump; a link or device as one line."""
    from checkforensics.render import Lines

    blocks: list[Any] = []
    for changed in shown:
        if changed.type != "file":
            target = f" -> {changed.linkname}" if changed.linkname else ""
            blocks.append(f"{changed.path}: {changed.type}{target}")
            continue
        try:
            text = content.decode("utf-8") if b"\0" not in content else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            blocks.append(Lines(_hexdump(content)))
        elif text:
            blocks.append(Lines(text.removesuffix("\n").split("\n"), tabs=True))
    return blocks


def shown_file(model: CheckpointModel, path: str) -> Answer:
    """One changed file: its content in text (and table), its changed-file record in JSON."""
    changed, content = read_changed_file(model, path)
    view = lambda shown: _content(shown, content)  # noqa: E731
    return Answer([Section(CHANGED_FILE, [changed])], head={"archive": str(model.path)}, text=view, table=view)
