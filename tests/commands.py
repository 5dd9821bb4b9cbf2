"""The command matrices of the tests, derived from the commands' declarations
(``checkforensics.cli.declare``): every command, with each argument list it declares as a sample,
so a new command is run on every real dump, on damaged archives and on read-only evidence
without a test list to edit."""

from __future__ import annotations

from pathlib import Path

import click

from checkforensics.cli import cli, command_names
from checkforensics.cli.declare import CommandSpec, spec_of


def specs() -> list[CommandSpec]:
    context = click.Context(cli)
    return [spec_of(cli.get_command(context, name)) for name in command_names()]


def argv(spec: CommandSpec, sample: tuple[str, ...], checkpoint: str | Path, out: Path | None = None) -> list[str]:
    """The command line of ``sample``: the checkpoint first unless the sample says where
    (``CHECKPOINT``), ``OUT`` a fresh path under ``out``, ``PID`` the checkpoint's first process
    with memory (the process itself when there is none: the command says so)."""
    words = [str(checkpoint) if word == "CHECKPOINT" else word for word in sample]
    if "PID" in words:
        words = [str(first_pid(checkpoint)) if word == "PID" else word for word in words]
    if "CHECKPOINT" not in sample:
        words.insert(0, str(checkpoint))
    if out is not None:
        words = [str(out / f"{spec.name}-{index}") if word == "OUT" else word for index, word in enumerate(words)]
    return [spec.name, *words]


def first_pid(checkpoint: str | Path) -> int:
    """The checkpoint's first process with memory (a sample's ``PID``)."""
    from checkforensics.errors import CheckforensicsError
    from checkforensics.model import CheckpointModel

    try:
        with CheckpointModel.open(checkpoint) as model:
            processes = model.processes()
            return next((p.pid for p in processes if p.dumped and not p.zombie), processes[0].pid)
    except (CheckforensicsError, IndexError):
        return 1  # a checkpoint without processes: the command says what is wrong


def samples(*, writing: bool | None = None) -> list[tuple[CommandSpec, tuple[str, ...]]]:
    """Every declared sample of every command; ``writing``: only those that write (True) or
    only those that do not (False)."""
    found = []
    for spec in specs():
        for sample in spec.samples:
            writes = "OUT" in sample
            if writing is None or writes == writing:
                found.append((spec, sample))
    return found


def sample_id(value: object) -> str:
    if isinstance(value, CommandSpec):
        return value.name
    return " ".join(value) if isinstance(value, tuple) else str(value)
