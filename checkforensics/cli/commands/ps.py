"""List the checkpointed processes with their command lines (read from memory).

\b
Examples:
  checkforensics ps checkpoint.tar
  checkforensics ps checkpoint.tar.zst --tree --env
  checkforensics ps checkpoint.tar --format json | jq '.processes[].cmdline'
  checkforensics ps checkpoint.tar --format jsonl | jq -c 'select(.uid == 0)'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.declare import declared
from checkforensics.cli.options import checkpoint_argument, output_options, pid_option
from checkforensics.render import Lines, Result, Table, Tree, View, cell, render, tree_text

if TYPE_CHECKING:  # the model is imported when the command runs: 'ps --help' reads none of it
    from checkforensics.model import Process, ProcessTree

COLUMNS = ["PID", "PPID", "PGID", "SID", "THREADS", "UID", "GID", "STATE", "COMM", "COMMAND"]


def _table(placed: list[tuple[Process, int]]) -> Table:
    """One row per process; a process ``depth`` levels down has its COMMAND indented."""
    from checkforensics.records.forms import command_text

    rows = [
        [p.pid, p.ppid, p.pgid, p.sid, len(p.tids), p.uid, p.gid, p.state, p.comm,
         "  " * depth + cell(command_text(p))]
        for p, depth in placed
    ]  # fmt: skip
    return Table(COLUMNS, rows)


def _environments(processes: list[Process]) -> list[Lines]:
    return [Lines([f"environment of {p.pid} ({p.comm}):", *(f"  {v}" for v in p.env or ["-"])]) for p in processes]


def _tree(placed: list[tuple[Process, int]], with_env: bool) -> Tree:
    """The parent/child tree of the processes ``placed`` (each with its depth, in tree order)."""
    from checkforensics.model.tree import DEPTH_LIMIT
    from checkforensics.records.forms import command_text, state_note

    root = Tree("[bold]processes[/]")
    parents = [root]
    for process, depth in placed:
        label = f"[bold]{process.pid}[/] {tree_text(cell(process.comm))}"
        note = state_note(process)
        if note:  # beside the name: a long command line would push it out of sight
            label += f" [{'red' if process.zombie else 'yellow'}]({note})[/]"
        label += f"  {tree_text(cell(command_text(process)))}"
        if len(process.tids) > 1:
            label += f"  [dim]threads {', '.join(str(t) for t in process.tids)}[/]"
        if depth == DEPTH_LIMIT:  # a tree deeper than that is drawn flat there: say whose child it is
            label += f"  [dim]parent {process.ppid}[/]"
        node = parents[depth].add(label)
        del parents[depth + 1 :]
        parents.append(node)
        if with_env and process.env:
            env = node.add("[dim]environment[/]")
            for variable in process.env:
                env.add(tree_text(variable))
    return root


def _text(tree: ProcessTree, chosen: list[Process], as_tree: bool, with_env: bool) -> list[Any]:
    environments = _environments(chosen) if with_env else []
    if not as_tree:
        return [_table([(p, 0) for p in chosen]), *environments]
    placed = list(tree.walk({p.pid for p in chosen}))
    return [View(text=lambda: _tree(placed, with_env), table=lambda: [_table(placed), *environments])]


@click.command(name="ps", help=__doc__)
@checkpoint_argument()
@click.option("--tree", "as_tree", is_flag=True, help="Draw the parent/child tree.")
@click.option("--env", "with_env", is_flag=True, help="Add each process's environment, read from its memory.")
@pid_option()
@output_options()
def ps(checkpoint: str, as_tree: bool, with_env: bool, pids: tuple[int, ...], fmt: str, no_color: bool) -> None:
    from checkforensics.model import CheckpointModel, Reads
    from checkforensics.model.processes import process_record

    with CheckpointModel.open(checkpoint, reads=Reads.MEMORY) as model:  # command lines
        chosen = model.processes(pids)
        tree = model.command_lines(env=with_env)

    def records() -> list[dict[str, Any]]:
        return [process_record(p, with_env) for p in chosen]

    result = Result(
        json=lambda: {"processes": records(), "warnings": tree.warnings},
        jsonl=records,
        text=lambda: _text(tree, chosen, as_tree, with_env),
        warnings=tree.warnings,
    )
    render(result, fmt, no_color=no_color)


declared(ps, reads=("memory",), takes="checkpoint", samples=[("--tree", "--env")])
