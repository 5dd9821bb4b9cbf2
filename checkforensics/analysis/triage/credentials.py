"""Rules over credentials: secrets in environments, and those the credential rules found in
memory and in files. Every value is shown as the context's redaction policy says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checkforensics.analysis.redaction import environment_spans
from checkforensics.analysis.secrets.reporting import dedupe
from checkforensics.analysis.secretscan import hit_key
from checkforensics.analysis.severity import Severity
from checkforensics.analysis.triage.context import Context
from checkforensics.analysis.triage.finding import Finding


def rule_environment(context: Context) -> Iterator[Finding]:
    """Environment entries the redaction policy calls secret: a credential-like name, or a value
    a credential rule recognises; one finding per value, naming every process whose environment
    holds it and every variable it is held in. The evidence shows the value as
    ``context.redaction`` does."""
    for process in context.tree.processes:
        entries = process.env or []
        for entry, spans in zip(entries, environment_spans(entries), strict=True):
            if not spans:
                continue
            name, sep, value = entry.partition("=")
            shown = context.redaction.show(entry, spans)
            yield Finding(
                "env-credential",
                Severity.MEDIUM,
                "credential in the environment",
                process.pid,
                process.comm,
                {"variables": [name] if sep else [], "value": shown[len(name) + 1 :] if sep else shown},
                fact=value if sep else entry,
            )


def in_memory_severity(level: Severity) -> Severity:
    """A credential sitting in memory is exposure, not intrusion: what a program holds to do its
    work (a server its database password, a client its token). It says what to rotate once an
    intrusion is found, so it ranks below every sign of one: medium for a credential the rule
    rates high or critical (it grants access by itself), low for the rest."""
    return Severity.MEDIUM if level >= Severity.HIGH else Severity.LOW


def rule_secrets(context: Context) -> Iterator[Finding]:
    """The credential rules' hits in memory and in the files the container wrote
    (analysis.secretscan), one finding per rule and value wherever it lies: its holders are the
    processes with a copy and those mapping a shared object holding one, ``count`` every copy
    (as memgrep counts them: a shared object's once); a file's is one finding of its own, with
    its path and the offset in it. Ranked by ``in_memory_severity``; the evidence keeps the
    credential rule's own severity (``rule_severity``) and shows the value as
    ``context.redaction`` does."""
    for group in dedupe(context.secret_hits, key=hit_key):  # each process, object or file, rule and value
        hit = group.first
        evidence: dict[str, Any] = {"address": hit.address, "value": context.redaction.value(hit.value)}
        holders = []
        if hit.path is not None:  # in a file the container wrote: the address is the offset in it
            evidence = {"path": hit.path, "offset": hit.address, "value": evidence["value"]}
        elif hit.shared is not None:  # the address is an offset in the object; every process mapping it holds it
            evidence = {"object": hit.shared.describe(), "offset": hit.address, "value": evidence["value"]}
            places = hit.shared.mapped_json(hit.address, len(hit.value))
            holders = [{"pid": place["pid"], "comm": place["comm"], "fd": None} for place in places]
        evidence["rule_severity"] = str(hit.rule.severity)
        title = (
            "secret in a file" if hit.path is not None
            else "secret in shared memory" if hit.shared is not None else "secret in memory"
        )  # fmt: skip
        yield Finding(
            f"secret:{hit.rule.id}",
            in_memory_severity(hit.rule.severity),
            title,
            hit.pid,
            hit.comm,
            evidence,
            holders=holders,
            count=group.count,
            fact=(hit.rule.id, hit.value, hit.path),
        )
