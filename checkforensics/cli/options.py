"""Options shared by many commands, declared once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from checkforensics.errors import CheckforensicsError, ExitCode, InputError
from checkforensics.render import FORMATS, JSON, JSONL, TABLE, TEXT, TREE, print_warnings
from checkforensics.render.exports import Export

if TYPE_CHECKING:  # the memory model is imported only by the commands that filter memory
    from checkforensics.model.regions import MemoryFilter

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

_FORMAT_HELP = {
    TEXT: "text: for people (aligned tables, trees)",
    TABLE: "table: plain ASCII tables",
    JSON: "json: one document (docs/json.md)",
    JSONL: "jsonl: JSON Lines, one record a line",
}


class FormatChoice(click.Choice):
    """The formats a command offers, plus old names it still accepts without advertising them
    (``tree`` for ``text``): help and completion show only the current ones."""

    def __init__(self, formats: tuple[str, ...], aliases: dict[str, str] | None = None) -> None:
        super().__init__(formats)
        self.aliases = aliases or {}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value in self.aliases:
            return self.aliases[value]
        return super().convert(value, param, ctx)


def output_options(
    formats: tuple[str | Export, ...] = FORMATS, default: str = TEXT, aliases: dict[str, str] | None = None
) -> Decorator:
    """``--format`` (one of ``formats``, docs/usage.md "Output formats"; an ``Export``: a format
    of the command's own), handed over as ``fmt`` (``--color`` and ``--no-color`` are every
    command's: ``checkforensics.cli``)."""
    names = tuple(f.name if isinstance(f, Export) else f for f in formats)
    helps = [f.help if isinstance(f, Export) else _FORMAT_HELP[f] for f in formats]

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return click.option(
            "--format",
            "fmt",
            type=FormatChoice(names, aliases),
            default=default,
            show_default=True,
            help="; ".join(helps) + ".",
        )(function)

    return decorate


TREE_ALIAS = {TREE: TEXT}  # inspect and diff: what their text form was called before


def complete_paths(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of an argument naming a file or directory: the shell's own file names
    (click's ``file`` completion, as ``click.Path`` gives, without its checks on the value)."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type="file")]


def checkpoint_argument(multiple: bool = False, metavar: str | None = None) -> Decorator:
    """The CHECKPOINT argument: an archive, an extracted archive directory or an images directory
    (``metavar``: how help names several, where other words may come among them); the shell
    completes it with file names."""
    if multiple:
        return click.argument("checkpoints", metavar=metavar or "CHECKPOINT...", nargs=-1, required=True,
                              shell_complete=complete_paths)  # fmt: skip
    return click.argument("checkpoint", metavar="CHECKPOINT", shell_complete=complete_paths)


class CheckpointRuns:
    """The checkpoints a command taking several reads one after the other: each argument as
    given, a directory of checkpoints replaced by those in it (``list``'s discovery).

    With several, each warning is prefixed with its checkpoint, and one that cannot be read
    (``reading`` it raises a CheckforensicsError) is named in a warning and skipped:
    ``exit_code`` is then BAD_INPUT. With one, its error ends the command as usual.
    """

    def __init__(self, arguments: tuple[str, ...]) -> None:
        from checkforensics.archive.layout import checkpoint_paths

        self.paths = checkpoint_paths(list(arguments))
        if not self.paths:
            raise InputError("holds no checkpoints (*.tar, *.tar.gz, *.tar.zst, checkpoint directories)",
                             where=", ".join(arguments))  # fmt: skip
        self.several = len(self.paths) > 1 or [str(path) for path in self.paths] != list(arguments)
        self.warnings: list[str] = []
        self._failed: dict[Path, CheckforensicsError] = {}

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths)

    @contextlib.contextmanager
    def reading(self, path: Path) -> Iterator[None]:
        """Around the reading of ``path``: with several checkpoints, its failure is a warning."""
        try:
            yield
        except CheckforensicsError as exc:
            if not self.several:
                raise
            self._failed[path] = exc
            self.warnings.append(f"skipped {exc}")

    def failed(self, path: Path) -> bool:
        return path in self._failed

    def warn(self, path: Path, warnings: list[str]) -> None:
        self.warnings += [f"{path}: {warning}" for warning in warnings] if self.several else warnings

    def exit_code(self, found: bool = True) -> int:
        if self._failed:
            return ExitCode.BAD_INPUT
        return ExitCode.OK if found else ExitCode.NOTHING_FOUND


def pid_option(help_text: str = "Only this process (repeatable).") -> Decorator:
    """``--pid``, repeatable, handed over as ``pids``; every command checks it through
    ``CheckpointModel.processes``, which names unknown PIDs the same way everywhere."""
    return click.option("--pid", "pids", type=int, multiple=True, metavar="PID", help=help_text)


def emit_warnings(warnings: list[str], prefix: str | None = None) -> None:
    """Each warning as one line on stderr (``prefix``: the checkpoint, when several are read)."""
    print_warnings(warnings, prefix)


def memory_filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--perms``, ``--vma-type``, ``--address`` and ``--file``, handed over as ``memory_filter``."""
    from checkforensics.model.regions import VMA_KINDS

    options: list[Decorator] = [
        click.option("--perms", metavar="PERMS", help="Only mappings with these permissions: rw, x, s, or r-xp."),
        click.option(
            "--vma-type",
            "kinds",
            multiple=True,
            type=click.Choice(VMA_KINDS),
            help="Only mappings of this kind (repeatable); shared = shared anonymous memory.",
        ),
        click.option("--address", metavar="START-END", help="Only this address range (hexadecimal)."),
        click.option("--file", "file_glob", metavar="GLOB", help="Only mappings of files matching this pattern."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def make_memory_filter(
    perms: str | None, kinds: tuple[str, ...], address: str | None, file_glob: str | None
) -> MemoryFilter:
    from checkforensics.model.regions import MemoryFilter, parse_address_range

    try:
        span = parse_address_range(address) if address is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--address") from None
    try:
        return MemoryFilter(perms=perms, kinds=frozenset(kinds), address=span, file_glob=file_glob)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--perms") from None
