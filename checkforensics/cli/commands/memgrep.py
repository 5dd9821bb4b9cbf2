"""Search the memory of every process for strings or regexes (exit 1 when nothing matched).

Each match comes with its process, virtual address, the mapping it lies in and the bytes
around it. Matches that cross page or chunk boundaries inside a mapping are found; bytes
of different mappings, or on both sides of pages that were not dumped, never make one.
Shared memory (memfds, SysV segments, MAP_SHARED anonymous memory) is dumped once, not per
process: it is searched once and listed apart, with where each process maps the match.

After the first, an argument naming an existing checkpoint (an archive, a checkpoint
directory, or a directory of them as 'list' finds them) is one more: they are searched
one after the other, each record naming its checkpoint (-e is always a pattern).

\b
Examples:
  checkforensics memgrep checkpoint.tar RANDOM_1432_KEY
  checkforensics memgrep checkpoint.tar.zst --regex 'ghp_[A-Za-z0-9]{36}' --vma-type heap
  checkforensics memgrep checkpoint.tar -i -e password -e secret --pid 7 --format json
  checkforensics memgrep checkpoint.tar --secrets
  checkforensics memgrep checkpoint.tar --yara rules.yar
  checkforensics memgrep /var/lib/kubelet/checkpoints --secrets --format jsonl
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from checkforensics import progress
from checkforensics.analysis.memsearch import (
    MAX_CONTEXT,
    MemoryMatch,
    SearchPattern,
    escape_bytes,
    search_memory,
    searched_bytes,
)
from checkforensics.analysis.memsearch.selection import at_most, shared_matches, shared_objects
from checkforensics.cli.declare import declared
from checkforensics.cli.options import (
    CheckpointRuns,
    checkpoint_argument,
    make_memory_filter,
    memory_filter_options,
    output_options,
    pid_option,
)
from checkforensics.model import CheckpointModel, Reads
from checkforensics.model.regions import MemoryFilter
from checkforensics.model.scan import PagesScreen
from checkforensics.model.shared import SharedMemory
from checkforensics.records.forms import match_record, shared_match_record
from checkforensics.render import STREAMED, Result, Table, render

DEFAULT_MAX_COUNT = 10_000  # matches per process: keeps output and memory bounded for patterns like "\x00"


def _patterns(texts: list[str], regex: bool, ignore_case: bool) -> list[SearchPattern]:
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
            raise click.BadParameter(f"{text!r}: {exc}", param_hint="PATTERN") from None
    return patterns


def _secret_findings(
    model: CheckpointModel,
    pids: tuple[int, ...],
    builtin: bool,
    rules_file: str | None,
    yara_files: tuple[str, ...],
    redact: bool,
    shared: bool,
    chosen_memory: MemoryFilter,
    warnings: list[str],
) -> list[dict[str, Any]]:
    """The user's rules (TOML first, so they win overlaps; YARA) and, with ``builtin``, the
    credential rules, over the chosen processes and the shared objects that go with them,
    within the memory filters."""
    from checkforensics.analysis import secrets as secret_rules
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint

    rules = [
        *(secret_rules.load_rules(rules_file) if rules_file else []),
        *(secret_rules.BUILTIN_RULES if builtin else []),
    ]
    yara = None
    if yara_files:
        from checkforensics.analysis.yarascan import YaraRules

        yara = YaraRules(yara_files)
    hits = scan_checkpoint(
        model, rules, pids, memory_filter=chosen_memory, shared=shared, yara=yara, warnings=warnings
    )
    return finding_records(hits, redact=redact)


@click.command(name="memgrep", help=__doc__)
@checkpoint_argument()
@click.argument("pattern_args", metavar="[CHECKPOINT | PATTERN]...", nargs=-1)
@click.option("-e", "--regexp", "more_patterns", metavar="PATTERN", multiple=True, help="A pattern (repeatable).")
@click.option("--regex", is_flag=True, help="Patterns are Python regular expressions over bytes.")
@click.option("-i", "--ignore-case", is_flag=True, help="ASCII letters match in either case.")
@pid_option()
@click.option(
    "--context",
    type=click.IntRange(0, MAX_CONTEXT),
    default=16,
    show_default=True,
    help="Bytes of context on either side of a match.",
)
@click.option(
    "--max-count",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_COUNT,
    show_default=True,
    help="Stop after this many matches in each process (0: no limit).",
)
@memory_filter_options
@click.option("--secrets", is_flag=True, help="Run the built-in credential rules (docs/secrets.md); PATTERN optional.")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Run your rules (TOML); with --secrets, beside the built-in ones.",
)
@click.option(
    "--yara",
    "yara_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Run YARA rules (repeatable; needs yara-python); with --secrets, beside the built-in ones.",
)
@click.option("--redact/--no-redact", default=True, show_default=True, help="Cut secret values in the output.")
@click.option(
    "--shared/--no-shared",
    default=True,
    show_default=True,
    help="Also search shared memory objects (memfds, SysV segments, shared anonymous memory), once each.",
)
@click.option("--hash", "with_hash", is_flag=True, help="Add the archive's SHA-256 to JSON output (reads it whole).")
@output_options()
def memgrep(
    checkpoint: str,
    pattern_args: tuple[str, ...],
    more_patterns: tuple[str, ...],
    regex: bool,
    ignore_case: bool,
    pids: tuple[int, ...],
    context: int,
    max_count: int,
    perms: str | None,
    kinds: tuple[str, ...],
    address: str | None,
    file_glob: str | None,
    secrets: bool,
    rules_file: str | None,
    yara_files: tuple[str, ...],
    redact: bool,
    shared: bool,
    with_hash: bool,
    fmt: str,
    no_color: bool,
) -> int:
    checkpoints, texts = _checkpoints_and_patterns(checkpoint, pattern_args)
    patterns = _patterns([*texts, *more_patterns], regex, ignore_case)
    builtin = secrets
    secrets = secrets or rules_file is not None or bool(yara_files)
    if not patterns and not secrets:
        raise click.UsageError("give a PATTERN to search for (or -e PATTERN), --secrets, --rules FILE or --yara FILE")
    runs = CheckpointRuns(checkpoints)
    if with_hash and runs.several:
        raise click.UsageError("--hash reads one checkpoint whole; give one checkpoint (or use 'verify')")
    chosen_memory = make_memory_filter(perms, kinds, address, file_glob)
    found = []

    def searches() -> Iterator[_ArchiveSearch]:
        """Each checkpoint's search, its model open while the caller reads it."""
        for path in runs:
            warnings: list[str] = []
            with runs.reading(path), contextlib.ExitStack() as stack:
                # a compressed archive is decompressed once: its listing pass screens the pages
                # images for the patterns as it goes by them (model/scan/prescan), or, for what a
                # screen cannot serve (the secret rules, a pattern reading past its match), keeps
                # them in a spool (archive/spool.py)
                screen = PagesScreen(patterns, context) if patterns and not secrets else None
                reads = Reads.MEMORY if screen is None or not screen.usable else Reads.NOTHING
                reads |= Reads.SHA256 if with_hash else Reads.NOTHING
                model = stack.enter_context(CheckpointModel.open(path, tap=screen, reads=reads))
                model.processes(pids)  # an unknown --pid is an error before any work
                warnings += model.tree.warnings  # the archive's and the tree's: a listing cut at a limit says so
                findings = (
                    _secret_findings(
                        model, pids, builtin, rules_file, yara_files, redact, shared, chosen_memory, warnings
                    )
                    if secrets
                    else None
                )
                search = None
                if patterns:
                    objects = shared_objects(model, pids, chosen_memory) if shared else []
                    search = stack.enter_context(
                        _Search(model, pids, objects, patterns, chosen_memory, context, max_count or None, warnings,
                                screen)
                    )  # fmt: skip
                one = _ArchiveSearch(path, findings, search, model if with_hash else None)
                yield one
                found.append(bool(findings) or (search is not None and search.count > 0))
            runs.warn(path, warnings)

    with progress.quiet_while_streaming(fmt in STREAMED):
        render(_result(searches(), runs), fmt, no_color=no_color)
    return runs.exit_code(any(found))


