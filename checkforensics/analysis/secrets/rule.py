"""What a credential rule is: ``Rule`` (a bytes regex with an id, a severity, its value group and
keywords), the ``Finding`` a scan yields, and ``RuleError`` for broken user rules. ``Severity``
is analysis.severity's, shared with triage.

A Rule reads its regex's parse tree once, when it is made, for what the scanner needs to know:
the shortest and longest match, whether every byte of a match is text, how far lookarounds
read, and the literal prefix that serves as a keyword when none is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from re import _constants as sre  # opcode names of the parse tree below
from re import _parser as sre_parse  # stable since 3.11: the only way to measure a regex's widths
from typing import Any

from checkforensics.analysis.severity import Severity
from checkforensics.errors import CheckforensicsError

Validator = Callable[[bytes], bool]
MatchValidator = Callable[[re.Match[bytes]], bool]

# Bytes a "text" match may consist of: printable ASCII and the whitespace \t \n \v \f \r.
TEXT_BYTES = frozenset([*range(0x09, 0x0E), *range(0x20, 0x7F)])
_MAX_RULE_LENGTH = 1 << 20  # a longer possible match would make chunk overlaps absurd


@dataclass(frozen=True)
class _Shape:
    """What a regex can match, read from its parse tree."""

    min_length: int
    max_length: int  # _MAX_RULE_LENGTH + 1 when unbounded or too long
    text_only: bool  # every byte of every match is in TEXT_BYTES
    ahead: int  # bytes a lookaround may read past the end of a match
    behind: int  # and before its start
    literal_prefix: bytes  # bytes every match starts with (case aside)


@dataclass(frozen=True, repr=False)
class Rule:
    """One kind of secret.

    ``regex`` is run over raw bytes; ``group`` is the group holding the secret value (0: the whole
    match).  ``max_length`` bounds the length of a match (computed from the regex when not given).
    ``keywords`` are bytes every match contains (compared ignoring ASCII case when
    ``keywords_ignore_case``); the scanner looks for them first and runs the regex only near
    their hits, so a match without one is missed.  When no keywords are given, the regex's
    literal prefix serves (or, lacking one, the regex is run over the whole buffer).
    ``validate`` rejects a value the regex let through (a placeholder, too little entropy, a JWT
    whose header is not JSON); ``validate_match`` rejects a whole match, for rules whose verdict
    depends on more than the value (``env-secret``: the NAME the value is assigned to).
    """

    id: str
    description: str
    severity: Severity
    regex: re.Pattern[bytes]
    group: int = 0
    max_length: int | None = None
    validate: Validator | None = None
    keywords: tuple[bytes, ...] = ()
    keywords_ignore_case: bool = False
    validate_match: MatchValidator | None = None
    shape: _Shape = field(init=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        shape = _shape(self.regex)
        if shape.max_length > _MAX_RULE_LENGTH:
            raise ValueError(
                f"regex can match more than {_MAX_RULE_LENGTH} bytes (an unbounded + or *?); "
                "bound its repeats, e.g. {1,256}"
            )
        if shape.min_length == 0:
            raise ValueError("regex can match the empty string")
        if not 0 <= self.group <= self.regex.groups:
            raise ValueError(f"group {self.group} does not exist (the regex has {self.regex.groups})")
        if self.max_length is None:
            object.__setattr__(self, "max_length", shape.max_length)
        elif self.max_length < shape.max_length:
            raise ValueError(f"max_length {self.max_length} is shorter than the regex's longest match")
        keywords, ignore_case = tuple(bytes(k) for k in self.keywords), self.keywords_ignore_case
        if any(not k for k in keywords):
            raise ValueError("keywords must not be empty")
        if not keywords and len(shape.literal_prefix) >= 3:
            keywords, ignore_case = (shape.literal_prefix,), bool(self.regex.flags & re.IGNORECASE)
        object.__setattr__(self, "keywords", tuple(k.lower() for k in keywords) if ignore_case else keywords)
        object.__setattr__(self, "keywords_ignore_case", ignore_case)
        severity = Severity.parse(self.severity) if isinstance(self.severity, str) else Severity(self.severity)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "shape", shape)

    def __repr__(self) -> str:
        return f"Rule({self.id!r})"


@dataclass(frozen=True)
class Finding:
    """One secret in a scanned buffer: ``data[start:end] == value`` (the rule's group)."""

    rule: Rule
    start: int
    end: int
    value: bytes


class RuleError(CheckforensicsError):
    """A user rules file that cannot be read or holds a broken rule."""


# ---------------------------------------------------------------------------------------------
# Reading a regex's parse tree: its widths, whether it only matches text, its lookarounds.

_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}
_TEXT_CATEGORIES = {sre.CATEGORY_DIGIT, sre.CATEGORY_SPACE, sre.CATEGORY_WORD}


def _shape(regex: re.Pattern[bytes]) -> _Shape:
    tree = sre_parse.parse(regex.pattern, regex.flags)
    low, high = tree.getwidth()
    facts = {"text": True, "ahead": 0, "behind": 0}
    _walk(tree, facts)
    return _Shape(
        min_length=low,
        max_length=min(high, _MAX_RULE_LENGTH + 1),
        text_only=bool(facts["text"]),
        ahead=int(facts["ahead"]),
        behind=int(facts["behind"]),
        literal_prefix=_literal_prefix(tree),
    )


def _walk(tree: Any, facts: dict[str, int | bool]) -> None:
    for op, av in tree:
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            direction, sub = av
            reach = min(sub.getwidth()[1], _MAX_RULE_LENGTH)
            key = "ahead" if direction == 1 else "behind"
            facts[key] = max(int(facts[key]), reach)
        elif op is sre.AT:
            facts["ahead"] = max(int(facts["ahead"]), 1)
            facts["behind"] = max(int(facts["behind"]), 1)
        elif op is sre.LITERAL:
            facts["text"] = bool(facts["text"]) and av in TEXT_BYTES
        elif op is sre.IN:
            facts["text"] = bool(facts["text"]) and _set_is_text(av)
        elif op is sre.SUBPATTERN:
            _walk(av[3], facts)
        elif op is sre.BRANCH:
            for sub in av[1]:
                _walk(sub, facts)
        elif op in _REPEATS:
            _walk(av[2], facts)
        elif op is sre.ATOMIC_GROUP:
            _walk(av, facts)
        elif op is sre.GROUPREF_EXISTS:
            _walk(av[1], facts)
            if av[2] is not None:
                _walk(av[2], facts)
        elif op is not sre.GROUPREF:  # a backreference repeats bytes already checked
            facts["text"] = False  # ANY, NOT_LITERAL, or something we do not know: assume binary


def _set_is_text(items: list[tuple[Any, Any]]) -> bool:
    for op, av in items:
        if op is sre.LITERAL:
            ok = av in TEXT_BYTES
        elif op is sre.RANGE:
            ok = all(b in TEXT_BYTES for b in range(av[0], av[1] + 1))
        elif op is sre.CATEGORY:
            ok = av in _TEXT_CATEGORIES
        else:  # NEGATE and anything else
            ok = False
        if not ok:
            return False
    return True


def _literal_prefix(tree: Any) -> bytes:
    prefix = bytearray()
    for op, av in tree:
        if op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):
            if prefix:
                break
            continue
        if op is not sre.LITERAL:
            break
        prefix.append(av)
    return bytes(prefix)
