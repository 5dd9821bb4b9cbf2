"""How each kind of value a record holds looks: in JSON, and in a table cell.

One representation per kind across every command (docs/json.md, "Values"): addresses and sizes
are JSON integers (a table shows ``0x7f3a…`` and ``8.6 MiB``), times RFC 3339 strings in UTC (a
table drops the fraction of a second), severities lower-case names (a table upper-case), a
command line the list of its arguments (a table shell-quotes it: ``shlex.join``), and whatever
is unknown ``null`` in JSON and ``-`` in a table, never ``0`` or ``""``. Long values are whole
in JSON and cut in a table cell with their length said (``-----BEGIN…(1700 chars)``).

This module imports nothing of the package: the renderer and every record declaration use it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

MISSING = "-"
LONG_CELL = 64  # characters of a long value shown in a table cell before it is cut


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


_FRACTION = re.compile(r"(T\d\d:\d\d:\d\d)\.\d+")


def short_time(value: str | None) -> str | None:
    """An RFC 3339 time without its fraction of a second, for tables."""
    return _FRACTION.sub(r"\1", value) if value else value


def quote_command(argv: Sequence[str] | None) -> str | None:
    """A command line as a shell would type it (the one way every command shows one)."""
    return shlex.join(argv) if argv else None


def cut(text: str, limit: int = LONG_CELL) -> str:
    """``text`` whole when it fits ``limit`` characters, else its start and its length:
    ``-----BEGIN RSA…(1700 chars)``, no longer than ``limit`` where it can hold the length and
    one character (``a…(25 chars)``: 12). The whole value is in JSON."""
    if len(text) <= limit:
        return text
    tail = f"…({len(text)} chars)"
    return f"{text[: max(limit - 16, min(8, limit - len(tail)), 1)]}{tail}"


class Hint:
    """How one kind of value is written. ``json`` gives the JSON value (plain types only),
    ``text`` the string of a table cell; None is ``null`` and ``-`` for every hint."""

    json_type: tuple[type, ...] = (str, int, float, bool, list, dict)
    name = "value"

    def json(self, value: Any) -> Any:
        return value

    def text(self, value: Any) -> str:
        if value is None:
            return MISSING
        if isinstance(value, list | tuple):
            return ", ".join(self.text(item) for item in value) if value else MISSING
        return str(value)

    def __repr__(self) -> str:
        return f"<{self.name}>"


class _Integer(Hint):
    name = "integer"
    json_type = (int,)


class _Text(Hint):
    name = "string"
    json_type = (str,)


class _Flag(Hint):
    name = "boolean"
    json_type = (bool,)

    def text(self, value: Any) -> str:
        return MISSING if value is None else ("yes" if value else "no")


class _Address(Hint):
    """A virtual address or an offset in memory: an integer in JSON, hexadecimal in a table."""

    name = "address"
    json_type = (int,)

    def text(self, value: Any) -> str:
        return MISSING if value is None else f"{value:#x}"


class _Size(Hint):
    """A size in bytes: an integer in JSON, ``8.6 MiB`` in a table."""

    name = "size"
    json_type = (int,)

    def text(self, value: Any) -> str:
        return human_size(value)


class _Time(Hint):
    """A point in time: RFC 3339 in UTC in JSON, without the fraction of a second in a table."""

    name = "time"
    json_type = (str,)

    def text(self, value: Any) -> str:
        return MISSING if value is None else str(short_time(value))


class _Severity(Hint):
    """critical, high, medium, low, info: lower-case in JSON, upper-case in a table."""

    name = "severity"
    json_type = (str,)

    def json(self, value: Any) -> Any:
        return None if value is None else str(value).lower()

    def text(self, value: Any) -> str:
        return MISSING if value is None else str(value).upper()


class _CommandLine(Hint):
    """argv: the list of arguments in JSON, shell-quoted in a table."""

    name = "command line"
    json_type = (list,)

    def json(self, value: Any) -> Any:
        return None if value is None else list(value)

    def text(self, value: Any) -> str:
        return quote_command(value) or MISSING


class _Long(Hint):
    """Text that can run to thousands of characters (a key, a PEM block): whole in JSON, cut in a table."""

    name = "long string"
    json_type = (str,)

    def text(self, value: Any) -> str:
        return MISSING if value is None else cut(str(value))


class _List(Hint):
    name = "list"
    json_type = (list,)

    def json(self, value: Any) -> Any:
        return None if value is None else list(value)


class _Object(Hint):
    """A JSON object of its own (evidence, labels): ``key=value, …`` in a table."""

    name = "object"
    json_type = (dict,)

    def text(self, value: Any) -> str:
        if not value:
            return MISSING
        return ", ".join(f"{key}={cut(str(item))}" for key, item in _shown(value))


def _shown(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(key, item) for key, item in value.items() if item not in (None, "", [], {})]


INTEGER = _Integer()
TEXT = _Text()
FLAG = _Flag()
ADDRESS = _Address()
SIZE = _Size()
TIME = _Time()
SEVERITY = _Severity()
COMMAND_LINE = _CommandLine()
LONG = _Long()
LIST = _List()
OBJECT = _Object()
ANY = Hint()

HINTS = (INTEGER, TEXT, FLAG, ADDRESS, SIZE, TIME, SEVERITY, COMMAND_LINE, LONG, LIST, OBJECT, ANY)
