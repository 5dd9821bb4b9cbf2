"""Record types: each kind of thing a command reports, declared once with typed fields.

A ``RecordType`` names its fields (the JSON keys, in order, each with a ``Hint`` saying how its
value looks) and the columns of its table (a field, or a value of its own for the table only).
The renderer derives every output from the declaration: the JSON document and JSON Lines, the
text and ASCII tables, the HTML report; ``docs/json.md``'s reference of records is generated
from the declarations and a test holds the two equal (``scripts/json-reference.py``).

An analysis yields its own objects (a ``Process``, a malfind ``Suspect``) or plain dicts; a
field reads its value from one by ``get``, else by its name (an attribute, or a key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checkforensics.records.values import ANY, SEVERITY, Hint

Getter = Callable[[Any], Any]


def _read(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name)


@dataclass(eq=False)  # compared by identity; plain (not frozen) classes are made ~3x faster at start-up
class Field:
    """One key of a record's JSON form.

    - ``get`` reads the value from the analysis's object (default: the attribute or key of the
      field's name).
    - ``optional``: written only when the command is asked for it (``ps --env``'s ``env``).
    - ``sometimes``: written only where it applies (its value is not None): the kind-specific
      keys of a descriptor.
    - ``spread``: the value is an object whose keys are written into the record itself.
    - ``record``: the value is a list of records of that type (a process's descriptors).
    - ``context``: the value is not the item's but the answer's: the ``archive`` a record comes
      from when a command reads several checkpoints (as dissect.target's records carry their target).
    - ``doc``: what docs/json.md says of the field."""

    name: str
    hint: Hint = ANY
    doc: str = ""
    get: Getter | None = None
    optional: bool = False
    sometimes: bool = False
    spread: bool = False
    record: RecordType | None = None
    context: bool = False

    def value(self, item: Any, context: Mapping[str, Any] | None = None) -> Any:
        if self.context:
            return (context or {}).get(self.name)
        return self.get(item) if self.get is not None else _read(item, self.name)


@dataclass(eq=False)  # compared by identity; plain (not frozen) classes are made ~3x faster at start-up
class Column:
    """One column of a record's table: the value of ``field`` shown as its hint says, or a value
    of the table's own (``get``, shown by ``hint``). ``fold``: a column of bytes rather than
    words (memgrep's context), which a narrow terminal may cut anywhere. ``style``: the rich
    style of its cells (memgrep's MATCH in bold red), on a terminal only."""

    header: str
    field: str | None = None
    get: Getter | None = None
    hint: Hint | None = None
    fold: bool = False
    style: str | None = None


ColumnSpec = str | Column  # a field's name (its header is the name in capitals) or a Column


@dataclass(eq=False)  # compared by identity; plain (not frozen) classes are made ~3x faster at start-up
class RecordType:
    """A kind of record: ``name`` (``process``; the ``record`` key of JSON Lines where a
    command prints several kinds), ``plural`` (its key in the JSON document: ``processes``),
    its fields and its table's columns. ``style`` gives a row's rich style from its item
    (colour only on a terminal); by default a record with a ``severity`` column is coloured
    by it."""

    name: str
    plural: str
    fields: tuple[Field, ...]
    columns: tuple[ColumnSpec, ...] = ()
    doc: str = ""
    style: Getter | None = None
    expand: str | None = None  # a field of records: JSON Lines and tables have a line per inner record
    line: Getter | None = None  # text form: one line per record (a log) instead of a table
    group: tuple[str, ...] = ()  # fields placing a record in a JSON document (``Section.groups``)
    forms: Mapping[str, Getter] = field(default_factory=dict)
    """Formats of the type's own, by name: a function giving the one line an item is in that
    format (``bodyfile``: The Sleuth Kit's body file), offered by a command that declares the
    format (``@command(formats=...)``) and written by the renderer as any other."""
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"record {self.name}: a field is declared twice")
        inner = self._inner_type(by_name)
        known = {*by_name, *(inner._by_name if inner is not None else ())}
        for spec in self.columns:
            wanted = spec if isinstance(spec, str) else spec.field
            if wanted is not None and wanted not in known:
                raise ValueError(f"record {self.name}: column of unknown field {wanted!r}")
        object.__setattr__(self, "_by_name", by_name)

    def _inner_type(self, by_name: dict[str, Field]) -> RecordType | None:
        if self.expand is None:
            return None
        inner = by_name.get(self.expand)
        if inner is None or inner.record is None:
            raise ValueError(f"record {self.name}: expands {self.expand!r}, which is not a field of records")
        return inner.record

    def field(self, name: str) -> Field:
        return self._by_name[name]

    def json(self, item: Any, include: Iterable[str] = (), context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The JSON form of ``item``: its fields in declaration order, the optional ones only when
        named in ``include``, those that apply ``sometimes`` only where set; ``context``: the
        values of context fields (``archive``)."""
        asked = include if isinstance(include, frozenset | set) else frozenset(include)
        record: dict[str, Any] = {}
        for f in self.fields:
            if f.optional and f.name not in asked:
                continue
            value = f.value(item, context)
            if f.spread:
                record.update(value or {})
            elif f.record is not None:
                record[f.name] = None if value is None else [f.record.json(inner, asked) for inner in value]
            elif not (f.sometimes and value is None):
                record[f.name] = f.hint.json(value)
        return record

    def lines(
        self, item: Any, include: Iterable[str] = (), context: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The JSON Lines records of ``item``: itself, or with ``expand`` one per inner record,
        each with the outer record's other keys first."""
        record = self.json(item, include, context)
        if self.expand is None:
            return [record]
        inner = record.pop(self.expand) or []
        return [{**record, **each} for each in inner]

    @property
    def headers(self) -> list[str]:
        return [spec.upper() if isinstance(spec, str) else spec.header for spec in self.columns]

    @property
    def folded(self) -> tuple[str, ...]:
        return tuple(spec.header for spec in self.columns if isinstance(spec, Column) and spec.fold)

    @property
    def styles(self) -> dict[str, str]:
        """The style of each column that has one, by header."""
        return {spec.header: spec.style for spec in self.columns if isinstance(spec, Column) and spec.style}

    def rows(self, item: Any, context: Mapping[str, Any] | None = None) -> list[tuple[list[str], Any]]:
        """The table rows of ``item`` (one per inner record with ``expand``), each with the
        object it shows (for its style)."""
        if self.expand is None:
            return [(self._cells(item, None, None, context), item)]
        inner_type = self._by_name[self.expand].record
        inner = self._by_name[self.expand].value(item) or ()
        return [(self._cells(each, item, inner_type, context), each) for each in inner]

    def row(self, item: Any, context: Mapping[str, Any] | None = None) -> list[str]:
        """The table cells of ``item`` (a record type that does not expand)."""
        return self._cells(item, None, None, context)

    def _cells(
        self, item: Any, outer: Any, inner_type: RecordType | None = None, context: Mapping[str, Any] | None = None
    ) -> list[str]:
        cells = []
        for spec in self.columns:
            if isinstance(spec, str):
                spec = Column(spec.upper(), field=spec)
            if spec.field is not None:
                if inner_type is not None and spec.field in inner_type._by_name:
                    declared, source = inner_type._by_name[spec.field], item
                else:
                    declared, source = self._by_name[spec.field], (outer if outer is not None else item)
                value = spec.get(item) if spec.get is not None else declared.value(source, context)
                hint = spec.hint or declared.hint
            else:
                value, hint = (spec.get(item) if spec.get is not None else None), spec.hint or ANY
            cells.append(hint.text(value))
        return cells

    def row_style(self, item: Any) -> str | None:
        if self.style is not None:
            return self.style(item)
        for f in self.fields:
            if f.hint is SEVERITY:
                value = f.value(item)
                return SEVERITY_STYLES.get(str(value).upper()) if value is not None else None
        return None

    @property
    def inner(self) -> RecordType | None:
        """The type of the records ``expand`` names (None when it expands none)."""
        return self._by_name[self.expand].record if self.expand is not None else None


SEVERITY_STYLES = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan", "INFO": "dim"}


@dataclass(eq=False)
class Section:
    """The records of one type a command answers with: ``items`` may be a list or an iterator
    (written as it comes); ``include``: the optional fields asked for; ``title``: a table's
    title in text (which checkpoint, with several); ``context``: the values of the records'
    context fields (``archive``), which the command sets."""

    type: RecordType
    items: Iterable[Any]
    include: frozenset[str] = frozenset()
    title: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    groups: tuple[tuple[str, ...], ...] = ()
    """Where the records go in a JSON document, when not in one list under the type's plural:
    each group a path of keys, by the values of the type's ``group`` fields (``("processes",
    "added")``: ``{"processes": {"added": [...]}}``), every group present even when empty, in
    this order, and those fields left out of the records there. JSON Lines write the records
    group by group, in the same order, fields kept. Text keeps the order of ``items``."""


@dataclass(eq=False)
class Answer:
    """What an analysis answers a command with, for the renderer to write in any format.

    - ``sections``: the records, by type, in the order the JSON document lists them.
    - ``nothing``: what was looked for, said when no section has a record
      (``checkforensics: nothing found: no memory looks like injected or hidden code``); the
      command then ends with exit code 1 (NOTHING_FOUND, docs/exit-codes.md).
    - ``head``, ``extra``: keys of the JSON document besides the records, before them (``archive``,
      ``member``) and after them (``output``); a value may be a function, called when written.
    - ``warnings``: what the analysis could not read, for the answer's warnings (besides the
      model's diagnostics).
    - ``array``: the JSON document is the one section's records as an array (``show``,
      ``inspect``: checkpointctl's shape), not an object.
    - ``text`` / ``table``: text blocks for ``--format text`` / ``--format table`` instead of the
      records' tables (a tree, a hexdump): functions of each section's items (one argument a
      section), called only for that format.
    - ``after``: text blocks written after the tables in text and table formats (a note of what was written).
    - ``single``: the JSON document is the one record itself, its keys then ``warnings``
      (``verify``, ``report``: one object), not ``{PLURAL: [...]}``.
    - ``failure``: the records were found and show the evidence failing a check (``verify``: the
      hash does not match): said on stderr after the output, ``checkforensics: FAILURE``, and the
      command ends with exit code 1.
    - ``about``: the processes the answer is about (``--pid``): what the model could not read
      of other processes is not told (None: every process).
    - ``together``: with several checkpoints, text and table draw every checkpoint's records at
      once (``show``: one table, a FILE column naming each), not each checkpoint's apart.
    - ``summary``: one record about the answer as a whole (``memgrep --hash``: the archive and
      its SHA-256), never counted as found and never a table: in JSON its fields (context
      fields aside) are keys of the document after ``extra``, in JSON Lines its line is the last.
    - ``line_head``: keys every JSON Lines record starts with, where the document says them
      once in ``head`` (the process a memory dump is of).
    """

    sections: list[Section]
    nothing: str = "no records"
    head: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    array: bool = False
    single: bool = False
    text: Callable[..., Any] | None = None
    table: Callable[..., Any] | None = None
    after: Sequence[Any] = ()
    multiple_kinds: bool | None = None
    warnings: list[str] = field(default_factory=list)
    failure: str | None = None
    together: bool = False
    about: frozenset[int] | None = None
    summary: Section | None = None
    line_head: Mapping[str, Any] = field(default_factory=dict)

    @property
    def several_kinds(self) -> bool:
        """Whether JSON Lines says the kind of each line (``"record": "match"``)."""
        if self.multiple_kinds is not None:
            return self.multiple_kinds
        return len({section.type.name for section in self.sections}) > 1
