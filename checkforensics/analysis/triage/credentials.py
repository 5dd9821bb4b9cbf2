"""Rules over credentials: secrets in environments, and those the credential rules found in
memory and in files. Every value is shown as the context's redaction policy says."""

from __future__ import annotations

from collections.abc import Iterator

from checkforensics.analysis.redaction import environment_spans
from checkforensics.analysis.severity import Severity
from checkforensics.analysis.triage.context import Context
from checkforensics.analysis.triage.finding import Finding


def rule_environment(context: Context) -> Iterator[Finding]:
    """Environment entries the redaction policy calls secret: a credential-like name, or a value
    a credential rule recognises. The evidence shows the value as ``context.redaction`` does."""
    for process in context.tree.processes:
        entries = process.env or []
        for entry, spans in zip(entries, environment_spans(entries), strict=True):
            if not spans:
                continue
            name, sep, _ = entry.partition("=")
            shown = context.redaction.show(entry, spans)
            yield Finding(
                "env-credential",
                Severity.MEDIUM,
                "credential in the environment",
                process.pid,
                process.comm,
                {"variable": name if sep else None, "value": shown[len(name) + 1 :] if sep else shown},
            )


def rule_secrets(context: Context) -> Iterator[Finding]:
    """The credential rules' findings in memory and in files (records made by
    analysis.secretscan, their values already shown by the policy), one finding each."""
    levels = {name.lower(): level for name, level in Severity.__members__.items()}
    for secret in context.secrets:
        in_file = "path" in secret
        where = "offset" if "shared" in secret or in_file else "address"  # offset in the object or file
        evidence = {
            **({"path": secret["path"]} if in_file else {}),
            where: secret.get("address"),
            "value": secret.get("value"),
            "count": secret.get("count"),
        }
        if "shared" in secret:
            evidence["mapped_by"] = [place["pid"] for place in secret.get("mapped", [])] or None
        yield Finding(
            f"secret:{secret['rule']}",
            levels.get(secret.get("severity", "medium"), Severity.MEDIUM),
            "secret in a file" if in_file else "secret in shared memory" if "shared" in secret else "secret in memory",
            secret.get("pid"),
            secret.get("comm"),
            evidence,
        )
