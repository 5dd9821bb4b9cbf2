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

from typing import TYPE_CHECKING

import click

from checkforensics.analysis.severity import Severity
from checkforensics.cli.declare import command

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer

SEVERITIES = [str(severity) for severity in Severity]


@command(
    takes="checkpoints",
    reads=("everything",),
    options=[
        click.option(
            "--min-severity", type=click.Choice(SEVERITIES, case_sensitive=False), default="info", show_default=True,
            help="Leave out findings below this severity.",
        ),
        click.option("--no-secrets", is_flag=True, help="Do not scan memory with the credential rules."),
    ],
    records=["checkforensics.analysis.triage:FINDING"],
)  # fmt: skip
def triage(model: CheckpointModel, min_severity: str, no_secrets: bool) -> Answer:
    from checkforensics.analysis.triage import findings

    return findings(model, Severity.parse(min_severity), scan_secrets=not no_secrets)
