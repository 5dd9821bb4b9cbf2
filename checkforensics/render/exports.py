"""Formats a command offers beyond text, table, json and jsonl: each an ``Export``, written by a
writer of its own from the same declared records.

``CSV`` is generic (any command may offer it): one row a record, the columns the record's JSON
keys, each cell the JSON value (a string or a number as it is, ``true``/``false``, null as an
empty cell, a list or an object as compact JSON), so a row says what the JSON record says
(text from the evidence escaped as ``printable`` escapes it in every output). A command may
declare an export of its own (``iocs``' STIX bundle): its writer is named as
``module:function`` and imported only when that format is asked for; ``needs`` names the
optional package it stands on and the extra that installs it, checked before any checkpoint is
opened (docs/exit-codes.md: 4, UNSUPPORTED, when it is missing).
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from checkforensics.render.escape import json_text, printable
from checkforensics.render.sections import section_lines

if TYPE_CHECKING:
    from checkforensics.records.declare import Answer, Section


@dataclass(frozen=True)
class Export:
    """A format of a command's own: ``name`` (the ``--format`` value), ``help`` (its part of
    the option's help), ``writer`` (``module:function``, ``write(answer, stream) -> records
    written``) and ``needs``: ``(module, extra)`` when it stands on an optional package."""

    name: str
    help: str
    writer: str
    needs: tuple[str, str] | None = None

    def missing(self) -> str | None:
        """What to say when the package it needs is not installed; None when it is."""
        if self.needs is None:
            return None
        try:
            if importlib.util.find_spec(self.needs[0]) is not None:
                return None
        except (ImportError, ValueError):  # a parent package missing, or the module blocked (None in sys.modules)
            pass
        module, extra = self.needs
        return f"--format {self.name} needs the {module} package (pip install 'checkforensics[{extra}]')"

    def write(self, answer: Answer, stream: TextIO) -> int:
        module, _, function = self.writer.partition(":")
        writer = getattr(importlib.import_module(module), function)
        return int(writer(answer, stream))


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json_text(value, compact=True)
    return printable(value) if isinstance(value, str) else value


def _columns(section: Section) -> list[str]:
    """The JSON keys of the section's records, as declared: optional fields only when asked for,
    inner records' keys in place of the field that holds them (``expand``)."""
    kind = section.type
    names: list[str] = []
    for field in kind.fields:
        if field.optional and field.name not in section.include:
            continue
        if kind.expand == field.name and field.record is not None:
            names += [inner.name for inner in field.record.fields]
        elif not field.spread:
            names.append(field.name)
    return names


def _rows(answer: Answer) -> Iterator[tuple[Section, dict[str, Any]]]:
    for section in answer.sections:
        for record in section_lines(section):
            yield section, record


def write_csv(answer: Answer, stream: TextIO) -> int:
    """The answer's records as CSV (RFC 4180, but lines end with a newline alone: no carriage
    return is written on a terminal; a header row first; with several kinds of record a
    ``record`` column first, and one header per kind); the number of rows written. Text from
    the evidence is escaped as everywhere (``printable``: a newline in a name is ``\\x0a``, so
    a row is one line), lists and objects are JSON (``json_text``)."""
    writer = csv.writer(stream, lineterminator="\n")
    several = answer.several_kinds
    count = 0
    header: list[str] | None = None
    current: Section | None = None
    for section, record in _rows(answer):
        if section is not current:
            current = section
            header = _columns(section)
            header += [key for key in record if key not in header]  # spread fields: the record's own keys
            writer.writerow((["record"] if several else []) + header)
        assert header is not None
        cells = [_cell(record.get(key)) for key in header]
        writer.writerow(([section.type.name] if several else []) + cells)
        count += 1
    if not count:  # the header alone, so a program reading it still knows the columns
        for section in answer.sections[:1]:
            writer.writerow((["record"] if several else []) + _columns(section))
    return count


CSV = Export("csv", "csv: one row a record, cells as in the JSON", "checkforensics.render.exports:write_csv")
