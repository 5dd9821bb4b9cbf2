"""Showing findings: ``dedupe``, one entry per distinct finding, with a count. How a secret
value is shown (masked or not) is analysis.redaction's to decide.
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
