"""Options shared by many commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from checkforensics.model.regions import VMA_KINDS, MemoryFilter, parse_address_range
from checkforensics.render import JSON, TABLE, TEXT

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def output_options(formats: tuple[str, ...] = (TEXT, TABLE, JSON), default: str = TEXT) -> Decorator:
    """``--format`` (one of ``formats``) and ``--no-color``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function = click.option(
            "--no-color",
            is_flag=True,
            help="No colour even on a terminal (also when NO_COLOR is set or output is piped).",
        )(function)
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default=default,
            show_default=True,
            help="text: aligned tables/trees; table: plain ASCII table; json: for pipelines (docs/json.md).",
        )(function)

    return decorate


def checkpoint_argument(multiple: bool = False) -> Decorator:
    """The CHECKPOINT argument: an archive, an extracted archive directory or an images directory."""
    if multiple:
        return click.argument("checkpoints", metavar="CHECKPOINT...", nargs=-1, required=True)
    return click.argument("checkpoint", metavar="CHECKPOINT")


def pid_option(help_text: str = "Only this process (repeatable).") -> Decorator:
    """``--pid``, repeatable, handed over as ``pids``; every command checks it through
    ``CheckpointModel.processes``, which names unknown PIDs the same way everywhere."""
    return click.option("--pid", "pids", type=int, multiple=True, metavar="PID", help=help_text)


def emit_warnings(warnings: list[str], prefix: str | None = None) -> None:
    """Each warning as one line on stderr (``prefix``: the checkpoint, when several are read)."""
    for warning in warnings:
        click.echo(f"checkforensics: warning: {prefix + ': ' if prefix else ''}{warning}", err=True)


def memory_filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--perms``, ``--vma-type``, ``--address`` and ``--file``, handed over as ``memory_filter``."""
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
    try:
        span = parse_address_range(address) if address is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--address") from None
    try:
        return MemoryFilter(perms=perms, kinds=frozenset(kinds), address=span, file_glob=file_glob)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--perms") from None
