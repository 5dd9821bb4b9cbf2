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
STREAMED = (JSON, JSONL)  # written record by record while the work goes on (no progress bar over them)
TREE = "tree"  # what inspect and diff called their text form once: still accepted, as TEXT


COLOR_CHOICES = ("auto", "always", "never")
_color = "auto"  # how the command line chose (``use_color``)


def use_color(when: str) -> None:
    """Colour from now on: ``always``, ``never``, or ``auto`` (the default): on a terminal,
    unless ``NO_COLOR`` is set and not empty (no-color.org); ``FORCE_COLOR`` set and not empty
    forces it, even into a pipe (force-color.org); ``NO_COLOR`` wins when both are set."""
    global _color
    if when not in COLOR_CHOICES:
        raise ValueError(f"colour {when!r} is not one of {', '.join(COLOR_CHOICES)}")
    _color = when


def color_wanted(stream: TextIO | None = None) -> bool:
    """Whether what is written to ``stream`` (stdout) is coloured: the one place it is decided."""
    if _color != "auto":
        return _color == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream or sys.stdout, "isatty", lambda: False)())


def terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stdout) is a terminal: only a terminal has a width to fit."""
    return bool(getattr(stream or sys.stdout, "isatty", lambda: False)())


def _emit(renderable: object, stream: TextIO | None, width: int | None = None) -> None:
    """Print with rich: in colour where wanted (``width`` cells wide where given, else the
    terminal's), else as plain lines without trailing blanks. Emoji codes (``:x:``) in a
    name stay text."""
    from rich.console import Console

    stream = stream or sys.stdout
    if width is None and not terminal(stream):  # colour forced into a pipe, which has no width
        width = 100_000
    if color_wanted(stream):  # rich would look at the stream and NO_COLOR again: it is told
        console = Console(file=stream, highlight=False, emoji=False, width=width, force_terminal=True, no_color=False)
        console.print(renderable, crop=width is None)
        return
    buffer = io.StringIO()
    Console(file=buffer, no_color=True, highlight=False, width=100_000, color_system=None, emoji=False).print(
        renderable
    )
    stream.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))

