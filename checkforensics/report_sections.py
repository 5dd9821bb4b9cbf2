"""Sections of the HTML report that show what a command shows, as that command's own table.

``record_table`` is the one way a declared record type becomes a table on the page: its headers
and its cells as the command prints them in ``text`` (``RecordType.rows``), every cell masked by
the redaction policy. ``files`` and ``sockets`` are shown so, which is how the Sockets section
has the states, addresses, peers and queue sizes ``sockets`` prints. The data in flight and the
container's log are gathered here too: the objects ``recover`` would write (each once, with
every descriptor holding it and its first bytes) and the log's lines as the timeline read them
(the log is read once per report).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from checkforensics.analysis.inflight import objects_in_flight
from checkforensics.model.descriptions import preview
from checkforensics.records.values import cut

if TYPE_CHECKING:
    from checkforensics.analysis.redaction import Redaction
    from checkforensics.analysis.timeline import Event
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import RecordType

ROW_LIMIT = 5000  # rows of one table on the page; the command lists them all
CELL_LIMIT = 400  # characters of one cell (a long log line, a long path)
PREVIEW = 64  # first bytes of an object in flight shown


def record_table(kind: RecordType, items: Iterable[Any], redaction: Redaction) -> dict[str, Any]:
    """The table a command prints of ``items`` (its ``text`` form), its cells masked and cut:
    ``headers``, ``rows`` (at most ROW_LIMIT) and ``total``."""
    rows = [cells for item in items for cells, _ in kind.rows(item)]
    shown = rows[:ROW_LIMIT]
    flat = redaction.texts([cell for cells in shown for cell in cells])
    width = len(kind.headers)
    masked = [[cut(cell, CELL_LIMIT) for cell in flat[i : i + width]] for i in range(0, len(flat), width)]
    return {"headers": kind.headers, "rows": masked, "total": len(rows), "limit": ROW_LIMIT}


def inflight_items(model: CheckpointModel, redaction: Redaction) -> list[dict[str, Any]]:
    """Each object with data in flight (a pipe's unread bytes, a socket's queue, unread TCP
    bytes, a deleted file still open, a memfd), once, with its size, what it is, every
    ``pid:fd`` holding it and its first bytes, masked."""
    objects = objects_in_flight(model.files(with_data=True), model.diagnostics).objects
    items = []
    for obj in objects:
        d = obj.descriptor
        size = sum(len(part) for part in obj.parts)
        held = " ".join(f"{h['pid']}:{h['fd']} ({h['comm']})" for h in obj.holders)
        first = b"".join(obj.parts)[:PREVIEW]
        items.append({
            "kind": obj.kind, "what": d.path or d.remote or d.local or f"{obj.kind} {obj.object_id}",
            "size": size, "complete": obj.complete, "held": held, "preview": preview(first, PREVIEW),
            "messages": len(obj.parts) if len(obj.parts) > 1 else None,
        })  # fmt: skip
    texts = redaction.texts([text for item in items for text in (item["what"], item["preview"])])
    for index, item in enumerate(items):
        item["what"], item["preview"] = texts[2 * index], texts[2 * index + 1]
    return items


def log_items(events: list[Event], redaction: Redaction) -> dict[str, Any]:
    """The container's log as the timeline read it: each line's number, time and text (stream
    first), masked and cut; at most ROW_LIMIT lines, with the log's member and its total."""
    lines = [e for e in events if e.source == "log"]
    shown = lines[:ROW_LIMIT]
    texts = redaction.texts([e.message for e in shown])
    return {
        "member": lines[0].member if lines else None,
        "lines": [
            {"line": e.details.get("line"), "time": e.datetime, "text": cut(text, CELL_LIMIT)}
            for e, text in zip(shown, texts, strict=True)
        ],
        "total": len(lines),
        "limit": ROW_LIMIT,
    }
