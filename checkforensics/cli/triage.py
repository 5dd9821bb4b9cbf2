"""``checkforensics triage``: one screen of what deserves a look first."""

from __future__ import annotations

import click

from checkforensics.analysis.triage import Severity, load_context, triage
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.model import CheckpointModel
from checkforensics.render import Result, Table, render

_STYLES = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan", "INFO": "dim"}


def _evidence(evidence: dict[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in evidence.items() if value not in (None, "", [], {}))


@click.command(name="triage")
@checkpoint_argument()
@click.option(
    "--min-severity",
    type=click.Choice([s.name.lower() for s in Severity]),
    default="info",
    show_default=True,
    help="Leave out findings below this severity.",
)
@click.option("--no-secrets", is_flag=True, help="Do not scan memory with the credential rules.")
@output_options()
def triage_command(checkpoint: str, min_severity: str, no_secrets: bool, fmt: str, no_color: bool) -> None:
    """What deserves a look first, each finding with its rule and the evidence behind it.

    Deleted or world-writable executables, fileless (memfd) processes, injected code
    (malfind), reverse shells, LD_PRELOAD, shells and interpreters with network sockets,
    listening sockets and outbound connections, deleted files still open, data in flight,
    changes to sensitive paths (/etc, /root, .ssh, cron, ld.so.preload, binaries),
    credentials in environments, privileged capabilities, and secrets found in memory by the
    credential rules (values redacted; see docs/secrets.md). Each finding names its MITRE
    ATT&CK techniques.

    \b
    Examples:
      checkforensics triage checkpoint.tar
      checkforensics triage checkpoint.tar --min-severity medium --format json
    """
    with CheckpointModel.open(checkpoint) as model:
        context = load_context(model, scan_secrets=not no_secrets)
    threshold = Severity[min_severity.upper()]
    findings = [f for f in triage(context) if f.severity >= threshold]
    warnings = [*context.tree.warnings, *context.files.warnings, *context.changes.warnings, *model.memory_warnings]
    rows = [
        [f.severity.name, f.rule, " ".join(f.techniques or ()) or None, f.pid, f.comm, f.title, _evidence(f.evidence)]
        for f in findings
    ]
    columns = ["SEVERITY", "RULE", "ATT&CK", "PID", "COMM", "FINDING", "EVIDENCE"]
    table = Table(columns, rows, row_styles=[_STYLES[f.severity.name] for f in findings])
    records = [f.as_json() for f in findings]
    result = Result(json={"findings": records, "warnings": warnings}, jsonl=records, text=[table], warnings=warnings)
    render(result, fmt, no_color=no_color)
