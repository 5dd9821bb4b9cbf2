"""Options shared by many commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

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
