"""JSON documents and JSON Lines, written as they come: a streamed field item by item."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from checkforensics.render.escape import json_text


def print_json(document: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(json_text(document, indent=2) + "\n")


def print_json_stream(fields: Sequence[tuple[str, Any]], stream: TextIO | None = None) -> dict[str, int]:
    """A JSON object laid out as ``print_json`` lays it out, written field by field: a field
    whose value is an iterator (not a list) is written as an array item by item, so a
    result of millions of records is never held whole. A callable value is called when its
    turn comes (a hash computed after the search). Returns how many items each streamed
    field had."""
    stream = stream or sys.stdout
    counts: dict[str, int] = {}
    stream.write("{")
    for index, (key, value) in enumerate(fields):
        stream.write(("," if index else "") + f"\n  {json_text(key)}: ")
        if callable(value):
            value = value()
        if isinstance(value, Iterator):
            counts[key] = 0
            for item in value:
                text = json_text(item, indent=2).replace("\n", "\n    ")
                stream.write(("[" if not counts[key] else ",") + "\n    " + text)
                counts[key] += 1
            stream.write("\n  ]" if counts[key] else "[]")
        else:
            stream.write(json_text(value, indent=2).replace("\n", "\n  "))
    stream.write("\n}\n" if fields else "}\n")
    return counts


def print_json_lines(records: Iterable[Any], stream: TextIO | None = None) -> int:
    """One compact JSON document per line (JSON Lines); returns how many were written."""
    stream = stream or sys.stdout
    count = 0
    for record in records:
        stream.write(json_text(record, compact=True) + "\n")
        count += 1
    return count


def print_json_array(items: Iterable[Any], stream: TextIO | None = None) -> int:
    """A JSON array laid out as ``print_json`` lays it out, written item by item (each item is
    made only when its turn comes); returns how many there were."""
    stream = stream or sys.stdout
    count = 0
    for item in items:
        text = json_text(item, indent=2).replace("\n", "\n  ")
        stream.write(("[" if not count else ",") + "\n  " + text)
        count += 1
    stream.write("\n]\n" if count else "[]\n")
    return count

