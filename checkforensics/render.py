"""Turning results into what people and pipelines read: rich tables and trees, ASCII tables,
JSON and JSON Lines.

A command hands ``render`` a ``Result``: its JSON document, its JSON Lines records and its
text blocks (``Table``, a ``View`` whose text form is a tree, lines of text), each built only
when that format is asked for. This module alone decides how they look. Missing values (None)
print as ``-`` in tables and ``null`` in JSON, never as 0 or an empty string. Everything it
writes, on stdout and stderr, passes one mapping of what the evidence holds (``printable``,
``json_text``): no name from a checkpoint reaches a terminal or a pipe raw.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

# rich and tabulate are imported where they are used: a command whose output is piped prints
# its tables without them, which keeps start-up (most of a small command's time) short.

MISSING = "-"

TEXT = "text"  # for people: aligned tables, or a tree where the answer is one; colour only on a terminal
TABLE = "table"  # plain ASCII tables (tabulate's), never tree glyphs: for tickets and diffs
JSON = "json"  # one document (docs/json.md)
JSONL = "jsonl"  # JSON Lines: one compact record a line
FORMATS = (TEXT, TABLE, JSON, JSONL)
STREAMED = (JSON, JSONL)  # written record by record while the work goes on (no progress bar over them)
TREE = "tree"  # what inspect and diff called their text form once: still accepted, as TEXT


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


# --- evidence on an output (docs/security.md, "Names chosen by the attacker"; docs/json.md) ----
#
# Every name, number and byte of a checkpoint may have been chosen by the attacker, so nothing
# from it is written as it is: text (tables, trees, lines, warnings, errors) goes through
# ``printable``, JSON through ``json_text``. One mapping for both:
#
# - a character that is not printable (``str.isprintable``: the controls C0, DEL and C1, the
#   format characters such as bidi overrides and zero widths, the line and paragraph
#   separators, spaces other than " ", private-use and unassigned code points) is spelled as
#   Python's repr spells it: ``\xNN`` up to U+00FF, ``\uNNNN``, ``\UNNNNNNNN``. In JSON it is
#   the character itself, written as a ``\uNNNN`` escape;
# - a surrogate cannot be written as UTF-8: U+DC80-U+DCFF (a byte that was not UTF-8, as
#   surrogateescape decodes it) becomes the text ``\xNN``, the byte; any other lone surrogate
#   (a JSON file's ``"\ud800"``) the text ``\uNNNN``, in text and JSON alike.
#
# Newlines and tabs are escaped too (``\x0a``, ``\x09``): a name must not start a line of its
# own. Backslashes are kept as they are, so the mapping makes output safe, not reversible.


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, keep: str = "") -> str:
    """``text`` with every character that is not printable spelled as an escape (``\\x1b``,
    ``\\u202e``; undecodable bytes ``\\xff``), but those in ``keep``: a name from the evidence
    can hold an escape sequence, a bidi override or a newline, and must neither drive the
    analyst's terminal nor fake a line of output."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char in keep else _escape(char) for char in text)


_MARKUP_OPEN = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")  # what rich.markup.escape escapes


def tree_text(text: str) -> str:
    """Evidence text for a tree label: escaped as ``printable`` does, and whatever would read as
    rich markup escaped exactly as ``rich.markup.escape`` does it (tests/test_render.py holds the
    two equal), without importing rich."""
    text = printable(text)
    if "[" in text:
        text = _MARKUP_OPEN.sub(lambda found: f"{found[1]}{found[1]}\\{found[2]}", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        text += "\\"
    return text


class Tree:
    """A tree of labels in rich console markup, as the commands draw processes and metadata.
    Building one imports nothing: rich draws it on a colour terminal, ``plain_tree`` everywhere
    else (a pipe, a file, ``--no-color``), so a piped command never imports rich."""

    __slots__ = ("children", "expanded", "label")

    def __init__(self, label: str) -> None:
        self.label = label
        self.children: list[Tree] = []
        self.expanded = True

    def add(self, label: str) -> Tree:
        """A new child labelled ``label``, returned to add to."""
        child = Tree(label)
        self.children.append(child)
        return child


# What json.dumps(ensure_ascii=False) leaves that is not printable ASCII (it escapes C0 itself;
# a raw newline is the layout's).
_NOT_PLAIN_JSON = re.compile("[^\n -~]")


def _json_char(found: re.Match[str]) -> str:
    char = found.group()
    if char.isprintable():
        return char
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # not writable as UTF-8: the text of its escape
        return "\\" + _escape(char)
    if code > 0xFFFF:
        high, low = divmod(code - 0x10000, 0x400)
        return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
    return f"\\u{code:04x}"


def json_text(value: Any, *, indent: int | None = None, compact: bool = False) -> str:
    """``value`` as JSON, the one way every JSON output is written: UTF-8 text, each character
    that is not printable as a ``\\uNNNN`` escape (so a document shown on a terminal cannot
    drive it), lone surrogates as the text ``\\xNN`` (an undecodable byte) or ``\\uNNNN``."""
    separators = (",", ":") if compact else None
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)
    if text.isascii() and "\x7f" not in text:  # the common case, checked at C speed
        return text
    return _NOT_PLAIN_JSON.sub(_json_char, text)


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


