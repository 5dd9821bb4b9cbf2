"""The scanner: which secrets a list of rules finds in a buffer (``scan``) or in a range too large
for memory, read in overlapping chunks (``scan_range``).

``scan`` looks for every rule's keywords in a single pass (inside runs of text only, for rules
that match nothing but text; with hyperscan when it is installed), then runs each rule's regex
only in small windows around its keywords' hits, and keeps the first rule's finding where two
overlap.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any

from checkforensics.analysis.secrets.builtin import BUILTIN_RULES
from checkforensics.analysis.secrets.rule import TEXT_BYTES, Finding, Rule
from checkforensics.errors import UnsupportedError

_MIN_RUN = 8  # rules shorter than this are run over the whole buffer, not over text runs

_TEXT_MASK = bytes(0x74 if b in TEXT_BYTES else 0 for b in range(256))  # text -> b"t", else NUL


_Keyword = tuple[bytes, bool]  # (bytes, ignoring case): lowercase when ignoring case


@dataclass(frozen=True)
class _Search:
    """One pass over a haystack: a find loop for one keyword, or a regex for the keywords that
    share their first byte (so AKIA, ASIA, AIza... cost one pass, not one each)."""

    keywords: tuple[int, ...]  # indexes into _Plan.keywords
    pattern: re.Pattern[bytes] | None
    # for a pattern: per keyword length, which keyword the bytes at a match are (a dict look-up
    # per length, not a comparison per keyword: "=" and 40 next bytes is one group of 40)
    by_length: tuple[tuple[int, dict[bytes, int]], ...] = ()


@dataclass(frozen=True)
class _Plan:
    """A rule list prepared for scanning: which keyword serves which rules, and how to find it."""

    rules: tuple[Rule, ...]
    keywords: tuple[_Keyword, ...]  # every distinct keyword
    users: tuple[tuple[int, ...], ...]  # users[k]: indexes of the rules that keyword k serves
    in_runs: tuple[bool, ...]  # keyword k is only looked for inside runs of text
    searches: tuple[_Search, ...]
    whole: tuple[int, ...]  # rules without keywords: regex over the whole buffer
    min_run: int

    @cached_property
    def hyperscan(self) -> Any:
        import hyperscan

        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=[b"".join(b"\\x%02x" % b for b in keyword) for keyword, _ in self.keywords],
            ids=list(range(len(self.keywords))),
            elements=len(self.keywords),
            flags=[hyperscan.HS_FLAG_CASELESS if nocase else 0 for _, nocase in self.keywords],
        )
        return database


_Hit = tuple[int, int, int]  # (keyword offset, lowest and highest offset a match around it can reach)


@lru_cache(maxsize=16)
def _plan(rules: tuple[Rule, ...]) -> _Plan:
    users: dict[_Keyword, list[int]] = defaultdict(list)
    in_runs: dict[_Keyword, bool] = {}
    whole = []
    runnable = [r.shape.text_only and r.shape.min_length >= _MIN_RUN for r in rules]
    min_run = min((r.shape.min_length for r, ok in zip(rules, runnable, strict=True) if ok), default=_MIN_RUN)
    for index, rule in enumerate(rules):
        if not rule.keywords:
            whole.append(index)
        for keyword in rule.keywords:
            key = (keyword, rule.keywords_ignore_case and keyword.lower() != keyword.upper())
            users[key].append(index)
            in_runs[key] = in_runs.get(key, True) and runnable[index]
    keywords = tuple(users)
    groups: dict[tuple[bool, bool, bytes], list[int]] = defaultdict(list)
    for k, (keyword, nocase) in enumerate(keywords):
        groups[in_runs[keywords[k]], nocase, keyword[:1]].append(k)
    searches = []
    for members in groups.values():
        if len(members) == 1:
            searches.extend(_Search((k,), None) for k in members)
            continue
        prefix = keywords[members[0]][0][:1]
        rests = sorted({keywords[k][0][1:] for k in members}, key=len, reverse=True)
        pattern = re.escape(prefix) + b"(?=" + b"|".join(re.escape(rest) for rest in rests) + b")"
        by_length: dict[int, dict[bytes, int]] = defaultdict(dict)
        for k in members:
            by_length[len(keywords[k][0])][keywords[k][0]] = k
        searches.append(_Search(tuple(members), re.compile(pattern), tuple(sorted(by_length.items()))))
    return _Plan(
        rules=rules,
        keywords=keywords,
        users=tuple(tuple(users[k]) for k in keywords),
        in_runs=tuple(in_runs[k] for k in keywords),
        searches=tuple(searches),
        whole=tuple(whole),
        min_run=min_run,
    )


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def _find_all(haystack: bytes, needle: bytes) -> list[int]:
    found = []
    find = haystack.find
    at = find(needle)
    while at >= 0:
        found.append(at)
        at = find(needle, at + 1)
    return found


def _search(plan: _Plan, search: _Search, haystack: bytes) -> Iterator[tuple[int, int]]:
    """``(keyword index, offset)`` of every occurrence of the search's keywords, overlaps included."""
    if search.pattern is None:
        k = search.keywords[0]
        for at in _find_all(haystack, plan.keywords[k][0]):
            yield k, at
        return
    pattern = search.pattern
    match = pattern.search(haystack)
    while match is not None:
        at = match.start()
        for length, which in search.by_length:
            k = which.get(haystack[at : at + length])
            if k is not None:
                yield k, at
        match = pattern.search(haystack, at + 1)


