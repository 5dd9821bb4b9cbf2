"""Search patterns: what to look for in memory, and how many bytes one match can span.

A literal knows its length; a regular expression's longest match comes from its parse, capped at
``MAX_MATCH_LENGTH``: a longer match of an unbounded regex (``\\w+``) may be found cut short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_MATCH_LENGTH = 4096  # the longest match of an unbounded regex that is guaranteed whole


@dataclass(frozen=True)
class SearchPattern:
    """What to look for: a compiled bytes regex, and how long its matches can be.

    ``name`` is how output names the pattern (the text the user gave, or a rule id).
    ``max_length``: the most bytes one match spans (with what its lookarounds read); a match
    that long is found whole whatever the chunking. ``literal`` (with
    ``ignore_case``) marks a plain string, searched with a fast substring search instead of the
    regex engine; ``tag`` is the caller's own object (a secrets rule, say), handed back with
    each match.
    """

    name: str
    regex: re.Pattern[bytes]
    max_length: int
    literal: bytes | None = None
    ignore_case: bool = False
    tag: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.regex.pattern, bytes):
            raise ValueError(f"pattern {self.name!r}: a bytes regex is needed, not a str one")
        if self.max_length < 1:
            raise ValueError(f"pattern {self.name!r}: max_length must be at least 1")
        if self.literal is not None and not self.literal:
            raise ValueError("an empty string matches everywhere; give at least one byte")

    @classmethod
    def from_literal(cls, text: bytes, *, ignore_case: bool = False, name: str | None = None) -> SearchPattern:
        """A plain byte string (``-i``: ASCII letters in either case)."""
        if not text:
            raise ValueError("an empty string matches everywhere; give at least one byte")
        flags = re.IGNORECASE if ignore_case else 0
        shown = name if name is not None else text.decode("utf-8", "backslashreplace")
        literal = text.lower() if ignore_case else text
        return cls(shown, re.compile(re.escape(text), flags), len(text), literal, ignore_case)

    @classmethod
    def from_regex(
        cls, source: bytes, *, ignore_case: bool = False, name: str | None = None, max_length: int | None = None
    ) -> SearchPattern:
        """A Python regular expression over bytes; raises ``re.error`` when it does not compile."""
        regex = re.compile(source, re.IGNORECASE if ignore_case else 0)
        shown = name if name is not None else source.decode("utf-8", "backslashreplace")
        return cls(shown, regex, max_length or longest_match(regex), ignore_case=ignore_case)


def longest_match(regex: re.Pattern[bytes]) -> int:
    """The most bytes one match of ``regex`` can span, lookarounds included, capped at MAX_MATCH_LENGTH.

    The cap is also the answer when the regex cannot be measured.
    """
    try:
        from re import _parser  # the parser behind re.compile: exact widths for bounded regexes

        tree = _parser.parse(regex.pattern, regex.flags)
        widest = tree.getwidth()[1] + _lookaround_reach(tree)
    except Exception:  # a private module: if it ever changes, fall back to the cap
        return MAX_MATCH_LENGTH
    return max(1, min(int(widest), MAX_MATCH_LENGTH))


def _lookaround_reach(tree: Any) -> int:
    """An upper bound of the bytes the lookarounds in a parsed regex read outside its match."""
    from re import _constants as op

    reach = 0
    for code, value in tree:
        if code in (op.ASSERT, op.ASSERT_NOT):
            reach += min(value[1].getwidth()[1], MAX_MATCH_LENGTH) + _lookaround_reach(value[1])
        elif code is op.SUBPATTERN:
            reach += _lookaround_reach(value[-1])
        elif code is op.ATOMIC_GROUP:
            reach += _lookaround_reach(value)
        elif code in (op.MAX_REPEAT, op.MIN_REPEAT, op.POSSESSIVE_REPEAT):
            reach += _lookaround_reach(value[2])
        elif code is op.BRANCH:
            reach += max((_lookaround_reach(branch) for branch in value[1]), default=0)
        elif code is op.GROUPREF_EXISTS:
            reach += max(_lookaround_reach(value[1]), _lookaround_reach(value[2]) if value[2] else 0)
    return reach


def escape_bytes(data: bytes) -> str:
    """Printable ASCII kept, every other byte (and ``\\``) as ``\\xNN``: safe on any terminal."""
    return "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in data)