def color_wanted(no_color: bool, stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    if no_color or "NO_COLOR" in os.environ:
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _emit(renderable: object, no_color: bool, stream: TextIO | None, width: int | None = None) -> None:
    """Print with rich: straight to a colour terminal (``width`` cells wide where given, else
    the terminal's), else as plain lines without trailing blanks. Emoji codes (``:x:``) in a
    name stay text."""
    from rich.console import Console

    stream = stream or sys.stdout
    if color_wanted(no_color, stream):
        Console(file=stream, highlight=False, emoji=False, width=width).print(renderable, crop=width is None)
        return
    buffer = io.StringIO()
    Console(file=buffer, no_color=True, highlight=False, width=100_000, color_system=None, emoji=False).print(
        renderable
    )
    stream.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))


def _rich_tree(tree: Tree) -> object:
    """``tree`` as a rich Tree, every label through ``printable``: the commands escape what they
    put in labels (``tree_text``), and whatever a label still holds cannot reach the terminal raw."""
    from rich.tree import Tree as RichTree

    root = RichTree(printable(tree.label))
    stack = [(tree, root)]
    while stack:
        node, drawn = stack.pop()
        for child in node.children:
            stack.append((child, drawn.add(printable(child.label))))
    return root


def print_table(table: Table, fmt: str, *, no_color: bool = False, stream: TextIO | None = None) -> None:
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
    if not color_wanted(no_color, stream):
        stream.write(plain_columns(table))
        return
    from rich.table import Table as RichTable
    from rich.text import Text

    title = Text(printable(table.title)) if table.title else None  # a string would be read as markup
    rich_table = RichTable(title=title, title_justify="left", show_edge=False, pad_edge=False, box=None)
    texts = [[cell(value) for value in row] for row in table.rows]
    widths, needed = _column_widths(table.columns, texts, _terminal_width(stream), table.foldable)
    for column, width in zip(table.columns, widths, strict=True):
        header = Text(printable(column))
        style = table.styles.get(column)
        rich_table.add_column(header, style=style, header_style="bold", width=width, overflow="fold")
    for index, row in enumerate(texts):
        style = table.row_styles[index] if index < len(table.row_styles) else None
        rich_table.add_row(*(Text(text) for text in row), style=style)
    _emit(rich_table, no_color, stream, width=needed)


FOLDED_WIDTH = 16


def _terminal_width(stream: TextIO) -> int:
    from rich.console import Console

    return Console(file=stream).width


