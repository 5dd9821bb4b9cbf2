"""Tables: rich on a colour terminal, fitted to its width (``_column_widths``), plain aligned
columns when piped (a pipe has no width), tabulate's ASCII for ``--format table``; cells never
read as markup."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from checkforensics.records.values import MISSING, cut
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
    if not terminal(stream) and not color_wanted(stream):  # piped: no width to fit, no rich
        stream.write(plain_columns(table))
        return
    from rich.table import Table as RichTable
    from rich.text import Text

    title = Text(printable(table.title)) if table.title else None  # a string would be read as markup
    texts = [[cell(value) for value in row] for row in table.rows]
    room = _terminal_width(stream) if terminal(stream) else None  # a pipe has no width
    widths, gap = _column_widths(table.columns, texts, room, table.foldable)
    rich_table = RichTable(title=title, title_justify="left", show_edge=False, pad_edge=False, box=None,
                           collapse_padding=gap == 1)  # fmt: skip
    cuttable = [column not in table.foldable for column in table.columns]
    texts = [[_fitted(t, w) if c else t for t, w, c in zip(row, widths, cuttable, strict=True)] for row in texts]
    for column, width in zip(table.columns, widths, strict=True):
        header = Text(printable(column))
        style = table.styles.get(column)
        rich_table.add_column(header, style=style, header_style="bold", width=width, overflow="fold")
    for index, row in enumerate(texts):
        style = table.row_styles[index] if index < len(table.row_styles) else None
        rich_table.add_row(*(Text(text) for text in row), style=style)
    _emit(rich_table, stream)


FOLDED_WIDTH = 16
FOLDED_NARROWEST = 8  # where nothing else fits, a column of bytes is folded this narrow first


def _terminal_width(stream: TextIO) -> int:
    from rich.console import Console

    return Console(file=stream).width


def _column_widths(
    columns: Sequence[str], rows: list[list[str]], terminal: int | None, foldable: Sequence[str] = ()
) -> tuple[list[int], int]:
    """Column widths for a terminal ``terminal`` cells wide (None: not a terminal, which has no
    width: each column as wide as its widest cell), and the blanks between two columns. Whatever
    the content, the columns fit the terminal side by side; the layout is never broken:

    - where the cells fit, each column is as wide as its widest cell;
    - else, where the longest words (an address, a path, a name: whatever holds no blank) fit
      side by side, each column is at least as wide as its longest word and the room left goes
      to the columns whose cells are longest, so cells wrap at blanks only;
    - else the widest columns are narrowed first, down to CUT_NARROWEST, and a word longer than
      its column is cut with its length said (``cut``: ``/home/counter/cou…(24 chars)``); where
      that is still too wide, the columns are one blank apart instead of two and every column
      is narrowed alike, what does not fit folded.

    A ``foldable`` column (bytes rather than words: memgrep's CONTEXT) asks for no more than
    FOLDED_WIDTH cells, is folded anywhere, never cut, and is the first narrowed (to
    FOLDED_NARROWEST) where the longest words do not fit."""
    from rich.cells import cell_len

    def lines(index: int) -> list[str]:
        return [line for text in [columns[index], *(row[index] for row in rows)] for line in text.split("\n")]

    def longest_word(index: int) -> int:
        if columns[index] in foldable:
            return FOLDED_WIDTH
        return max((cell_len(word) for line in lines(index) for word in line.split()), default=1)

    words = [longest_word(i) for i in range(len(columns))]
    natural = [max(max((cell_len(line) for line in lines(i)), default=1), words[i]) for i in range(len(columns))]
    room = terminal - 2 * (len(columns) - 1) if terminal is not None else None
    if room is None or sum(natural) <= room:
        return natural, 2
    if sum(words) > room:
        folded = {i for i, column in enumerate(columns) if column in foldable}
        widths = _narrowed(words, room, FOLDED_NARROWEST, folded)  # bytes first: they fold anywhere
        widths = _narrowed(widths, room, CUT_NARROWEST)  # then long words cut, with their length
        if sum(widths) <= room:
            return widths, 2
        room += len(columns) - 1  # columns one blank apart
        return _narrowed(widths, room, 1), 1  # and where even that is too wide, folded
    widths, spare = list(words), room - sum(words)
    wanted = [n - w for n, w in zip(natural, words, strict=True)]
    total = sum(wanted)
    for index, extra in enumerate(wanted):
        widths[index] += extra * spare // total
    for index in sorted(range(len(widths)), key=lambda i: wanted[i] - (widths[i] - words[i]), reverse=True):
        if sum(widths) < room and widths[index] < natural[index]:
            widths[index] += 1  # what integer division left over
    return widths, 2


def _narrowed(widths: list[int], room: int, narrowest: int, among: set[int] | None = None) -> list[int]:
    """``widths`` made to fit ``room`` by narrowing the widest first (of the columns ``among``,
    else of all), none below ``narrowest`` (nor below what it is): the columns above a level are
    brought down to it, the lowest level that is still needed, and the room left over is handed
    back one cell each."""
    among = set(range(len(widths))) if among is None else among
    fixed = sum(width for index, width in enumerate(widths) if index not in among)
    level = max((widths[index] for index in among), default=0)
    while level > narrowest and fixed + sum(min(widths[index], level) for index in among) > room:
        level -= 1
    fitted = [min(width, level) if index in among else width for index, width in enumerate(widths)]
    for index, width in enumerate(widths):
        if sum(fitted) < room and fitted[index] < width:
            fitted[index] += 1
    return fitted


CUT_NARROWEST = 20  # the narrowest column a word is cut in, its length said: "/home/cou…(24 chars)"


def _fitted(text: str, width: int) -> str:
    """A cell's ``text`` for a column ``width`` cells wide: where a word is longer than that and
    the column at least CUT_NARROWEST wide, the word cut with its length (``cut``) and the
    lines wrapped here at blanks, so that the length said is never wrapped apart from its
    word; else the text as it is, wrapped (or folded) as it is drawn."""
    if width < CUT_NARROWEST or all(cell_len(word) <= width for word in text.split()):
        return text
    wrapped: list[str] = []
    for line in text.split("\n"):
        current: str | None = None
        for word in line.split(" "):
            word = cut(word, width) if cell_len(word) > width else word
            if current is None:
                current = word
            elif cell_len(current) + 1 + cell_len(word) <= width:
                current += " " + word
            else:
                wrapped.append(current.rstrip())
                current = word
        wrapped.append(current or "")
    return "\n".join(wrapped)


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

