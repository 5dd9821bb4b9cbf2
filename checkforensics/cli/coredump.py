"""``checkforensics coredump``: an ELF core file per checkpointed process, for gdb."""

from __future__ import annotations

from pathlib import Path

import click

from checkforensics.analysis.coredump import write_core
from checkforensics.analysis.processes import load_command_lines, load_tree
from checkforensics.archive import Checkpoint
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.output import OutputGuard
from checkforensics.render import JSON, Table, human_size, print_json, print_table


@click.command()
@checkpoint_argument()
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory for the core.PID files.",
)
@click.option("--pid", type=int, help="Only this process.")
@click.option("--force", is_flag=True, help="Overwrite existing core files.")
@output_options()
def coredump(checkpoint: str, out: Path, pid: int | None, force: bool, fmt: str, no_color: bool) -> None:
    """Turn each checkpointed process into an ELF core file (DIR/core.PID) for gdb.

    Registers of every thread, the dumped memory of every mapping, the command line and the
    auxiliary vector; open them with `gdb -c core.7 /usr/bin/python3` (or `gdb -c core.7`
    alone for registers and raw memory). x86_64 only.

    \b
    Examples:
      checkforensics coredump checkpoint.tar -o cores/
      checkforensics coredump checkpoint.tar.zst --pid 7 -o /tmp
    """
    written = []
    cores = OutputGuard(checkpoint).output_directory(out, force=force, must_be_empty=False)
    with cores as directory, Checkpoint.open(checkpoint) as opened:
        tree = load_tree(opened)
        chosen = tree.by_pid(pid) if pid is not None else None
        if pid is not None and chosen is None:
            raise click.BadParameter(f"no process {pid} in the checkpoint", param_hint="--pid")
        if chosen is not None and chosen.zombie:
            message = f"process {pid} is a zombie: no memory or registers were dumped"
            raise click.BadParameter(message, param_hint="--pid")
        load_command_lines(opened, tree)
        for process in tree.processes:
            if pid is not None and process.pid != pid:
                continue
            if process.zombie:
                tree.warnings.append(f"pid {process.pid} is a zombie (exited, not reaped): no core file")
                continue
            target = out / f"core.{process.pid}"
            with directory.new_file(target.name) as handle:
                threads, loads = write_core(opened, process, handle)
            written.append(
                {
                    "pid": process.pid,
                    "comm": process.comm,
                    "path": str(target),
                    "threads": threads,
                    "segments": loads,
                    "size": target.stat().st_size,
                }
            )
    if fmt == JSON:
        print_json({"cores": written, "warnings": tree.warnings})
    else:
        rows = [[w["pid"], w["comm"], w["threads"], w["segments"], human_size(w["size"]), w["path"]] for w in written]
        print_table(Table(["PID", "COMM", "THREADS", "SEGMENTS", "SIZE", "FILE"], rows), fmt, no_color=no_color)
    for warning in tree.warnings:
        click.echo(f"checkforensics: warning: {warning}", err=True)
