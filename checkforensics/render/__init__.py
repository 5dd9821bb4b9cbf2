"""Turning results into what people and pipelines read: rich tables and trees, ASCII tables,
JSON and JSON Lines.

A command hands ``render`` a ``Result``: its JSON document, its JSON Lines records and its
text blocks (``Table``, a ``View`` whose text form is a tree, lines of text), each built only
when that format is asked for. This module alone decides how they look. Missing values (None)
print as ``-`` in tables and ``null`` in JSON, never as 0 or an empty string. Everything it
writes, on stdout and stderr, passes one mapping of what the evidence holds (``printable``,
``json_text``): no name from a checkpoint reaches a terminal or a pipe raw.

The package's names are loaded from its modules when first used (``__getattr__`` below), so
that importing one light module — ``escape`` for the error line every command may print —
does not import the tables, trees and JSON writers: ``checkforensics --help`` needs none of
them. Modules below: ``console`` (formats, colour), ``escape`` (the one mapping of evidence
into text and JSON, warnings and error lines), ``jsonout``, ``tables``, ``trees``, ``write``
(a ``Result`` in the format asked for) and ``answers`` (declared records into all of these).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "checkforensics.records.values": ("MISSING", "human_size"),
    "checkforensics.render.console": ("FORMATS", "JSON", "JSONL", "STREAMED", "TABLE", "TEXT", "TREE", "color_wanted"),
    "checkforensics.render.escape": ("json_text", "print_error", "print_warnings", "printable", "tree_text"),
    "checkforensics.render.jsonout": ("print_json", "print_json_array", "print_json_lines", "print_json_stream"),
    "checkforensics.render.tables": ("Table", "cell", "cell_len", "plain_columns", "print_table"),
    "checkforensics.render.trees": ("RICH_TREE_NODES", "Tree", "plain_tree"),
    "checkforensics.render.write": ("Lines", "Result", "View", "render", "write_blocks"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
