"""YARA rules over dumped memory, where the yara-python package is installed.

The rules are compiled once from the user's files. Memory is handed to YARA one dumped run at
a time (a run never spans two mappings), in windows of WINDOW bytes that overlap by OVERLAP, so
a multi-gigabyte mapping never sits in memory whole; a string match is reported once, at the
address of its first byte, whichever windows saw it. A rule's condition is therefore evaluated
over one window at a time: conditions on ``filesize`` or on strings more than OVERLAP bytes apart
see less than a whole file would show them (documented in docs/secrets.md).

Each string match becomes a finding like a built-in rule's: rule id ``yara:NAME``, severity
from the rule's ``severity`` meta value (low, medium, high, critical; medium when absent),
description from its ``description`` meta value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkforensics.analysis.secrets import Severity
from checkforensics.errors import InputError, UnsupportedError

WINDOW = 16 << 20
OVERLAP = 64 << 10


@dataclass(frozen=True)
class YaraRule:
    """What a finding says about the YARA rule behind it (the fields a built-in Rule has)."""

    id: str
    severity: Severity
    description: str


@dataclass(frozen=True)
class YaraFinding:
    start: int  # offset in the scanned run
    rule: YaraRule
    value: bytes


def available() -> bool:
    try:
        import yara  # noqa: F401
    except ImportError:
        return False
    return True


class YaraRules:
    """Compiled YARA rules from ``paths`` (each file its own namespace)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        try:
            import yara
        except ImportError:
            raise UnsupportedError(
                "YARA rules need the yara-python package (pip install yara-python)", where=str(paths[0])
            ) from None
        self._yara = yara
        try:
            self._rules = yara.compile(filepaths={f"rules{index}": str(path) for index, path in enumerate(paths)})
        except yara.Error as exc:
            raise InputError(f"not valid YARA rules: {exc}", where=str(paths[0])) from None
        self._described: dict[str, YaraRule] = {}

    def _rule(self, match: Any) -> YaraRule:
        described = self._described.get(match.rule)
        if described is None:
            meta = match.meta
            try:
                severity = Severity.parse(str(meta.get("severity", "medium")))
            except ValueError:
                severity = Severity.MEDIUM
            description = str(meta.get("description") or f"YARA rule {match.rule}")
            described = self._described[match.rule] = YaraRule(f"yara:{match.rule}", severity, description)
        return described

    def scan_range(self, read_at: Callable[[int, int], bytes], length: int) -> Iterator[YaraFinding]:
        """Every string match in the ``length`` bytes ``read_at`` reads, by offset, each once."""
        seen: set[tuple[str, int]] = set()
        start = 0
        while start < length:
            data = read_at(start, min(WINDOW, length - start))
            if not data:
                return
            found = []
            for match in self._rules.match(data=data):
                rule = self._rule(match)
                for string in match.strings:
                    for instance in string.instances:
                        key = (rule.id, start + instance.offset)
                        if key not in seen:
                            seen.add(key)
                            found.append(YaraFinding(start + instance.offset, rule, bytes(instance.matched_data)))
            yield from sorted(found, key=lambda finding: finding.start)
            if start + len(data) >= length:
                return
            start += max(len(data) - OVERLAP, 1)