def _column_widths(
    columns: Sequence[str], rows: list[list[str]], terminal: int, foldable: Sequence[str] = ()
) -> tuple[list[int], int | None]:
    """Column widths for a terminal ``terminal`` cells wide, such that no word (an address, a
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


RICH_TREE_NODES = 5000  # rich takes about 0.2 ms a node: a bigger tree is drawn plain, even on a terminal


def _write_tree(tree: Tree, no_color: bool, stream: TextIO) -> None:
    """``tree`` drawn by rich on a colour terminal; otherwise (and when it has more than
    RICH_TREE_NODES nodes: a pstree may list 100,000 processes) laid out by ``plain_tree``."""
    if color_wanted(no_color, stream) and _tree_size(tree, RICH_TREE_NODES) <= RICH_TREE_NODES:
        _emit(_rich_tree(tree), no_color, stream)
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
    """The lines rich draws for ``tree`` without colour, every label through ``printable``, laid
    out here with a stack: the same guides, no wrapping, no trailing blanks."""
    out = []
    guides: dict[tuple[str, bool], tuple[str, str]] = {}  # siblings share their guide strings
    stack = [(tree, "", "")]  # a node, the guides before its first line, before its others and its children's
    while stack:
        node, first, rest = stack.pop()
        text = _markup_plain(printable(node.label))
        for number, line in enumerate(text.split("\n")):
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


@dataclass
class Lines:
    """Text written line by line as it comes (a hexdump), never held whole. Each item is one
    line, escaped as ``printable`` does (a newline in it too); ``tabs`` keeps tabs as they are
    (the lines of a file shown whole)."""

    lines: Iterable[str]
    tabs: bool = False


@dataclass
class View:
    """A part of the text output that is not a table in ``text`` format (a tree, a sentence):
    ``text`` builds that form, ``table`` what ``--format table`` prints instead (a Table or a
    list of blocks). Only the one asked for is built, so rich is imported only to draw."""

    text: Callable[[], Any]
    table: Callable[[], Any]


def _resolve(value: Any) -> Any:
    """A value given directly, or through a function that makes it when it is needed."""
    return value() if callable(value) else value


@dataclass
class Result:
    """What a command hands ``render``: its answer in each format, each made only when written.

    Every field may be the value or a function returning it.

    - ``json``: the document. A dict is written field by field: a field whose value is an
      iterator is written item by item (millions of matches are never held), a field whose
      value is a function is called when its turn comes. An iterator for the whole document
      is written as an array, item by item.
    - ``jsonl``: the JSON Lines records, one per line (an iterator is written as it comes).
    - ``text``: the blocks for ``text`` and ``table``, in order, a blank line between two: a
      ``Table``; a ``View``; ``Lines``; a string (one line); a ``Tree``; a list
      of blocks; None (nothing). An iterator of blocks is drawn block by block as it comes, so
      the first part shows while the next is still being worked out.
    - ``warnings``: written on stderr after the output, one line each, in every format (JSON
      documents carry them too, where docs/json.md says so). Read only at the end, so work
      done while writing may add to it.
    """

    json: Any = None
    jsonl: Any = ()
    text: Any = ()
    warnings: list[str] = field(default_factory=list)


def render(result: Result, fmt: str, *, no_color: bool = False, stream: TextIO | None = None) -> None:
    """Write ``result`` to ``stream`` (stdout) in ``fmt`` (one of FORMATS; TREE is TEXT), then
    its warnings to stderr."""
    stream = stream or sys.stdout
    if fmt == JSON:
        document = _resolve(result.json)
        if isinstance(document, dict):
            print_json_stream(list(document.items()), stream)
        elif isinstance(document, Iterator):
            print_json_array(document, stream)
        else:
            print_json(document, stream)
    elif fmt == JSONL:
        print_json_lines(_resolve(result.jsonl), stream)
    else:
        _write_blocks(_resolve(result.text), TABLE if fmt == TABLE else TEXT, no_color, stream)
    print_warnings(result.warnings)


def print_warnings(warnings: Iterable[str], prefix: str | None = None, stream: TextIO | None = None) -> None:
    """Each warning as one line on stderr (``prefix``: the checkpoint, when several are read),
    escaped as ``printable`` does: warnings name members and values from the evidence."""
    stream = stream or sys.stderr
    for warning in dict.fromkeys(warnings):  # each once, in order: several parts may report one problem
        stream.write(f"checkforensics: warning: {printable((prefix + ': ' if prefix else '') + warning)}\n")


def print_error(message: str, stream: TextIO | None = None) -> None:
    """The one line of a failure on stderr, escaped as ``printable`` does."""
    (stream or sys.stderr).write(f"checkforensics: error: {printable(message)}\n")


def _write_blocks(blocks: Iterable[Any], fmt: str, no_color: bool, stream: TextIO) -> None:
    first = True
    for block in _flatten(blocks, fmt):
        if not first:
            stream.write("\n")
        first = False
        if isinstance(block, Table):
            print_table(block, fmt, no_color=no_color, stream=stream)
        elif isinstance(block, Lines):
            _write_lines(block.lines, stream, "\t" if block.tabs else "")
        elif isinstance(block, str):
            stream.write(printable(block) + "\n")  # one line: a newline in it is escaped
        elif isinstance(block, Tree):
            _write_tree(block, no_color, stream)
        else:
            raise TypeError(f"cannot write a {type(block).__name__}: not a Table, Lines, str or Tree")


def _flatten(blocks: Iterable[Any], fmt: str) -> Iterator[Any]:
    for block in blocks:
        if isinstance(block, View):
            block = block.table() if fmt == TABLE else block.text()
        if isinstance(block, list | tuple):
            yield from _flatten(block, fmt)
        elif block is not None:
            yield block


def _write_lines(lines: Iterable[str], stream: TextIO, keep: str) -> None:
    batch: list[str] = []
    for line in lines:
        batch.append(printable(line, keep))
        if len(batch) >= 4096:
            stream.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        stream.write("\n".join(batch) + "\n")
