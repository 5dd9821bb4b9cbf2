"""Progress bars for long work, on a terminal only.

Library code says what it is doing and how much of it is done::

    with progress.task("hashing", total_bytes) as advance:
        ...
        advance(len(chunk))

and nothing else happens unless the command line turned bars on (``activate``), standard error
is a terminal, and the work is big enough to last (``threshold`` bytes). So the library stays
silent for every other caller — tests, scripts, pipelines — and no command has to thread a
callback through the layers between it and the loop that does the work.

Bars go to stderr with rich, are transient (gone when the work ends) and never share the
screen with output streamed to the same terminal (``quiet_while_streaming``). Tasks nest: an
inner task is one more line of the bar already shown.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

Advance = Callable[[int], None]
THRESHOLD = 64 << 20  # bytes: less work than this ends before a bar would help

_active = False
_streaming = False
_progress: Any = None  # the rich Progress on screen, when one is


def activate(enabled: bool = True) -> None:
    """Let tasks show bars (the CLI does this; libraries never should)."""
    global _active
    _active = enabled


@contextlib.contextmanager
def quiet_while_streaming(streaming: bool) -> Iterator[None]:
    """No bars while results are streamed to the terminal the bar would be drawn over."""
    global _streaming
    previous, _streaming = _streaming, streaming and sys.stdout.isatty()
    try:
        yield
    finally:
        _streaming = previous


def _noop(_: int) -> None:
    return None


def wanted(total: int, threshold: int | None = None) -> bool:
    limit = THRESHOLD if threshold is None else threshold
    return _active and not _streaming and total >= limit and sys.stderr.isatty()


@contextlib.contextmanager
def task(description: str, total: int, threshold: int | None = None) -> Iterator[Advance]:
    """``advance(n)`` reports ``n`` more bytes done out of ``total``; a bar shows only when wanted."""
    global _progress
    if not wanted(total, threshold):
        yield _noop
        return
    if _progress is not None:  # inside another task: a line of its bar
        bar = _progress
        task_id = bar.add_task(description, total=total)
        try:
            yield lambda done: bar.advance(task_id, done)
        finally:
            bar.remove_task(task_id)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        _progress = bar
        task_id = bar.add_task(description, total=total)
        try:
            yield lambda done: bar.advance(task_id, done)
        finally:
            _progress = None
