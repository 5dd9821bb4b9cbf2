"""What deserves a look first, each finding with its rule and the evidence behind it.

Deleted or world-writable executables, fileless (memfd) processes, injected code
(malfind), reverse shells, LD_PRELOAD, shells and interpreters with network sockets,
listening sockets and outbound connections, deleted files still open, data in flight,
changes to sensitive paths (/etc, /root, .ssh, cron, ld.so.preload, binaries),
credentials in environments, privileged capabilities, and secrets found in memory by the
credential rules (values redacted; see docs/secrets.md). Each finding names its MITRE
ATT&CK techniques.

Several checkpoints, or directories of them (as 'list' finds them), are triaged one
after the other in one run; each finding names its checkpoint, and one that cannot be
read is named in a warning and skipped (exit 3 once the others are done).

\b
Examples:
  checkforensics triage checkpoint.tar
  checkforensics triage checkpoint.tar --min-severity medium --format json
  checkforensics triage /var/lib/kubelet/checkpoints --format jsonl
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from checkforensics.analysis.triage import Finding, Severity, evidence_text, load_context, triage
from checkforensics.cli.declare import declared
from checkforensics.cli.options import CheckpointRuns, checkpoint_argument, output_options
from checkforensics.model import CheckpointModel, Reads
from checkforensics.render import Result, Table, render

_STYLES = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan", "INFO": "dim"}


@click.command(help=__doc__, name="triage")
@checkpoint_argument(multiple=True)
@click.option(
    "--min-severity",
    type=click.Choice([s.name.lower() for s in Severity]),
    default="info",
    show_default=True,
    help="Leave out findings below this severity.",
)
@click.option("--no-secrets", is_flag=True, help="Do not scan memory with the credential rules.")
@output_options()
def triage_command(checkpoints: tuple[str, ...], min_severity: str, no_secrets: bool, fmt: str, no_color: bool) -> int:
    threshold = Severity[min_severity.upper()]
    runs = CheckpointRuns(checkpoints)

    def findings() -> Iterator[tuple[Path, list[Finding]]]:
        for path in runs:
            with runs.reading(path), CheckpointModel.open(path, reads=Reads.EVERYTHING) as model:
                context = load_context(model, scan_secrets=not no_secrets)
                told = [*context.tree.warnings, *context.files.warnings, *context.changes.warnings]
                runs.warn(path, [*told, *model.memory_warnings])
            if runs.failed(path):
                continue
            yield path, [f for f in triage(context) if f.severity >= threshold]

    def records() -> Iterator[dict[str, object]]:
        for path, found in findings():
            yield from ({"archive": str(path), **f.as_json()} for f in found)

    def tables() -> Iterator[Table]:
        for path, found in findings():
            rows = [
                [f.severity.name, f.rule, " ".join(f.techniques or ()) or None, f.pid, f.comm, f.title,
                 evidence_text(f.evidence)]
                for f in found
            ]  # fmt: skip
            columns = ["SEVERITY", "RULE", "ATT&CK", "PID", "COMM", "FINDING", "EVIDENCE"]
            title = str(path) if runs.several else None
            yield Table(columns, rows, title=title, row_styles=[_STYLES[f.severity.name] for f in found])

    document = {"findings": records(), "warnings": runs.warnings}
    result = Result(json=document, jsonl=records, text=tables, warnings=runs.warnings)
    render(result, fmt, no_color=no_color)
    return runs.exit_code()


declared(triage_command, reads=("everything",), takes="checkpoints", samples=[()])
