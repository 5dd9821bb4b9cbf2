"""Turning results into what people and pipelines read: rich tables and trees, ASCII tables, JSON.

Commands build a ``Table`` (declared columns, rows of plain values) or a rich ``Tree`` and a
JSON document; this module alone decides how they look.  Missing values (None) print as ``-``
in tables and ``null`` in JSON, never as 0 or an empty string.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.tree import Tree

# rich and tabulate are imported where they are used: a command whose output is piped prints
# its tables without them, which keeps start-up (most of a small command's time) short.

MISSING = "-"

TEXT = "text"  # rich tables and trees; colour only on a terminal
TABLE = "table"  # plain ASCII table, for tickets and diffs
JSON = "json"
TREE = "tree"  # text, where the text form is a tree


def human_size(size: int | None) -> str:
    """``8.6 MiB``, ``3.0 KiB``, ``512 B``; ``-`` when unknown."""
    if size is None:
        return MISSING
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (C0, DEL, C1) as ``\\xNN``: a name from the evidence
    can hold an escape sequence or a newline, and must neither drive the analyst's terminal
    nor fake a row of a table."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def tree_text(text: str) -> str:
    """Evidence text for a rich tree label: control characters escaped, brackets not markup."""
    from rich.markup import escape

    return escape(printable(text))


def cell(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value) if value else MISSING
    return printable(str(value))


@dataclass
class Table:
    """Columns and rows to print.

    ``styles`` maps a column to a rich style; ``row_styles`` gives one style (or None) per row,
    for meaning: deleted files, listening sockets, severities. Styles only show in colour.
    """

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str | None = None
    styles: dict[str, str] = field(default_factory=dict)
    row_styles: list[str | None] = field(default_factory=list)


def color_wanted(no_color: bool, stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    if no_color or "NO_COLOR" in os.environ:
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _emit(renderable: object, no_color: bool, stream: TextIO | None) -> None:
    """Print with rich: straight to a colour terminal, else as plain lines without trailing blanks."""
    from rich.console import Console

    stream = stream or sys.stdout
    if color_wanted(no_color, stream):
        Console(file=stream, highlight=False).print(renderable)
        return
    buffer = io.StringIO()
    Console(file=buffer, no_color=True, highlight=False, width=100_000, color_system=None, emoji=False).print(
        renderable
    )
    stream.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))


def print_table(table: Table, fmt: str, *, no_color: bool = False, stream: TextIO | None = None) -> None:
    """``table`` as a plain ASCII table (``table``), or aligned columns (``text``): coloured by
    rich on a terminal, written directly otherwise (same layout, no styles).

    Cell text is printed as it is: brackets are never taken for rich markup.
    """
    stream = stream or sys.stdout
    if fmt == TABLE:
        from tabulate import tabulate

        if table.title:
            stream.write(table.title + "\n")
        stream.write(tabulate([[cell(v) for v in row] for row in table.rows], headers=list(table.columns)) + "\n")
        return
    if not color_wanted(no_color, stream):
        stream.write(plain_columns(table))
        return
    from rich.table import Table as RichTable
    from rich.text import Text

    rich_table = RichTable(title=table.title, title_justify="left", show_edge=False, pad_edge=False, box=None)
    for column in table.columns:
        rich_table.add_column(column, style=table.styles.get(column), header_style="bold", overflow="fold")
    for index, row in enumerate(table.rows):
        style = table.row_styles[index] if index < len(table.row_styles) else None
        rich_table.add_row(*(Text(cell(value)) for value in row), style=style)
    _emit(rich_table, no_color, stream)


def plain_columns(table: Table) -> str:
    """The text layout without colour: a header line, then one line per row (more where a cell
    holds several lines), columns two spaces apart and as wide as their widest cell (in
    terminal cells: wide characters count two), no trailing blanks."""
    from rich.cells import cell_len

    rows = [list(table.columns)] + [[cell(value) for value in row] for row in table.rows]
    widths = [0] * len(table.columns)
    for row in rows:
        for index, text in enumerate(row):
            widths[index] = max([widths[index], *(cell_len(line) for line in text.split("\n"))])
    out = [table.title + "\n"] if table.title else []
    for row in rows:
        cells = [text.split("\n") for text in row]
        for number in range(max(len(lines) for lines in cells)):
            parts = []
            for index, lines in enumerate(cells):
                text = lines[number] if number < len(lines) else ""
                parts.append(text + " " * (widths[index] - cell_len(text)))
            out.append("  ".join(parts).rstrip() + "\n")
    return "".join(out)


RICH_TREE_NODES = 5000  # rich takes about 0.2 ms a node: a bigger tree is drawn plain, even on a terminal


def print_tree(tree: Tree, *, no_color: bool = False, stream: TextIO | None = None) -> None:
    """``tree`` drawn by rich on a colour terminal; otherwise (and when it has more than
    RICH_TREE_NODES nodes: a pstree may list 100,000 processes) laid out by ``plain_tree``."""
    stream = stream or sys.stdout
    if color_wanted(no_color, stream) and _tree_size(tree, RICH_TREE_NODES) <= RICH_TREE_NODES:
        _emit(tree, no_color, stream)
        return
    stream.write(plain_tree(tree))


def _tree_size(tree: Tree, enough: int) -> int:
    """The number of nodes of ``tree``, counted up to just past ``enough``."""
    count, stack = 0, [tree]
    while stack and count <= enough:
        node = stack.pop()
        count += 1
        stack.extend(node.children)
    return count


_GUIDES = {True: ("└── ", "    "), False: ("├── ", "│   ")}  # rich's, for the last child and the others
_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # line ends str.splitlines knows, besides newlines
_MARKUP_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")  # rich.markup's RE_TAGS


def plain_tree(tree: Tree) -> str:
    """The lines rich draws for ``tree`` without colour (the labels being markup strings), laid
    out here with a stack: the same guides, no wrapping, no trailing blanks."""
    out = []
    guides: dict[tuple[str, bool], tuple[str, str]] = {}  # siblings share their guide strings
    stack = [(tree, "", "")]  # a node, the guides before its first line, before its others and its children's
    while stack:
        node, first, rest = stack.pop()
        for number, line in enumerate(_markup_plain(str(node.label)).split("\n")):
            out.append((first if number == 0 else rest) + line)
        if node.expanded and node.children:
            children = node.children
            last = len(children) - 1
            for index in range(last, -1, -1):
                key = (rest, index == last)
                if key not in guides:
                    fork, guide = _GUIDES[index == last]
                    guides[key] = (rest + fork, rest + guide)
                stack.append((children[index], *guides[key]))
    text = "\n".join(out)
    if _LINE_BREAKS.search(text):  # as _emit splits them: at every line boundary str.splitlines knows
        return "".join(line.rstrip() + "\n" for line in text.splitlines())
    return "".join(line.rstrip() + "\n" for line in out)


def _markup_plain(markup: str) -> str:
    """The text of rich console markup: tags dropped, escaped brackets (``\\[``) kept, as
    ``rich.markup.render(markup).plain`` gives it, at a fraction of the cost."""
    if "[" not in markup:
        return markup
    parts = []
    position = 0
    for match in _MARKUP_TAG.finditer(markup):
        full, escapes, _ = match.groups()
        start, end = match.span()
        if start > position:
            parts.append(markup[position:start].replace("\\[", "["))
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            parts.append("\\" * backslashes)
            if escaped:
                parts.append(full[len(escapes) :])
        position = end
    parts.append(markup[position:].replace("\\[", "["))
    return "".join(parts)


def print_json(document: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    json.dump(document, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


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
        stream.write(("," if index else "") + f"\n  {json.dumps(key)}: ")
        if callable(value):
            value = value()
        if isinstance(value, Iterator):
            counts[key] = 0
            for item in value:
                text = json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n    ")
                stream.write(("[" if not counts[key] else ",") + "\n    " + text)
                counts[key] += 1
            stream.write("\n  ]" if counts[key] else "[]")
        else:
            stream.write(json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  "))
    stream.write("\n}\n" if fields else "}\n")
    return counts


def print_json_lines(records: Iterable[Any], stream: TextIO | None = None) -> int:
    """One compact JSON document per line (JSON Lines); returns how many were written."""
    stream = stream or sys.stdout
    count = 0
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count
