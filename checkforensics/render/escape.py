"""Evidence on an output: the one mapping of what a checkpoint holds into text and JSON
(docs/security.md, "Names chosen by the attacker"; docs/json.md)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

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


def print_warnings(warnings: Iterable[str], prefix: str | None = None, stream: TextIO | None = None) -> None:
    """Each warning as one line on stderr (``prefix``: the checkpoint, when several are read),
    escaped as ``printable`` does: warnings name members and values from the evidence."""
    stream = stream or sys.stderr
    for warning in dict.fromkeys(warnings):  # each once, in order: several parts may report one problem
        stream.write(f"checkforensics: warning: {printable((prefix + ': ' if prefix else '') + warning)}\n")


def print_error(message: str, stream: TextIO | None = None) -> None:
    """The one line of a failure on stderr, escaped as ``printable`` does."""
    (stream or sys.stderr).write(f"checkforensics: error: {printable(message)}\n")
