"""Memory that looks like injected or hidden code, per process.

Anonymous memory that is executable (worse: writable too), executable mappings of memfds
and deleted files, ELF or PE headers at the start of anonymous memory, and processes
whose executable is a memfd (fileless) or was deleted; each with its addresses,
protections, why it was flagged, its ATT&CK techniques and its first bytes (disassembled
too where capstone is installed). [vdso] and code of files on disk are never flagged; the
anonymous code of JIT runtimes (Java, Node.js, .NET, ...) is, at low severity, with the
runtime named. Exit code 1 when nothing is flagged.

\b
Examples:
  checkforensics malfind checkpoint.tar
  checkforensics malfind checkpoint.tar --pid 7 --dump found/
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

from checkforensics.analysis.malfind import REASONS, Suspect, malfind
from checkforensics.cli.declare import declared
from checkforensics.cli.options import checkpoint_argument, output_options, pid_option
from checkforensics.errors import ExitCode
from checkforensics.model import CheckpointModel, Reads
from checkforensics.output import OutputDirectory, OutputGuard
from checkforensics.render import Lines, Result, Table, human_size, json_text, render

_STYLES = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan", "INFO": "dim"}


@click.command(name="malfind", help=__doc__)
@checkpoint_argument()
@pid_option()
@click.option(
    "--dump",
    "dump_dir",
    type=click.Path(path_type=Path),
    help="Write each flagged mapping's dumped bytes to this directory, with manifest.json (sha256 of each).",
)
@click.option("--force", is_flag=True, help="With --dump: write into a directory that is not empty.")
@output_options()
def malfind_command(
    checkpoint: str, pids: tuple[int, ...], dump_dir: Path | None, force: bool, fmt: str, no_color: bool
) -> int:
    guard = OutputGuard(checkpoint)
    if dump_dir is not None:
        guard.check(dump_dir)  # refused now, before any work
    with CheckpointModel.open(checkpoint, reads=Reads.MEMORY) as model:
        found = malfind(model, pids)
        records = [suspect.as_json() for suspect in found.suspects]
        written: list[dict[str, Any]] | None = None
        if dump_dir is not None:
            with guard.output_directory(dump_dir, force=force) as directory:
                written = _write_dump(model, found.suspects, records, directory)
    document: dict[str, Any] = {"regions": records}
    if dump_dir is not None:
        document["output"] = str(dump_dir)
    document["warnings"] = found.warnings
    result = Result(
        json=document,
        jsonl=records,
        text=lambda: _text(found.suspects, dump_dir, written),
        warnings=found.warnings,
    )
    render(result, fmt, no_color=no_color)
    return ExitCode.OK if found.suspects else ExitCode.NOTHING_FOUND  # as grep: 1 when nothing was found


def _write_dump(
    model: CheckpointModel, suspects: list[Suspect], records: list[dict[str, Any]], directory: OutputDirectory
) -> list[dict[str, Any]]:
    """One file per dumped stretch of each flagged mapping, then manifest.json; each record
    gains ``files`` (name, address, size, sha256)."""
    every = []
    for suspect, record in zip(suspects, records, strict=True):
        memory = model.memory(suspect.pid)
        files = []
        for start, data in suspect.read_spans(memory):
            name = f"pid{suspect.pid}-{start:x}-{start + len(data):x}.bin"
            with directory.new_file(name) as handle:
                handle.write(data)
            digest = hashlib.sha256(data).hexdigest()
            files.append({"file": name, "address": start, "size": len(data), "sha256": digest})
        record["files"] = files
        every.append(record)
    manifest = [
        {key: record[key] for key in ("pid", "comm", "start", "end", "perms", "path", "severity", "reasons", "files")}
        for record in every
    ]
    with directory.new_file("manifest.json") as handle:
        handle.write((json_text({"regions": manifest}, indent=2) + "\n").encode())
    return every


def _text(suspects: list[Suspect], dump_dir: Path | None, written: list[dict[str, Any]] | None) -> list[Any]:
    if not suspects:
        return ["no memory looks like injected or hidden code"]
    rows = [
        [
            s.severity.name, s.pid, s.comm, f"{s.mapping.start:#x}", f"{s.mapping.end:#x}", s.mapping.perms,
            s.mapping.label, " ".join(s.flags), human_size(s.dumped),
            ", ".join(s.reasons) + (f" (JIT: {s.jit})" if s.jit else ""), " ".join(s.techniques),
        ]
        for s in suspects
    ]  # fmt: skip
    columns = ["SEVERITY", "PID", "COMM", "START", "END", "PERMS", "MAPPING", "FLAGS", "DUMPED", "REASONS", "ATT&CK"]
    blocks: list[Any] = [Table(columns, rows, row_styles=[_STYLES[s.severity.name] for s in suspects])]
    for s in suspects:
        lines = [f"pid {s.pid} {s.comm or '-'}  {s.mapping.describe()}"]
        lines += [f"  {reason}: {REASONS[reason][0]}" for reason in s.reasons]
        if s.jit:
            lines.append(f"  JIT runtime: {s.jit} (executable anonymous memory is its normal way of working)")
        lines += s.hexdump() if s.first else ["  (its first page is not in the checkpoint)"]
        lines += s.disassembly or []
        blocks.append(Lines(lines))
    if dump_dir is not None and written is not None:
        count = sum(len(record["files"]) for record in written)
        blocks.append(f"wrote {count} files and manifest.json to {dump_dir}")
    return blocks


declared(malfind_command, reads=("memory",), takes="checkpoint", samples=[(), ("--dump", "OUT")])
