"""An ``Answer`` (records declared once, ``records.declare``) written in any format.

JSON: one document, ``{PLURAL: [records...], ...extra, "warnings": [...]}`` (or the array of
the records, ``Answer.array``); JSON Lines: one record a line, with ``"record": NAME`` first
where a command answers with several kinds; text and table: one table per kind of record,
columns and cells as the declaration says (or the command's own view: a tree, a hexdump).
When no record at all is found, one line says so on stderr,
``checkforensics: nothing found: WHAT``, and the exit code is 1 (docs/exit-codes.md).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from checkforensics.records.declare import Answer, Section
from checkforensics.render.console import JSON, JSONL, TABLE
from checkforensics.render.escape import printable
from checkforensics.render.jsonout import print_json_array, print_json_lines, print_json_stream
from checkforensics.render.sections import InContext, section_lines, unwrapped
from checkforensics.render.tables import Table

if TYPE_CHECKING:
    from checkforensics.render.exports import Export

NOTHING_FOUND = 1  # ExitCode.NOTHING_FOUND, without importing the error tree here
Warnings = Callable[[], list[str]]


def write_answer(
    answer: Answer,
    fmt: str,
    *,
    warnings: Warnings = list,
    stream: TextIO | None = None,
    export: Export | None = None,
) -> int:
    """Write ``answer`` in ``fmt`` on ``stream`` (stdout), then the nothing-found line and the
    warnings (``warnings()``, asked once the records are written) on stderr. Returns 0, or 1
    when there was no record. ``export``: the command's own format ``fmt`` is (CSV, a STIX
    bundle), which writes the records instead."""
    from checkforensics.render import write_blocks

    stream = stream or sys.stdout
    said: list[str] = []

    def told() -> list[str]:
        said[:] = warnings()
        return said

    if export is not None:
        found = export.write(answer, stream)
        told()
    elif fmt == JSON:
        found = _write_document(answer, stream, told)
    elif fmt == JSONL:
        found = print_json_lines(_lines(answer), stream)
        print_json_lines(_summary_line(answer), stream)
        told()
    else:
        counted = _Counted(answer)
        blocks = _text_blocks(answer, counted, fmt)
        write_blocks(blocks, fmt, stream)
        found = counted.total
        told()
    if not found:
        sys.stderr.write(f"checkforensics: nothing found: {printable(answer.nothing)}\n")
    elif answer.failure:
        sys.stderr.write(f"checkforensics: {printable(answer.failure)}\n")
    from checkforensics.render import print_warnings

    print_warnings(said)
    return 0 if found and not answer.failure else NOTHING_FOUND


def _json_items(section: Section, tally: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """The JSON records of ``section``; ``tally`` counts what they hold (a process and its
    descriptors count as its descriptors: a section that expands counts its inner records)."""
    inner = section.type.expand
    for each in section.items:
        item, context = unwrapped(each, section)
        record = section.type.json(item, section.include, context)
        if tally is not None:
            tally[0] += len(record[inner] or ()) if inner is not None else 1
        yield record


def _write_document(answer: Answer, stream: TextIO, told: Warnings) -> int:
    tally = [0]
    if answer.array:
        for section in answer.sections[:1]:
            print_json_array(_json_items(section, tally), stream)
        told()  # the warnings, on stderr (each record of the array carries its own)
        return tally[0]
    fields: list[tuple[str, Any]] = list(answer.head.items())
    if answer.single:  # the one record is the document
        fields += next((list(record.items()) for s in answer.sections for record in _json_items(s, tally)), [])
    for section in answer.sections if not answer.single else ():
        if section.groups:
            fields += _grouped(section, tally).items()
        else:
            fields.append((section.type.plural, _json_items(section, tally)))
    fields += list(answer.extra.items())
    fields += _summary_fields(answer)
    fields.append(("warnings", told))
    print_json_stream(fields, stream)
    return tally[0]


def _grouped(section: Section, tally: list[int]) -> dict[str, Any]:
    """The records of a section with ``groups``, placed in nested objects by their group fields."""
    keys = section.type.group
    document: dict[str, Any] = {}
    places: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for path in section.groups:
        node = document
        for key in path[:-1]:
            node = node.setdefault(key, {})
        places[path] = node.setdefault(path[-1], [])
    for record in _json_items(section, tally):
        places[tuple(record.pop(key) for key in keys)].append(record)
    return document


def _lines(answer: Answer) -> Iterator[dict[str, Any]]:
    several = answer.several_kinds
    head = dict(answer.line_head)
    for section in answer.sections:
        records = section_lines(section)
        if section.groups:
            order = {path: index for index, path in enumerate(section.groups)}
            keys = section.type.group
            records = iter(sorted(records, key=lambda record: order[tuple(record[key] for key in keys)]))
        for record in records:
            if head:
                record = {**head, **record}
            yield {"record": section.type.name, **record} if several else record


def _summary_line(answer: Answer) -> Iterator[dict[str, Any]]:
    """The JSON Lines record of the answer's summary, if it has one (not counted as found)."""
    summary = answer.summary
    if summary is None:
        return
    for each in summary.items:
        item, context = unwrapped(each, summary)
        record = summary.type.json(item, summary.include, context)
        yield {"record": summary.type.name, **record} if answer.several_kinds else record