def _checkpoints_and_patterns(checkpoint: str, arguments: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The checkpoints and the patterns among the arguments: after the first, an argument naming
    a checkpoint that exists (an archive by its name, ``*.tar``, ``*.tar.gz``..., a checkpoint or
    images directory, or a directory holding checkpoints) is one more checkpoint; any other is
    a pattern (``-e`` always gives a pattern)."""
    from checkforensics.archive.layout import checkpoint_paths, has_archive_name

    checkpoints, patterns = [checkpoint], []
    for argument in arguments:
        path = Path(argument)
        # a directory names checkpoints when it is one or holds some, as checkpoint_paths reads it
        if path.is_file():
            is_checkpoint = has_archive_name(path)
        else:
            is_checkpoint = path.is_dir() and bool(checkpoint_paths([argument]))
        (checkpoints if is_checkpoint else patterns).append(argument)
    return tuple(checkpoints), patterns


_KINDS = ("finding", "match", "shared_match")


@dataclass
class _ArchiveSearch:
    """One checkpoint's part of a run: its findings (--secrets) and its search, read in that order
    while its model is open; ``hashed``: the model, when its hash is asked for."""

    path: Path
    findings: list[dict[str, Any]] | None
    search: _Search | None
    hashed: CheckpointModel | None

    def records(self, kinds: tuple[str, ...] = _KINDS) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(kind, record)``: each finding, match and shared match (of ``kinds``), naming the
        checkpoint; the search's two streams are read once each, in this order."""
        archive = str(self.path)
        if "finding" in kinds:
            for finding in self.findings or []:
                yield "finding", {"archive": archive, **finding}
        if self.search is not None and "match" in kinds:
            for match in self.search.matches():
                yield "match", {"archive": archive, **match_record(match)}
        if self.search is not None and "shared_match" in kinds:
            for obj, match in self.search.shared():
                yield "shared_match", {"archive": archive, **shared_match_record(obj, match)}


class _Search:
    """The matches of one search: in the processes' own memory, then in the shared objects;
    two streams read one after the other (JSON writes them as two fields), counted, under one
    progress bar that shows from the first match asked for until the last is found. Used as a
    context manager, which takes the bar down however writing ends."""

    def __init__(
        self,
        model: CheckpointModel,
        pids: tuple[int, ...],
        objects: list[SharedMemory],
        patterns: list[SearchPattern],
        memory_filter: MemoryFilter,
        context: int,
        limit: int | None,
        warnings: list[str],
        screen: PagesScreen | None,
    ) -> None:
        self.model, self.objects, self.patterns, self.screen = model, objects, patterns, screen
        self.memory_filter, self.context, self.limit, self.warnings = memory_filter, context, limit, warnings
        self.memories = model.memories(pids, warnings)
        self.count = 0
        self._bar = contextlib.ExitStack()
        self._advance: Callable[[int], None] | None = None

    def __enter__(self) -> _Search:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()

    def matches(self) -> Iterator[MemoryMatch]:
        total = searched_bytes(self.memories, self.memory_filter) + searched_bytes(self.objects)
        self._advance = self._bar.enter_context(progress.task("searching", total))
        found = search_memory(
            self.model,
            self.memories,
            self.patterns,
            memory_filter=self.memory_filter,
            context=self.context,
            max_count=None if self.limit is None else self.limit + 1,  # one more, to tell when there were more
            progress=self._advance,
            warnings=self.warnings,
            screen=self.screen,
        )
        for match in at_most(found, self.limit, self.warnings):
            self.count += 1
            yield match

    def shared(self) -> Iterator[tuple[SharedMemory, MemoryMatch]]:
        """Read after ``matches``."""
        try:
            for item in shared_matches(
                self.model,
                self.objects,
                self.patterns,
                self.context,
                self.limit,
                self._advance,
                self.warnings,
                self.screen,
            ):
                self.count += 1
                yield item
        finally:
            self._bar.close()


_FIELDS = {"finding": "findings", "match": "matches", "shared_match": "shared_matches"}


def _result(searches: Iterator[_ArchiveSearch], runs: CheckpointRuns) -> Result:
    """The findings (with --secrets) first, then the matches, then the shared matches, each
    naming its checkpoint. JSON Lines are written record by record, checkpoint after checkpoint;
    the JSON document of one checkpoint field by field, match by match, so that millions of
    matches are never held (of several, each checkpoint's records are gathered as it is read,
    so that the document keeps its three fields: JSON Lines stream them)."""

    def document() -> dict[str, Any]:
        if runs.several:
            fields: dict[str, Any] = {"findings": [], "matches": [], "shared_matches": []}
            for one in searches:
                for kind, record in one.records():
                    fields[_FIELDS[kind]].append(record)
            fields["warnings"] = runs.warnings
            return fields
        one = next(searches, None)
        if one is None:  # it could not be read (the error was raised)
            return {"warnings": runs.warnings}
        fields = {} if one.findings is None else {"findings": [record for _, record in one.records(("finding",))]}
        if one.search is not None:
            fields["matches"] = (record for _, record in one.records(("match",)))
            fields["shared_matches"] = (record for _, record in one.records(("shared_match",)))
        hashed: list[str] = []
        fields["warnings"] = _after(one, searches, runs.warnings, hashed)
        if one.hashed is not None:
            fields["sha256"] = lambda: hashed[0]
        return fields

    def lines() -> Iterator[dict[str, Any]]:
        for one in searches:
            for kind, record in one.records():
                yield {"record": kind, **record}
            if one.hashed is not None:
                yield {"record": "archive", "archive": str(one.path), "sha256": one.hashed.archive.sha256()}

    def blocks() -> Iterator[Table]:
        for one in searches:
            title = str(one.path) if runs.several else None
            tables = []
            if one.findings is not None:
                tables.append(_findings_table(one.findings))  # shown while the search runs
            if one.search is not None:
                tables += _match_tables(one.search)
            for table in tables:
                table.title, title = title, None
                yield table

    return Result(json=document, jsonl=lines, text=blocks, warnings=runs.warnings)


def _after(
    one: _ArchiveSearch, searches: Iterator[_ArchiveSearch], warnings: list[str], hashed: list[str]
) -> Callable[[], list[str]]:
    """The warnings, once the one checkpoint's search is over and its model closed (its hash,
    when asked for, read into ``hashed`` before that)."""

    def told() -> list[str]:
        if one.hashed is not None:
            hashed.append(one.hashed.archive.sha256())
        for _ in searches:  # there is no other: this ends the generator, which closes the model
            pass
        return warnings

    return told


def _match_tables(search: _Search) -> list[Table]:
    rows = [
        [
            match.pid,
            match.comm,
            f"{match.address:#x}",
            match.mapping.describe(),
            escape_bytes(match.data),
            escape_bytes(match.before + match.data + match.after),
        ]
        for match in search.matches()
    ]
    shared_rows = [
        [
            obj.describe(),
            f"{match.address:#x}",
            [f"{pid}:{address:#x}" for pid, _, address in obj.mapped_at(match.address, len(match.data))],
            escape_bytes(match.data),
            escape_bytes(match.before + match.data + match.after),
        ]
        for obj, match in search.shared()
    ]
    tables = []
    if rows:
        columns = ["PID", "COMM", "ADDRESS", "VMA", "MATCH", "CONTEXT"]
        tables.append(Table(columns, rows, styles={"MATCH": "bold red"}, foldable=("CONTEXT",)))
    if shared_rows:
        columns = ["SHARED MEMORY", "OFFSET", "MAPPED AT (PID:ADDRESS)", "MATCH", "CONTEXT"]
        tables.append(Table(columns, shared_rows, styles={"MATCH": "bold red"}, foldable=("CONTEXT",)))
    return tables


def _findings_table(findings: list[dict[str, Any]]) -> Table:
    rows = [
        [f["severity"].upper(), f["rule"], f["pid"], f["comm"], f"{f['address']:#x}", f["value"], f["count"]]
        for f in findings
    ]
    styles = {"critical": "bold red", "high": "red", "medium": "yellow"}
    columns = ["SEVERITY", "RULE", "PID", "COMM", "ADDRESS", "VALUE", "COUNT"]
    return Table(columns, rows, row_styles=[styles.get(f["severity"]) for f in findings])


declared(memgrep, reads=("memory",), takes="checkpoints", samples=[("--secrets", "-e", "marker"), ("RANDOM_1432_KEY",)])
