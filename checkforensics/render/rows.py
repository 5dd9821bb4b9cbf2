"""Records written a row at a time in formats besides JSON: CSV, and the line formats a record
type declares of its own (``RecordType.forms``: the timeline's ``bodyfile``).

CSV has a header of the record type's JSON keys (each field that is not optional, or optional
and asked for), then one row a record: a missing value is an empty cell, a list or an object its
compact JSON, a string passed through ``printable`` (no control character, no newline, from the
evidence, reaches a spreadsheet or a pipe raw). A command answering with several kinds of
record writes each kind's header before its rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from checkforensics.records.declare import Answer, RecordType, Section
from checkforensics.render.console import CSV
from checkforensics.render.escape import json_text, printable


def has_form(answer: Answer, fmt: str) -> bool:
    """Whether ``fmt`` is written a row at a time: CSV, or a form every section's type declares."""
    return fmt == CSV or (bool(answer.sections) and all(fmt in s.type.forms for s in answer.sections))


def write_rows(fmt: str, stream: TextIO, items: Iterable[tuple[Section, Any, dict]]) -> int:
    """The records of ``items`` (each with its section and context) in ``fmt``; how many."""
    if fmt == CSV:
        return _write_csv(stream, items)
    count = 0
    for section, item, _context in items:
        stream.write(section.type.forms[fmt](item) + "\n")
        count += 1
    return count


def _keys(kind: RecordType, section: Section) -> list[str]:
    return [f.name for f in kind.fields if not f.spread and (not f.optional or f.name in section.include)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json_text(value, compact=True)
    return printable(str(value))


def _write_csv(stream: TextIO, items: Iterable[tuple[Section, Any, dict]]) -> int:
    writer = csv.writer(stream, lineterminator="\n")
    count = 0
    header_of: RecordType | None = None
    keys: list[str] = []
    for section, item, context in items:
        if section.type is not header_of:
            header_of, keys = section.type, _keys(section.type, section)
            writer.writerow(keys)
        record = section.type.json(item, section.include, context)
        writer.writerow([_cell(record.get(key)) for key in keys])
        count += 1
    return count


def section_items(sections: Iterable[Section], unwrap: Any) -> Iterator[tuple[Section, Any, dict]]:
    """Each item of each section with its section and context (``unwrap``: the renderer's way
    of taking an item out of the section it was chained into)."""
    for section in sections:
        for each in section.items:
            item, context = unwrap(each, section)
            yield section, item, context
