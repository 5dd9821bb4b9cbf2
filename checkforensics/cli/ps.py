"""``checkforensics ps``: what was running, with real command lines and environments."""

from __future__ import annotations

import shlex
from typing import Any

import click
from rich.tree import Tree

from checkforensics.analysis.processes import Process, ProcessTree, load_command_lines, load_tree
from checkforensics.archive import Checkpoint
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.render import JSON, Table, cell, print_json, print_table, print_tree, tree_text


def process_json(process: Process, with_env: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "pid": process.pid,
        "ppid": process.ppid,
        "pgid": process.pgid,
        "sid": process.sid,
        "comm": process.comm,
        "threads": process.tids,
        "thread_names": {str(t.tid): t.comm for t in process.threads},
        "uid": process.uid,
        "gid": process.gid,
        "euid": process.euid,
        "egid": process.egid,
        "state": process.state,
        "cmdline": process.cmdline,
        "identity": process.identity,
    }
    if with_env:
        document["env"] = process.env
    return document


def command_text(process: Process) -> str | None:
    if process.cmdline is None:
        return None
    return shlex.join(process.cmdline)


def _tree(tree: ProcessTree, with_env: bool) -> Tree:
    root = Tree("[bold]processes[/]")

    def add(parent: Tree, process: Process, seen: set[int]) -> None:
        if process.pid in seen:
            return
        seen.add(process.pid)
        label = f"[bold]{process.pid}[/] {tree_text(cell(process.comm))}  {tree_text(cell(command_text(process)))}"
        if len(process.tids) > 1:
            label += f"  [dim]threads {', '.join(str(t) for t in process.tids)}[/]"
        node = parent.add(label)
        if with_env and process.env:
            env = node.add("[dim]environment[/]")
            for variable in process.env:
                env.add(tree_text(variable))
        for child in process.children:
            add(node, child, seen)

    seen: set[int] = set()
    for process in tree.roots():
        add(root, process, seen)
    return root


@click.command()
@checkpoint_argument()
@click.option("--tree", "as_tree", is_flag=True, help="Draw the parent/child tree.")
@click.option("--env", "with_env", is_flag=True, help="Add each process's environment, read from its memory.")
@output_options()
def ps(checkpoint: str, as_tree: bool, with_env: bool, fmt: str, no_color: bool) -> None:
    """List the checkpointed processes with their command lines (read from memory).

    \b
    Examples:
      checkforensics ps checkpoint.tar
      checkforensics ps checkpoint.tar.zst --tree --env
      checkforensics ps checkpoint.tar --format json | jq '.processes[].cmdline'
    """
    with Checkpoint.open(checkpoint) as opened:
        tree = load_tree(opened)
        load_command_lines(opened, tree, env=with_env)
    if fmt == JSON:
        print_json({"processes": [process_json(p, with_env) for p in tree.processes], "warnings": tree.warnings})
    elif as_tree:
        print_tree(_tree(tree, with_env), no_color=no_color)
    else:
        columns = ["PID", "PPID", "PGID", "SID", "THREADS", "UID", "GID", "STATE", "COMM", "COMMAND"]
        rows = [
            [p.pid, p.ppid, p.pgid, p.sid, " ".join(str(t) for t in p.tids), p.uid, p.gid, p.state, p.comm,
             command_text(p)]
            for p in tree.processes
        ]
        print_table(Table(columns, rows), fmt, no_color=no_color)
        if with_env:
            for process in tree.processes:
                click.echo(f"\nenvironment of {process.pid} ({process.comm}):")
                for variable in process.env or ["-"]:
                    click.echo(f"  {variable}")
    for warning in tree.warnings:
        click.echo(f"checkforensics: warning: {warning}", err=True)
