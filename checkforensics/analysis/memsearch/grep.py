"""memgrep: one checkpoint searched as planned, for the user's patterns and the secret rules, as
records.

A ``SearchPlan`` is made once from the command line, before any checkpoint is opened; for each
checkpoint it gives the tap its listing pass feeds (``screen``: a compressed archive's pages
images screened for the patterns as they go by, ``model.scan.prescan``) and what the pass must
keep (``reads``: the pages images in a spool, for what a screen cannot serve: the secret rules,
a pattern that reads past its match). ``grep`` answers with the secret rules' findings, then
the matches in the processes' own memory, then those in shared memory objects (each searched
once), the matches streamed as they are found.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from checkforensics import progress
from checkforensics.analysis.memsearch.matches import MATCH, SHARED_MATCH, SharedMatch
from checkforensics.analysis.memsearch.search import search_memory, searched_bytes
from checkforensics.analysis.memsearch.selection import at_most, shared_matches, shared_objects
from checkforensics.model import CheckpointModel
from checkforensics.model.regions import MemoryFilter
from checkforensics.model.scan import MemoryMatch, PagesScreen, SearchPattern
from checkforensics.records.declare import Answer, Field, RecordType, Section
from checkforensics.records.values import TEXT

if TYPE_CHECKING:  # the secret rules are imported when they run: a plain search does not pay for them
    from checkforensics.analysis.secretscan import SecretFinding

DEFAULT_MAX_COUNT = 10_000  # matches per process: keeps output and memory bounded for patterns like "\x00"

ARCHIVE = RecordType(
    "archive",
    "archives",
    (
        Field("archive", TEXT, "the checkpoint searched", context=True),
        Field("sha256", TEXT, "the archive's SHA-256, as verify computes it", get=lambda model: model.sha256()),
    ),
    doc="memgrep --hash: the checkpoint searched and its SHA-256 (a key of the document, the last line of JSON Lines).",
)


class PatternError(ValueError):
    """A pattern that cannot be searched for (a regex that does not compile, an empty string)."""


def compile_patterns(texts: list[str], *, regex: bool, ignore_case: bool) -> tuple[SearchPattern, ...]:
    """The user's patterns, as the bytes they typed (os.fsencode keeps undecodable ones intact)."""
    patterns = []
    for text in texts:
        raw = os.fsencode(text)
        try:
            if regex:
                patterns.append(SearchPattern.from_regex(raw, ignore_case=ignore_case, name=text))
            else:
                patterns.append(SearchPattern.from_literal(raw, ignore_case=ignore_case, name=text))
        except (re.error, ValueError) as exc:
            raise PatternError(f"{text!r}: {exc}") from None
    return tuple(patterns)


@dataclass(frozen=True)
class SearchPlan:
    """What memgrep looks for, and where: ``patterns`` (``context`` bytes around each match, at
    most ``limit`` matches a process), the secret rules (the built-in ones with ``builtin_rules``,
    a TOML ``rules_file``, ``yara_files``), in the processes ``pids`` (every one by default)
    within ``memory_filter``, and with ``shared`` the shared memory objects that go with them."""

    patterns: tuple[SearchPattern, ...] = ()
    context: int = 16
    limit: int | None = DEFAULT_MAX_COUNT
    memory_filter: MemoryFilter = field(default_factory=MemoryFilter)
    pids: tuple[int, ...] = ()
    builtin_rules: bool = False
    rules_file: str | None = None
    yara_files: tuple[str, ...] = ()
    redact: bool = True
    shared: bool = True
    with_hash: bool = False

    @property
    def secrets(self) -> bool:
        """Whether rules are run (built-in, TOML or YARA)."""
        return self.builtin_rules or self.rules_file is not None or bool(self.yara_files)

    def screen(self) -> PagesScreen | None:
        """A fresh tap for a checkpoint's listing pass, when a screen can serve the search: plain
        patterns and no rules (the rules read every byte)."""
        return PagesScreen(list(self.patterns), self.context) if self.patterns and not self.secrets else None

    @property
    def reads(self) -> tuple[str, ...]:
        """What of a checkpoint the search reads (``model.Reads`` names): the pages images,
        unless a screen serves it; the evidence hash with ``with_hash``."""
        screen = self.screen()
        wanted = () if screen is not None and screen.usable else ("memory",)
        return (*wanted, "sha256") if self.with_hash else wanted

    @property
    def nothing(self) -> str:
        if not self.patterns:
            return "no rule matched in memory"
        return "no rule or pattern matched in memory" if self.secrets else "no pattern matched in memory"


