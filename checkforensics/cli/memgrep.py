"""``memgrep``: search the memory of every process for strings, regexes and credentials."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
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
from checkforensics.cli.options import (
    checkpoint_argument,
    emit_warnings,
    make_memory_filter,
    memory_filter_options,
    output_options,
    pid_option,
)
from checkforensics.errors import ExitCode
from checkforensics.model import CheckpointModel
from checkforensics.model.regions import MemoryFilter
from checkforensics.model.shared import SharedMemory
from checkforensics.records import match_record, shared_match_record
from checkforensics.render import JSON, Table, print_json, print_json_stream, print_table

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
    rules_file: str | None,
    yara_files: tuple[str, ...],
    redact: bool,
    shared: bool,
    chosen_memory: MemoryFilter,
    warnings: list[str],
) -> list[dict[str, Any]]:
    """The credential rules (and the user's, first, so they win overlaps) over the chosen
    processes and the shared objects that go with them, within the memory filters."""
    from checkforensics.analysis import secrets as secret_rules
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint

    rules = [*(secret_rules.load_rules(rules_file) if rules_file else []), *secret_rules.BUILTIN_RULES]
    yara = None
    if yara_files:
        from checkforensics.analysis.yarascan import YaraRules

        yara = YaraRules(yara_files)
    hits = scan_checkpoint(
        model, rules, pids, memory_filter=chosen_memory, shared=shared, yara=yara, warnings=warnings
    )
    return finding_records(hits, redact=redact)


@click.command()
@checkpoint_argument()
@click.argument("pattern_args", metavar="[PATTERN]...", nargs=-1)
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
@click.option("--secrets", is_flag=True, help="Also run the credential rules (docs/secrets.md); PATTERN optional.")
@click.option("--rules", "rules_file", type=click.Path(exists=True, dir_okay=False), help="More rules (TOML).")
@click.option(
    "--yara",
    "yara_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="YARA rules to run too (repeatable; needs yara-python).",
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
    """Search the memory of every process for strings or regexes (exit 1 when nothing matched).

    Each match comes with its process, virtual address, the mapping it lies in and the bytes
    around it. Matches that cross page or chunk boundaries inside a mapping are found; bytes
    of different mappings, or on both sides of pages that were not dumped, never make one.
    Shared memory (memfds, SysV segments, MAP_SHARED anonymous memory) is dumped once, not per
    process: it is searched once and listed apart, with where each process maps the match.

    \b
    Examples:
      checkforensics memgrep checkpoint.tar RANDOM_1432_KEY
      checkforensics memgrep checkpoint.tar.zst --regex 'ghp_[A-Za-z0-9]{36}' --vma-type heap
      checkforensics memgrep checkpoint.tar -i -e password -e secret --pid 7 --format json
      checkforensics memgrep checkpoint.tar --secrets
    """
    patterns = _patterns([*pattern_args, *more_patterns], regex, ignore_case)
    secrets = secrets or rules_file is not None or bool(yara_files)
    if not patterns and not secrets:
        raise click.UsageError("give a PATTERN to search for (or -e PATTERN), or --secrets")
    chosen_memory = make_memory_filter(perms, kinds, address, file_glob)
    limit = max_count or None
    warnings: list[str] = []
    with CheckpointModel.open(checkpoint) as model:
        model.processes(pids)  # an unknown --pid is an error before any work
        findings = (
            _secret_findings(model, pids, rules_file, yara_files, redact, shared, chosen_memory, warnings)
            if secrets
            else None
        )
        if findings is not None and fmt != JSON:
            _print_findings(findings, fmt, no_color)
        if not patterns:
            if fmt == JSON:
                document: dict[str, Any] = {"findings": findings, "warnings": warnings}
                if with_hash:
                    document["sha256"] = model.archive.sha256()
                print_json(document)
            emit_warnings(warnings)
            return ExitCode.OK if findings else ExitCode.NOTHING_FOUND
        memories = model.memories(pids, warnings)
        objects = shared_objects(model, pids, chosen_memory) if shared else []
        total = searched_bytes(memories, chosen_memory) + searched_bytes(objects)
        with progress.quiet_while_streaming(fmt == JSON), progress.task("searching", total) as advance:
            found = search_memory(
                model,
                memories,
                patterns,
                memory_filter=chosen_memory,
                context=context,
                max_count=None if limit is None else limit + 1,  # one more, to tell when there were more
                progress=advance,
                warnings=warnings,
            )
            matches = at_most(found, limit, warnings)
            in_shared = shared_matches(model, objects, patterns, context, limit, advance, warnings)
            if fmt == JSON:
                count = _stream_json(matches, in_shared, findings, warnings, model if with_hash else None)
            else:
                if findings is not None:
                    click.echo()
                count = _print_matches(matches, in_shared, fmt, no_color)
    emit_warnings(warnings)
    return ExitCode.OK if count or findings else ExitCode.NOTHING_FOUND


def _print_matches(
    matches: Iterator[MemoryMatch], in_shared: Iterator[tuple[SharedMemory, MemoryMatch]], fmt: str, no_color: bool
) -> int:
    rows = [
        [
            match.pid,
            match.comm,
            f"{match.address:#x}",
            match.mapping.describe(),
            escape_bytes(match.data),
            escape_bytes(match.before + match.data + match.after),
        ]
        for match in matches
    ]
    shared_rows = [
        [
            obj.describe(),
            f"{match.address:#x}",
            [f"{pid}:{address:#x}" for pid, _, address in obj.mapped_at(match.address)],
            escape_bytes(match.data),
            escape_bytes(match.before + match.data + match.after),
        ]
        for obj, match in in_shared
    ]
    if rows:
        columns = ["PID", "COMM", "ADDRESS", "VMA", "MATCH", "CONTEXT"]
        print_table(Table(columns, rows, styles={"MATCH": "bold red"}), fmt, no_color=no_color)
    if shared_rows:
        if rows:
            click.echo()
        columns = ["SHARED MEMORY", "OFFSET", "MAPPED AT (PID:ADDRESS)", "MATCH", "CONTEXT"]
        print_table(Table(columns, shared_rows, styles={"MATCH": "bold red"}), fmt, no_color=no_color)
    return len(rows) + len(shared_rows)


def _print_findings(findings: list[dict[str, Any]], fmt: str, no_color: bool) -> None:
    rows = [
        [f["severity"].upper(), f["rule"], f["pid"], f["comm"], f"{f['address']:#x}", f["value"], f["count"]]
        for f in findings
    ]
    styles = {"critical": "bold red", "high": "red", "medium": "yellow"}
    columns = ["SEVERITY", "RULE", "PID", "COMM", "ADDRESS", "VALUE", "COUNT"]
    table = Table(columns, rows, row_styles=[styles.get(f["severity"]) for f in findings])
    print_table(table, fmt, no_color=no_color)


def _stream_json(
    matches: Iterator[MemoryMatch],
    in_shared: Iterator[tuple[SharedMemory, MemoryMatch]],
    findings: list[dict[str, Any]] | None,
    warnings: list[str],
    hashed: CheckpointModel | None,
) -> int:
    """The JSON document, match by match, so that millions of matches are never held at once;
    returns how many matches there were. ``findings`` (with --secrets) come first."""
    fields: list[tuple[str, Any]] = [] if findings is None else [("findings", findings)]
    fields += [
        ("matches", (match_record(match) for match in matches)),
        ("shared_matches", (shared_match_record(obj, match) for obj, match in in_shared)),
        ("warnings", warnings),
    ]
    if hashed is not None:
        fields.append(("sha256", hashed.archive.sha256))
    counts = print_json_stream(fields)
    return counts["matches"] + counts["shared_matches"]
