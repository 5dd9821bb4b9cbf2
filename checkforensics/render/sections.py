"""The items of a declared answer's sections, each with its context: what every writer of
records walks (JSON, JSON Lines, tables, and the exports: CSV, a STIX bundle, a body file).

An answer that chains the sections of several checkpoints holds each item as an ``InContext``:
the item with its own checkpoint's context (``archive``), which ``unwrapped`` hands back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no declaration is imported to write --help
    from checkforensics.records.declare import Section


class InContext:
    """An item with the context of the section it came from (its checkpoint), in a section
    that chains several."""

    __slots__ = ("context", "item")

    def __init__(self, item: Any, context: dict[str, Any]) -> None:
        self.item, self.context = item, context


def unwrapped(item: Any, section: Section) -> tuple[Any, dict[str, Any]]:
    if isinstance(item, InContext):
        return item.item, item.context
    return item, section.context


def section_items(section: Section) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Each item of the section with its context (an item chained in from another checkpoint
    carries its own)."""
    for each in section.items:
        yield unwrapped(each, section)


def section_lines(section: Section) -> Iterator[dict[str, Any]]:
    for each in section.items:
        item, context = unwrapped(each, section)
        yield from section.type.lines(item, section.include, context)
