"""Showing findings: ``dedupe`` (one entry per distinct finding, with a count) and ``redact``
(a value cut to a few leading bytes and its length).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Deduplicated(Generic[T]):
    """The first of a group of equal findings, and how many there were."""

    first: T
    count: int


def finding_key(item: Any) -> Hashable:
    """(pid, rule id, value): ``pid`` is None for items that have none, such as a bare Finding."""
    return getattr(item, "pid", None), item.rule.id, item.value


def dedupe(items: Iterable[T], key: Callable[[T], Hashable] = finding_key) -> list[Deduplicated[T]]:
    """One entry per distinct ``key`` in first-seen order, keeping the first item (its address)."""
    firsts: dict[Hashable, T] = {}
    counts: Counter[Hashable] = Counter()
    for item in items:
        k = key(item)
        firsts.setdefault(k, item)
        counts[k] += 1
    return [Deduplicated(first, counts[k]) for k, first in firsts.items()]


def _printable(value: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in value)


def redact(value: bytes, shown: int = 4) -> str:
    """``ghp_…(40 chars)``: at most ``shown`` leading bytes, fewer for short values, and the length."""
    keep = min(shown, len(value) // 4)
    return f"{_printable(value[:keep])}…({len(value)} chars)"
