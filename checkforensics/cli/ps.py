"""``checkforensics ps``: what was running, with real command lines and environments."""

from __future__ import annotations

import click
from rich.tree import Tree

from checkforensics.cli.options import checkpoint_argument, emit_warnings, output_options, pid_option
from checkforensics.model import CheckpointModel, ProcessTree
from checkforensics.records import command_text, process_record
from checkforensics.render import JSON, Table, cell, print_json, print_table, print_tree, tree_text


def _tree(tree: ProcessTree, with_env: bool, chosen: set[int]) -> Tree:
    """The parent/child tree of the ``chosen`` processes (a process not chosen passes its place
    on to its children)."""
    root = Tree("[bold]processes[/]")
    levels = [root]  # levels[n]: the node a process drawn at level n is added to
    for place in tree.walk(chosen):
        process = place.process
        label = f"[bold]{process.pid}[/] {tree_text(cell(process.comm))}  {tree_text(cell(command_text(process)))}"
        if len(process.tids) > 1:
            label += f"  [dim]threads {', '.join(str(t) for t in process.tids)}[/]"
        if place.flattened:
            label += f"  [dim]parent {process.ppid}[/]"
        node = levels[place.depth].add(label)
        del levels[place.depth + 1 :]
        levels.append(node)
        if with_env and process.env:
            env = node.add("[dim]environment[/]")
            for variable in process.env:
                env.add(tree_text(variable))
    return root


@click.command()
@checkpoint_argument()
@click.option("--tree", "as_tree", is_flag=True, help="Draw the parent/child tree.")
@click.option("--env", "with_env", is_flag=True, help="Add each process's environment, read from its memory.")
@pid_option()
@output_options()
def ps(checkpoint: str, as_tree: bool, with_env: bool, pids: tuple[int, ...], fmt: str, no_color: bool) -> None:
    """List the checkpointed processes with their command lines (read from memory).

    \b
    Examples:
      checkforensics ps checkpoint.tar
      checkforensics ps checkpoint.tar.zst --tree --env
      checkforensics ps checkpoint.tar --format json | jq '.processes[].cmdline'
    """
    with CheckpointModel.open(checkpoint) as model:
        chosen = model.processes(pids)
        tree = model.command_lines(env=with_env)
    if fmt == JSON:
        print_json({"processes": [process_record(p, with_env) for p in chosen], "warnings": tree.warnings})
    elif as_tree:
        print_tree(_tree(tree, with_env, {p.pid for p in chosen}), no_color=no_color)
    else:
        columns = ["PID", "PPID", "PGID", "SID", "THREADS", "UID", "GID", "STATE", "COMM", "COMMAND"]
        rows = [
            [p.pid, p.ppid, p.pgid, p.sid, " ".join(str(t) for t in p.tids), p.uid, p.gid, p.state, p.comm,
             command_text(p)]
            for p in chosen
        ]
        print_table(Table(columns, rows), fmt, no_color=no_color)
        if with_env:
            for process in chosen:
                click.echo(f"\nenvironment of {process.pid} ({process.comm}):")
                for variable in process.env or ["-"]:
                    click.echo(f"  {variable}")
    emit_warnings(tree.warnings)