def _text_runs(data: bytes, start: int, min_run: int) -> list[tuple[int, int]]:
    """``(start, end)`` of every run of at least ``min_run`` text bytes from ``start`` on."""
    mask = data.translate(_TEXT_MASK)
    needle = b"t" * min_run
    runs = []
    at = mask.find(needle, start)
    while at >= 0:
        end = mask.find(b"\0", at + min_run)
        end = len(mask) if end < 0 else end
        runs.append((at, end))
        at = mask.find(needle, end)
    return runs


def _python_hits(plan: _Plan, data: bytes, start: int) -> list[list[_Hit]]:
    """Every keyword occurrence that can lie inside a match, with the bounds a match there has."""
    hits: list[list[_Hit]] = [[] for _ in plan.keywords]
    if any(plan.in_runs):
        # Text rules match only text, so their keywords are looked for in the runs of text alone
        # (on binary memory a small part of the buffer), and a match lies inside its hit's run.
        runs = _text_runs(data, start, plan.min_run)
        joined = b"\0".join(data[a:b] for a, b in runs)
        lowered = joined.lower() if any(nocase for _, nocase in plan.keywords) else joined
        joined_starts = []
        offset = 0
        for a, b in runs:
            joined_starts.append(offset)
            offset += b - a + 1
        for search in plan.searches:
            first = search.keywords[0]  # a search's keywords agree on where and how they are found
            if not plan.in_runs[first]:
                continue
            for k, at in _search(plan, search, lowered if plan.keywords[first][1] else joined):
                run = bisect.bisect_right(joined_starts, at) - 1
                low, high = runs[run]
                hits[k].append((low + at - joined_starts[run], low, high))
    if not all(plan.in_runs):
        whole = data[start:]
        lowered = whole.lower() if any(nocase for _, nocase in plan.keywords) else whole
        for search in plan.searches:
            first = search.keywords[0]
            if plan.in_runs[first]:
                continue
            for k, at in _search(plan, search, lowered if plan.keywords[first][1] else whole):
                hits[k].append((start + at, start, len(data)))
    return hits


def _hyperscan_hits(plan: _Plan, data: bytes, start: int) -> list[list[_Hit]]:
    hits: list[list[_Hit]] = [[] for _ in plan.keywords]
    if not plan.keywords:
        return hits
    lengths = [len(k) for k, _ in plan.keywords]
    size = len(data)

    def on_match(keyword: int, _from: int, to: int, _flags: int, _context: object) -> None:
        at = to - lengths[keyword]
        if at >= start:
            hits[keyword].append((at, start, size))

    plan.hyperscan.scan(data, match_event_handler=on_match)
    return hits


def _regions(hits: list[_Hit], length: int, ahead: int) -> Iterator[tuple[int, int]]:
    """Merged windows where a match holding one of ``hits`` can lie (and its lookaheads read).

    A match holding a keyword at p lies in [p - length, p + length) and inside the bounds of
    the hit (its run of text), so these windows hold every match.  Any superset of the hits
    inside matches gives the same findings.
    """
    windows = sorted((max(low, at - length), min(high, at + length) + ahead) for at, low, high in hits)
    current: list[int] | None = None
    for a, b in windows:
        if current is not None and a <= current[1]:
            current[1] = max(current[1], b)
            continue
        if current is not None:
            yield current[0], current[1]
        current = [a, b]
    if current is not None:
        yield current[0], current[1]


def scan(
    data: bytes,
    rules: Sequence[Rule] = BUILTIN_RULES,
    *,
    start: int = 0,
    stop: int | None = None,
    engine: str = "auto",
) -> Iterator[Finding]:
    """Every secret in ``data`` that a rule finds, in order of offset, offsets relative to ``data``.

    The result equals running each rule's regex with ``finditer`` over the whole buffer from
    ``start`` (keeping matches that start before ``stop``, default the end, and whose value the
    rule validates), except that where the values of two findings overlap only the one whose
    rule comes first in ``rules`` is kept (``BUILTIN_RULES`` is ordered most specific first:
    a Kubernetes token is not also reported as a JWT).  Bytes before ``start`` are only read
    by lookbehinds and bytes from ``stop`` on only complete a match that starts before it, which
    is what ``scan_range`` needs to cut a large range into chunks.

    ``engine``: "python", "hyperscan" (raises UnsupportedError when the hyperscan package is not
    installed) or "auto" (hyperscan when importable).  Both give the same findings.
    """
    yield from _scan(data, _plan(tuple(rules)), start, stop, engine)


