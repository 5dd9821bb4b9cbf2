"""Tables: rich on a colour terminal, plain aligned columns when piped, tabulate's ASCII for
``--format table``; cells never read as markup, words never cut."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from checkforensics.records.values import MISSING
from checkforensics.render.console import TABLE, _emit, color_wanted, terminal
from checkforensics.render.escape import printable


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
    # columns of bytes rather than words (memgrep's CONTEXT): on a narrow terminal they are
    # folded anywhere; every other cell wraps at blanks only, never inside an address or path
    foldable: tuple[str, ...] = ()



def print_table(table: Table, fmt: str, *, stream: TextIO | None = None) -> None:
    """``table`` as a plain ASCII table (``table``), or aligned columns (``text``): coloured by
    rich on a terminal, written directly otherwise (same layout, no styles).

    Cell text is printed as it is: brackets are never taken for rich markup.
    """
    stream = stream or sys.stdout
    if fmt == TABLE:
        from tabulate import tabulate

        if table.title:
            stream.write(printable(table.title) + "\n")
        rows = [[cell(v) for v in row] for row in table.rows]
        headers = [printable(column) for column in table.columns]
        # whitespace kept: a tree drawn as a table indents its names with spaces
        stream.write(tabulate(rows, headers=headers, preserve_whitespace=True) + "\n")
        return
    if not color_wanted(stream):
        stream.write(plain_columns(table))
        return
    from rich.table import Table as RichTable
    from rich.text import Text

    title = Text(printable(table.title)) if table.title else None  # a string would be read as markup
    rich_table = RichTable(title=title, title_justify="left", show_edge=False, pad_edge=False, box=None)
    texts = [[cell(value) for value in row] for row in table.rows]
    room = _terminal_width(stream) if terminal(stream) else None  # a pipe has no width
    widths, needed = _column_widths(table.columns, texts, room, table.foldable)
    for column, width in zip(table.columns, widths, strict=True):
        header = Text(printable(column))
        style = table.styles.get(column)
        rich_table.add_column(header, style=style, header_style="bold", width=width, overflow="fold")
    for index, row in enumerate(texts):
        style = table.row_styles[index] if index < len(table.row_styles) else None
        rich_table.add_row(*(Text(text) for text in row), style=style)
    _emit(rich_table, stream, width=needed)


FOLDED_WIDTH = 16


def _terminal_width(stream: TextIO) -> int:
    from rich.console import Console

    return Console(file=stream).width


def _column_widths(
    columns: Sequence[str], rows: list[list[str]], terminal: int | None, foldable: Sequence[str] = ()
) -> tuple[list[int], int | None]:
    """Column widths for a terminal ``terminal`` cells wide (None: not a terminal, each column
    as wide as its widest cell, drawn at the width they make), such that no word (an address, a
    path, a name: whatever holds no blank) is ever cut: each column is at least as wide as its
    longest word and the room left goes to the columns whose cells are longest, so cells wrap
    at blanks only. Where even the longest words do not fit side by side, the columns are those
    words' widths and the lines run past the terminal (the second value: the width to draw at,
    else None), which folds them whole rather than cut a word inside a cell. A ``foldable``
    column asks for no more than FOLDED_WIDTH cells: its content may be cut anywhere."""
    from rich.cells import cell_len

    def lines(index: int) -> list[str]:
        return [line for text in [columns[index], *(row[index] for row in rows)] for line in text.split("\n")]

    def longest_word(index: int) -> int:
        if columns[index] in foldable:
            return FOLDED_WIDTH
        return max((cell_len(word) for line in lines(index) for word in line.split()), default=1)

    words = [longest_word(i) for i in range(len(columns))]
    natural = [max(max((cell_len(line) for line in lines(i)), default=1), words[i]) for i in range(len(columns))]
    if terminal is None:
        return natural, sum(natural) + 2 * (len(columns) - 1)
    room = terminal - 2 * (len(columns) - 1)
    if sum(natural) <= room:
        return natural, None
    if sum(words) > room:
        return words, sum(words) + 2 * (len(columns) - 1)
    widths, spare = list(words), room - sum(words)
    wanted = [n - w for n, w in zip(natural, words, strict=True)]
    total = sum(wanted)
    for index, extra in enumerate(wanted):
        widths[index] += extra * spare // total
    for index in sorted(range(len(widths)), key=lambda i: wanted[i] - (widths[i] - words[i]), reverse=True):
        if sum(widths) < room and widths[index] < natural[index]:
            widths[index] += 1  # what integer division left over
    return widths, None


def cell_len(text: str) -> int:
    """How many terminal cells ``text`` takes (wide characters count two); ASCII without rich."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len as rich_cell_len

    return rich_cell_len(text)


def plain_columns(table: Table) -> str:
    """The text layout without colour: a header line, then one line per row (more where a cell
    holds several lines), columns two spaces apart and as wide as their widest cell (in
    terminal cells: wide characters count two), no trailing blanks."""
    rows = [[printable(column) for column in table.columns]] + [[cell(value) for value in row] for row in table.rows]
    widths = [0] * len(table.columns)
    for row in rows:
        for index, text in enumerate(row):
            widths[index] = max([widths[index], *(cell_len(line) for line in text.split("\n"))])
    out = [printable(table.title) + "\n"] if table.title else []
    for row in rows:
        cells = [text.split("\n") for text in row]
        for number in range(max(len(lines) for lines in cells)):
            parts = []
            for index, lines in enumerate(cells):
                text = lines[number] if number < len(lines) else ""
                parts.append(text + " " * (widths[index] - cell_len(text)))
            out.append("  ".join(parts).rstrip() + "\n")
    return "".join(out)

