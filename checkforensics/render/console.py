"""Where output goes: colour only on a terminal that wants it, rich imported only to draw."""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO

TEXT = "text"  # for people: aligned tables, or a tree where the answer is one; colour only on a terminal
TABLE = "table"  # plain ASCII tables (tabulate's), never tree glyphs: for tickets and diffs
JSON = "json"  # one document (docs/json.md)
JSONL = "jsonl"  # JSON Lines: one compact record a line
FORMATS = (TEXT, TABLE, JSON, JSONL)
CSV = "csv"  # comma-separated values: a header of the records' JSON keys, then a row each (render/rows.py)
BODYFILE = "bodyfile"  # The Sleuth Kit's body file, for mactime: a form a record type declares (``forms``)
STREAMED = (JSON, JSONL)  # written record by record while the work goes on (no progress bar over them)
TREE = "tree"  # what inspect and diff called their text form once: still accepted, as TEXT


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