def _scan(data: bytes, plan: _Plan, start: int, stop: int | None, engine: str) -> Iterator[Finding]:
    """``scan`` with its plan made already (scan_range makes it once for all its chunks)."""
    data = bytes(data)
    stop = len(data) if stop is None else min(stop, len(data))
    if start >= stop:
        return
    if engine == "auto":
        engine = "hyperscan" if hyperscan_available() else "python"
    if engine == "hyperscan":
        if not hyperscan_available():
            raise UnsupportedError("the hyperscan engine needs the hyperscan package (pip install hyperscan)")
        hits = _hyperscan_hits(plan, data, start)
    elif engine == "python":
        hits = _python_hits(plan, data, start)
    else:
        raise ValueError(f"unknown engine {engine!r}")

    per_rule: list[list[_Hit]] = [[] for _ in plan.rules]
    for k, keyword_hits in enumerate(hits):
        for index in plan.users[k]:
            per_rule[index].extend(keyword_hits)

    candidates: list[tuple[int, int, int, int, bytes]] = []  # (rule index, match start, value start, end, value)
    for index, rule in enumerate(plan.rules):
        if index in plan.whole:
            regions: Iterable[tuple[int, int]] = [(start, len(data))]
        elif per_rule[index]:
            regions = _regions(per_rule[index], rule.max_length or 0, rule.shape.ahead + 1)
        else:
            continue
        for low, high in regions:
            for match in rule.regex.finditer(data, low, high):
                value = match.group(rule.group)
                if not value or (rule.validate is not None and not rule.validate(value)):
                    continue
                if rule.validate_match is not None and not rule.validate_match(match):
                    continue
                candidates.append((index, match.start(), match.start(rule.group), match.end(rule.group), value))

    kept = _first_rule_wins(candidates)
    kept.sort(key=lambda c: (c[2], c[0]))
    for index, match_start, value_start, value_end, value in kept:
        if match_start < stop:
            yield Finding(plan.rules[index], value_start, value_end, value)


def _first_rule_wins(candidates: list[tuple[int, int, int, int, bytes]]) -> list[tuple[int, int, int, int, bytes]]:
    """Drop each candidate whose value overlaps the value of one from an earlier rule."""
    candidates.sort(key=lambda c: (c[0], c[2]))
    starts: list[int] = []
    kept: list[tuple[int, int, int, int, bytes]] = []  # disjoint, sorted by value start
    for candidate in candidates:
        _, _, a, b, _ = candidate
        at = bisect.bisect_right(starts, a)
        if at and kept[at - 1][3] > a:
            continue
        if at < len(kept) and kept[at][2] < b:
            continue
        starts.insert(at, a)
        kept.insert(at, candidate)
    return kept


def margins(rules: Sequence[Rule] = BUILTIN_RULES) -> tuple[int, int]:
    """Bytes of context a chunk needs before its first and after its last offset."""
    before = max((r.shape.behind for r in rules), default=0) + 1
    after = max(((r.max_length or 0) + r.shape.ahead for r in rules), default=0) + 1
    return before, after


DEFAULT_CHUNK = 8 << 20
_PREPARED: dict[int, tuple[Sequence[Rule], _Plan, tuple[int, int]]] = {}


def _prepared(rules: Sequence[Rule]) -> tuple[_Plan, tuple[int, int]]:
    """The plan and margins of a rule list, made once per list object: a memory scan calls
    ``scan_range`` once per region, thousands of times with the same list, and hashing every
    rule each time cost more than scanning small regions."""
    found = _PREPARED.get(id(rules))
    if found is None or found[0] is not rules:
        found = (rules, _plan(tuple(rules)), margins(rules))
        if len(_PREPARED) > 16:
            _PREPARED.clear()
        _PREPARED[id(rules)] = found
    return found[1], found[2]


def scan_range(
    read_at: Callable[[int, int], bytes],
    size: int,
    rules: Sequence[Rule] = BUILTIN_RULES,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    engine: str = "auto",
) -> Iterator[Finding]:
    """``scan`` over ``size`` bytes read in chunks by ``read_at(offset, length)``; offsets from 0.

    Chunks overlap by the longest match a rule can make, so a secret that straddles a chunk
    edge is found once, as if the range had been scanned whole.  Use it per contiguous run of
    memory: a match across two unrelated mappings must not be invented.
    """
    plan, (before, after) = _prepared(rules)
    position = 0
    while position < size:
        low = max(0, position - before)
        high = min(size, position + chunk_size + after)
        data = read_at(low, high - low)
        stop = min(position + chunk_size, size) - low
        for finding in _scan(data, plan, position - low, stop, engine):
            yield replace(finding, start=finding.start + low, end=finding.end + low)
        position += chunk_size
