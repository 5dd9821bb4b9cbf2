"""What deserves a look first: rules over processes, descriptors, disk changes and secrets.

Each rule has an id, a severity and a one-line title; each finding names its rule and carries
the evidence behind it (process, descriptor, path, address). Rules only read what the other
analyses already produce; adding one is adding a function to RULES.

- ``finding``: the ``Finding`` type, its JSON form and each rule's ATT&CK techniques;
- ``context``: ``Context``, what the rules look at, and ``load_context`` from the model;
- ``shells``: shells, interpreters and network tools, and reverse shells;
- the rules by subject: ``processes`` (programs and code), ``network``, ``files`` (open files
  and the disk), ``credentials`` (environments and secrets in memory), ``history`` (what was
  typed: a history cleared, a download run by a shell, a credential on a command line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from checkforensics.analysis.severity import Severity
from checkforensics.analysis.triage.context import Context, load_context
from checkforensics.analysis.triage.credentials import rule_environment, rule_secrets
from checkforensics.analysis.triage.files import rule_disk, rule_fileless
from checkforensics.analysis.triage.finding import (
    ADDRESS_EVIDENCE,
    FINDING,
    RULE_TECHNIQUES,
    Finding,
    evidence_text,
    one_per_fact,
)
from checkforensics.analysis.triage.history import (
    rule_history_cleared,
    rule_history_credential,
    rule_history_download,
)
from checkforensics.analysis.triage.network import rule_inflight, rule_network, rule_reverse_shell
from checkforensics.analysis.triage.processes import rule_exe, rule_malfind, rule_preload, rule_privileges
from checkforensics.analysis.triage.shells import ReverseShell
from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel
from checkforensics.records.declare import Answer, Section

__all__ = [
    "ADDRESS_EVIDENCE",
    "FINDING",
    "RULES",
    "RULE_TECHNIQUES",
    "Context",
    "Finding",
    "ReverseShell",
    "Severity",
    "evidence_text",
    "findings",
    "load_context",
    "triage",
]

# The order findings of equal severity and pid are listed in (triage sorts stably).
RULES: list[Callable[[Context], Iterator[Finding]]] = [
    rule_exe,
    rule_malfind,
    rule_reverse_shell,
    rule_network,
    rule_fileless,
    rule_inflight,
    rule_disk,
    rule_environment,
    rule_preload,
    rule_privileges,
    rule_secrets,
    rule_history_download,
    rule_history_cleared,
    rule_history_credential,
]


def findings(model: CheckpointModel, minimum: Severity = Severity.INFO, *, scan_secrets: bool = True) -> Answer:
    """Every rule's findings of at least ``minimum`` severity, most severe first, as records."""
    context = load_context(model, scan_secrets=scan_secrets)
    found = [finding for finding in triage(context) if finding.severity >= minimum]
    untold = model.diagnostics.untold
    groups = ((Part.LISTING, Part.PROCESSES), (Part.MEMORY,), (Part.FILES,), (Part.CHANGES,))
    return Answer(
        [Section(FINDING, found)],
        nothing=f"no finding of severity {minimum} or more" if minimum > Severity.INFO else "no finding",
        warnings=[line for parts in groups for line in untold(parts=parts)],
    )


def triage(context: Context) -> list[Finding]:
    """Every rule's findings, one per rule and fact (``one_per_fact``), most severe first."""
    findings = one_per_fact([finding for rule in RULES for finding in rule(context)])
    return sorted(findings, key=lambda f: (-f.severity, f.pid if f.pid is not None else -1, f.rule))
