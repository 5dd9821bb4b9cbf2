"""Search the memory of every process for strings or regexes (exit 1 when nothing matched).

Each match comes with its process, virtual address, the mapping it lies in and the bytes
around it. Matches that cross page or chunk boundaries inside a mapping are found; bytes
of different mappings, or on both sides of pages that were not dumped, never make one.
Shared memory (memfds, SysV segments, MAP_SHARED anonymous memory) is dumped once, not per
process: it is searched once and listed apart, with where each process maps the match.

After the first, an argument naming an existing checkpoint (an archive, a checkpoint
directory, or a directory of them as 'list' finds them) is one more: they are searched
one after the other, each record naming its checkpoint (-e is always a pattern). grep's
order, PATTERN CHECKPOINT, is taken too where the first argument names no checkpoint
that exists and a later one does (a warning says what was searched for, where).

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

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from checkforensics.analysis.memsearch.grep import DEFAULT_MAX_COUNT
from checkforensics.cli.declare import command
from checkforensics.cli.options import memory_filter_options, pid_option
from checkforensics.model.scan import MAX_CONTEXT

if TYPE_CHECKING:
    from checkforensics.analysis.memsearch.grep import SearchPlan
    from checkforensics.model import CheckpointModel
    from checkforensics.model.scan import PagesScreen
    from checkforensics.records.declare import Answer


def _plan(
    checkpoints: tuple[str, ...], more_patterns: tuple[str, ...], regex: bool, ignore_case: bool, pids: tuple[int, ...],
    context: int, max_count: int, perms: str | None, kinds: tuple[str, ...], address: str | None,
    file_glob: str | None, secrets: bool, rules_file: str | None, yara_files: tuple[str, ...], redact: bool,
    shared: bool, with_hash: bool,
) -> dict[str, Any]:  # fmt: skip
    """The checkpoints among the arguments, and the search to run in each, before any is read."""
    from checkforensics.analysis.memsearch.grep import PatternError, SearchPlan, compile_patterns
    from checkforensics.cli.options import CheckpointRuns, make_memory_filter

    found, texts = _checkpoints_and_patterns(checkpoints)
    if texts and checkpoints[0] == texts[0]:  # grep's order: what was taken for what, said
        from checkforensics.render import print_warnings

        print_warnings([f"searching {_listed(found)} for {_listed(tuple(texts))} (the argument naming a "
                        "checkpoint is the checkpoint, as in grep PATTERN FILE)"])  # fmt: skip
    try:
        patterns = compile_patterns([*texts, *more_patterns], regex=regex, ignore_case=ignore_case)
    except PatternError as exc:
        raise click.BadParameter(str(exc), param_hint="PATTERN") from None
    plan = SearchPlan(
        patterns, context, max_count or None, make_memory_filter(perms, kinds, address, file_glob), pids,
        secrets, rules_file, yara_files, redact, shared, with_hash,
    )  # fmt: skip
    if not patterns and not plan.secrets:
        taken = ""
        if len(found) == 2:  # the words after the first were taken for checkpoints: say so
            taken = (f"; {found[1]!r} was taken as a checkpoint ({_what(found[1])}): to search for that "
                     f"word, give -e {found[1]!r}")  # fmt: skip
        elif len(found) > 2:
            taken = (f"; {_listed(found[1:])} were taken as checkpoints ({', '.join(map(_what, found[1:]))}): "
                     "to search for one of those words, give it with -e")  # fmt: skip
        raise click.UsageError(
            f"give a PATTERN to search for (or -e PATTERN), --secrets, --rules FILE or --yara FILE{taken}"
        )
    if with_hash and CheckpointRuns(found).several:
        raise click.UsageError("--hash reads one checkpoint whole; give one checkpoint (or use 'verify')")
    return {"checkpoints": found, "plan": plan}


def _checkpoints_and_patterns(arguments: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The checkpoints and the patterns among the arguments. The first is the checkpoint, and
    after it an argument naming a checkpoint that exists (an archive by its name, ``*.tar``,
    ``*.tar.gz``..., a checkpoint or images directory, or a directory holding checkpoints) is
    one more; any other is a pattern (``-e`` always gives a pattern). In grep's order (``PATTERN
    CHECKPOINT``), where the first names no checkpoint that exists and a later one does, the
    arguments before that one are patterns."""
    named = [_names_checkpoint(argument) for argument in arguments]
    first = named.index(True) if not named[0] and any(named) else 0
    rest = range(first + 1, len(arguments))
    checkpoints = [arguments[first], *(arguments[i] for i in rest if named[i])]
    patterns = [*arguments[:first], *(arguments[i] for i in rest if not named[i])]
    return tuple(checkpoints), patterns


