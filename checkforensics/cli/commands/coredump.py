"""Turn each checkpointed process into an ELF core file (DIR/core.PID) for gdb.

Registers of every thread, the dumped memory of every mapping, the command line and the
auxiliary vector; open them with `gdb -c core.7 /usr/bin/python3` (or `gdb -c core.7`
alone for registers and raw memory). x86_64 only.

\b
Examples:
  checkforensics coredump checkpoint.tar -o cores/
  checkforensics coredump checkpoint.tar.zst --pid 7 -o /tmp
"""

from __future__ import annotations

from pathlib import Path

import click

from checkforensics.analysis.coredump import write_core
from checkforensics.cli.declare import declared
from checkforensics.cli.options import checkpoint_argument, output_options, pid_option
from checkforensics.errors import CheckforensicsError, InputError, OutputError, UnsupportedError
from checkforensics.model import CheckpointModel, Reads
from checkforensics.output import OutputGuard
from checkforensics.render import Result, Table, human_size, render


@click.command(name="coredump", help=__doc__)
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
@pid_option()
@click.option("--force", is_flag=True, help="Overwrite existing core files.")
@output_options()
def coredump(checkpoint: str, out: Path, pids: tuple[int, ...], force: bool, fmt: str, no_color: bool) -> None:
    written = []
    cores = OutputGuard(checkpoint).output_directory(out, force=force, must_be_empty=False)
    with cores as directory, CheckpointModel.open(checkpoint, reads=Reads.MEMORY) as model:
        chosen = model.processes(pids)
        zombies = [process.pid for process in chosen if process.zombie]
        undumped = [process.pid for process in chosen if not process.dumped]
        if pids and zombies and len(zombies) == len(chosen):
            raise InputError(f"process {', '.join(map(str, zombies))}: a zombie, no memory or registers were dumped")
        if pids and undumped and len(undumped) + len(zombies) == len(chosen):
            raise InputError(f"process {', '.join(map(str, undumped))}: not dumped (no core image in the checkpoint)")
        tree = model.command_lines()
        failed: list[CheckforensicsError] = []
        for process in chosen:
            if not process.dumped:  # the tree's warnings name them
                continue
            if process.zombie:
                tree.warnings.append(f"pid {process.pid} is a zombie (exited, not reaped): no core file")
                continue
            target = out / f"core.{process.pid}"
            try:
                with directory.new_file(target.name) as handle:
                    threads, loads = write_core(model, process, handle, tree.warnings)
            except (OutputError, UnsupportedError):
                raise
            except CheckforensicsError as exc:  # its damaged images: the other processes still get their cores
                tree.warnings.append(f"pid {process.pid}: no core file: {exc}")
                failed.append(exc)
                continue
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
        tree.warnings.extend(model.untold_memory_warnings(process.pid for process in chosen))
        if failed and not written:
            raise failed[0]
    rows = [[w["pid"], w["comm"], w["threads"], w["segments"], human_size(w["size"]), w["path"]] for w in written]
    result = Result(
        json={"cores": written, "warnings": tree.warnings},
        jsonl=written,
        text=[Table(["PID", "COMM", "THREADS", "SEGMENTS", "SIZE", "FILE"], rows)],
        warnings=tree.warnings,
    )
    render(result, fmt, no_color=no_color)


declared(coredump, reads=("memory",), takes="checkpoint", samples=[("-o", "OUT")])