def _summary_fields(answer: Answer) -> list[tuple[str, Any]]:
    """The keys of the JSON document the summary's fields give (its context fields aside), each
    read when its turn comes."""
    summary = answer.summary
    if summary is None:
        return []
    items = list(summary.items)[:1]
    if not items:
        return []
    item, context = unwrapped(items[0], summary)
    return [
        (f.name, lambda f=f: f.hint.json(f.value(item, context))) for f in summary.type.fields if not f.context
    ]


class _Counted:
    """The sections' items, counted as they are drawn: a table's rows (a process expanded into
    its descriptors counts as those), a view's items as it reads them."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.total = 0

    def tables(self) -> list[Table]:
        tables = [record_table(section) for section in self.answer.sections]
        self.total += sum(len(table.rows) for table in tables)
        return [table for table in tables if table.rows]

    def items(self) -> list[Iterator[Any]]:
        return [self._counting(section.items) for section in self.answer.sections]

    def _counting(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.total += 1
            yield item.item if isinstance(item, InContext) else item  # a view is given the items themselves


def _text_blocks(answer: Answer, counted: _Counted, fmt: str) -> Iterator[Any]:
    """The blocks of the text formats: the command's view (given each section's items) or the
    records' tables; then ``after``, when something was found."""
    from checkforensics.render import Lines

    view = answer.table if fmt == TABLE else answer.text
    if view is not None:
        blocks = view(*counted.items())
    elif _as_lines(answer, fmt):
        sections = zip(answer.sections, counted.items(), strict=True)
        blocks = [Lines(map(section.type.line, items)) for section, items in sections]  # type: ignore[arg-type]
    else:
        blocks = counted.tables()
    yield from blocks if isinstance(blocks, list | tuple | Iterator) else [blocks]
    if counted.total:
        yield from answer.after


def _as_lines(answer: Answer, fmt: str) -> bool:
    """Whether the records are written a line each (a log), not as a table: in text when their
    types say how, and as a table too when they declare no columns."""
    kinds = [section.type for section in answer.sections]
    return all(kind.line is not None for kind in kinds) and (fmt != TABLE or not any(kind.columns for kind in kinds))


def record_table(section: Section) -> Table:
    """The table of one section's records, as their type declares it."""
    kind = section.type
    rows = [row for each in section.items for row in kind.rows(*unwrapped(each, section))]
    styler = kind if kind.style is not None or kind.inner is None else kind.inner
    return Table(
        kind.headers,
        [cells for cells, _ in rows],
        title=section.title,
        styles=kind.styles,
        row_styles=[styler.row_style(shown) for _, shown in rows],
        foldable=kind.folded,
    )


def write_answers(
    answers: Iterator[Answer],
    fmt: str,
    *,
    warnings: Warnings = list,
    stream: TextIO | None = None,
    export: Export | None = None,
) -> int:
    """Write the answers of several checkpoints as one output: a JSON document (or an
    ``export``: one CSV, one bundle) whose lists hold
    every checkpoint's records one checkpoint after the other (each record naming its
    ``archive``), JSON Lines checkpoint by checkpoint, and in text each checkpoint's tables
    titled with it. ``answers`` are made one checkpoint at a time; an answer of one kind of
    record is written as soon as it comes, several kinds are gathered first for a JSON
    document (it lists every checkpoint's records of one kind, then of the next)."""
    from checkforensics.render import print_warnings, write_blocks

    stream = stream or sys.stdout
    first = next(answers, None)
    if first is None:
        print_warnings(warnings())
        return NOTHING_FOUND
    every: Iterable[Answer] = itertools.chain([first], answers)
    found = 0
    if fmt == JSON or export is not None or (first.together and fmt != JSONL):
        if len(first.sections) > 1:
            every = list(every)
        merged = Answer(
            [Section(s.type, _chained(every, i), s.include, groups=s.groups) for i, s in enumerate(first.sections)],
            nothing=first.nothing, head=first.head, extra=first.extra, array=first.array, single=first.single,
            text=first.text, table=first.table, after=first.after,
        )  # fmt: skip
        return write_answer(merged, fmt, warnings=warnings, stream=stream, export=export)
    several = first.several_kinds
    if fmt == JSONL:
        for answer in every:
            answer.multiple_kinds = several
            found += print_json_lines(_lines(answer), stream)
            print_json_lines(_summary_line(answer), stream)
    else:
        counters: list[_Counted] = []
        write_blocks(_blocks_of_every(every, fmt, counters), fmt, stream)  # a blank line between two
        found = sum(counted.total for counted in counters)
    if not found:
        sys.stderr.write(f"checkforensics: nothing found: {printable(first.nothing)}\n")
    print_warnings(warnings())
    return 0 if found else NOTHING_FOUND


def _blocks_of_every(answers: Iterable[Answer], fmt: str, counters: list[_Counted]) -> Iterator[Any]:
    """The text blocks of each answer in turn, its tables titled with its checkpoint."""
    for answer in answers:
        for section in answer.sections:
            section.title = section.title or section.context.get("archive")
        counters.append(_Counted(answer))
        yield from _text_blocks(answer, counters[-1], fmt)


def _chained(answers: Iterable[Answer], index: int) -> Iterator[Any]:
    """The items of every answer's section ``index``, each with its own answer's context."""
    for answer in answers:
        section = answer.sections[index]
        for item in section.items:
            yield InContext(item, section.context)