def _names_checkpoint(argument: str) -> bool:
    """Whether ``argument`` names a checkpoint that exists, as ``checkpoint_paths`` reads it."""
    from checkforensics.archive.layout import checkpoint_paths, has_archive_name

    path = Path(argument)
    if path.is_file():
        return has_archive_name(path)
    return path.is_dir() and bool(checkpoint_paths([argument]))


def _what(argument: str) -> str:
    """What kind of checkpoint ``argument`` was taken for, in a few words."""
    from checkforensics.archive.layout import directory_has_images

    path = Path(argument)
    if path.is_file():
        return "an archive that exists"
    return "a checkpoint directory" if directory_has_images(path) else "a directory holding checkpoints"


def _listed(arguments: tuple[str, ...]) -> str:
    return ", ".join(repr(argument) for argument in arguments)


@command(
    takes="checkpoints",
    metavar="CHECKPOINT [CHECKPOINT | PATTERN]...",
    prepare=_plan,
    tap=lambda plan: plan.screen(),
    reads=lambda plan: plan.reads,
    options=[
        click.option("-e", "--regexp", "more_patterns", metavar="PATTERN", multiple=True,
                     help="A pattern (repeatable)."),
        click.option("--regex", is_flag=True, help="Patterns are Python regular expressions over bytes."),
        click.option("-i", "--ignore-case", is_flag=True, help="ASCII letters match in either case."),
        pid_option(),
        click.option("--context", type=click.IntRange(0, MAX_CONTEXT), default=16, show_default=True,
                     help="Bytes of context on either side of a match."),
        click.option("--max-count", type=click.IntRange(min=0), default=DEFAULT_MAX_COUNT, show_default=True,
                     help="Stop after this many matches in each process (0: no limit)."),
        memory_filter_options,
        click.option("--secrets", is_flag=True,
                     help="Run the built-in credential rules (docs/secrets.md); PATTERN optional."),
        click.option("--rules", "rules_file", type=click.Path(exists=True, dir_okay=False),
                     help="Run your rules (TOML); with --secrets, beside the built-in ones."),
        click.option("--yara", "yara_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="Run YARA rules (repeatable; needs yara-python); with --secrets, beside the built-in ones."),
        click.option("--redact/--no-redact", default=True, show_default=True, help="Cut secret values in the output."),
        click.option("--shared/--no-shared", default=True, show_default=True,
                     help="Also search shared memory objects (memfds, SysV segments, shared anonymous memory), "
                          "once each."),
        click.option("--hash", "with_hash", is_flag=True,
                     help="Add the archive's SHA-256 to JSON output (reads it whole)."),
    ],
    samples=[("--secrets", "-e", "marker"), ("RANDOM_1432_KEY",)],
    records=[
        "checkforensics.analysis.secretscan:SECRET_FINDING",
        "checkforensics.analysis.memsearch.matches:MATCH",
        "checkforensics.analysis.memsearch.matches:SHARED_MATCH",
        "checkforensics.analysis.memsearch.grep:ARCHIVE",
    ],
)  # fmt: skip
def memgrep(model: CheckpointModel, plan: SearchPlan, tap: PagesScreen | None) -> Iterator[Answer]:
    from checkforensics.analysis.memsearch.grep import grep

    return grep(model, plan, screen=tap)