def grep(model: CheckpointModel, plan: SearchPlan, screen: PagesScreen | None = None) -> Iterator[Answer]:
    """The answer of ``plan`` over ``model`` (``screen``: the tap it was listed through), yielded
    while its matches are read, as they are written; the progress bar is taken down however
    writing ends (close the generator)."""
    model.processes(plan.pids)  # an unknown --pid is an error before any work
    warnings = list(model.tree.warnings)  # the archive's and the tree's: a listing cut at a limit says so
    sections = [_secret_findings(model, plan)] if plan.secrets else []
    with contextlib.ExitStack() as stack:
        if plan.patterns:
            search = stack.enter_context(_Search(model, plan, screen))
            sections += [Section(MATCH, search.matches()), Section(SHARED_MATCH, search.shared())]
        summary = Section(ARCHIVE, [model], context={"archive": str(model.path)}) if plan.with_hash else None
        yield Answer(
            sections, nothing=plan.nothing, warnings=warnings, multiple_kinds=True, summary=summary,
            about=frozenset(plan.pids) or None,
        )  # fmt: skip


def _secret_findings(model: CheckpointModel, plan: SearchPlan) -> Section:
    """The user's rules (TOML first, so they win overlaps; YARA) and, with ``builtin_rules``, the
    credential rules, over the chosen processes and the shared objects that go with them,
    within the memory filters: their findings."""
    from checkforensics.analysis import secrets as secret_rules
    from checkforensics.analysis.secretscan import SECRET_FINDING, scan_checkpoint, secret_findings

    rules = [
        *(secret_rules.load_rules(plan.rules_file) if plan.rules_file else []),
        *(secret_rules.BUILTIN_RULES if plan.builtin_rules else []),
    ]
    yara = None
    if plan.yara_files:
        from checkforensics.analysis.yarascan import YaraRules

        yara = YaraRules(plan.yara_files)
    hits = scan_checkpoint(model, rules, plan.pids, memory_filter=plan.memory_filter, shared=plan.shared, yara=yara)
    found: list[SecretFinding] = secret_findings(hits, redact=plan.redact)
    return Section(SECRET_FINDING, found)


class _Search:
    """The matches of one search: in the processes' own memory, then in the shared objects;
    two streams read one after the other (JSON writes them as two fields), under one progress
    bar that shows from the first match asked for until the last is found. Used as a context
    manager, which takes the bar down however writing ends."""

    def __init__(self, model: CheckpointModel, plan: SearchPlan, screen: PagesScreen | None) -> None:
        self.model, self.plan, self.screen = model, plan, screen
        self.objects = shared_objects(model, plan.pids, plan.memory_filter) if plan.shared else []
        self.memories = model.memories(plan.pids)
        self._bar = contextlib.ExitStack()
        self._advance: Callable[[int], None] | None = None

    def __enter__(self) -> _Search:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()

    def matches(self) -> Iterator[MemoryMatch]:
        plan = self.plan
        total = searched_bytes(self.memories, plan.memory_filter) + searched_bytes(self.objects)
        self._advance = self._bar.enter_context(progress.task("searching", total))
        found = search_memory(
            self.model,
            self.memories,
            list(plan.patterns),
            memory_filter=plan.memory_filter,
            context=plan.context,
            max_count=None if plan.limit is None else plan.limit + 1,  # one more, to tell when there were more
            progress=self._advance,
            screen=self.screen,
        )
        yield from at_most(self.model, found, plan.limit)

    def shared(self) -> Iterator[SharedMatch]:
        """Read after ``matches``."""
        plan = self.plan
        try:
            for obj, match in shared_matches(
                self.model, self.objects, list(plan.patterns), plan.context, plan.limit, self._advance, self.screen
            ):
                yield SharedMatch(obj, match)
        finally:
            self._bar.close()
