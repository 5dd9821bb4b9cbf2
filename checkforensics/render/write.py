"""Writing a command's ``Result`` in the format asked for: JSON documents and arrays, JSON Lines,
and the text blocks (tables, trees, lines, sentences) of ``text`` and ``table``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

# rich and tabulate are imported where they are used: a command whose output is piped prints
# its tables without them, which keeps start-up (most of a small command's time) short.
from checkforensics.render.console import JSON, JSONL, TABLE, TEXT
from checkforensics.render.escape import print_warnings, printable
from checkforensics.render.jsonout import print_json, print_json_array, print_json_lines, print_json_stream
from checkforensics.render.tables import Table, print_table
from checkforensics.render.trees import Tree, _write_tree


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


def render(result: Result, fmt: str, *, stream: TextIO | None = None) -> None:
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
        write_blocks(_resolve(result.text), TABLE if fmt == TABLE else TEXT, stream)
    print_warnings(result.warnings)


def write_blocks(blocks: Iterable[Any], fmt: str, stream: TextIO) -> None:
    first = True
    for block in _flatten(blocks, fmt):
        if not first:
            stream.write("\n")
        first = False
        if isinstance(block, Table):
            print_table(block, fmt, stream=stream)
        elif isinstance(block, Lines):
            _write_lines(block.lines, stream, "\t" if block.tabs else "")
        elif isinstance(block, str):
            stream.write(printable(block) + "\n")  # one line: a newline in it is escaped
        elif isinstance(block, Tree):
            _write_tree(block, stream)
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
