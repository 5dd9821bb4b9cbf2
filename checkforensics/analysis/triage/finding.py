"""A finding: one rule's verdict on one thing, with its ATT&CK techniques and its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checkforensics.analysis.attack import TECHNIQUES
from checkforensics.analysis.severity import Severity
from checkforensics.records.declare import Column, Field, RecordType
from checkforensics.records.values import INTEGER, LIST, SEVERITY, TEXT, Hint

# The ATT&CK techniques each rule's findings are evidence of (rules that vary per finding give
# theirs with the finding). Context rules that are no technique in themselves carry none:
# listening-socket and unread-network-data.
RULE_TECHNIQUES: dict[str, tuple[str, ...]] = {
    "exe-deleted": ("T1070.004",),
    "exe-memfd": ("T1620",),
    "exe-writable-path": ("T1105",),
    "executable-dropped": ("T1105",),
    "memfd-open": ("T1620",),
    "deleted-file-open": ("T1070.004",),
    "outbound-connection": ("T1071",),
    "env-credential": ("T1552",),
    "secret": ("T1552",),
    "cap-sys-admin": ("T1611",),
    "no-seccomp": ("T1611",),
    "ld-preload": ("T1574.006",),
    "injected-code": ("T1055",),
    "reflective-code": ("T1620",),
    "memfd-code": ("T1620",),
    "deleted-code": ("T1070.004",),
    "history-cleared": ("T1070.003",),
    "history-download-exec": ("T1105", "T1059.004"),
    "history-credential": ("T1552.003",),
}

# Evidence keys whose values are addresses (an offset in a shared memory object included):
# integers in JSON, as memgrep and malfind give them, and hexadecimal in text.
ADDRESS_EVIDENCE = frozenset({"start", "end", "address", "offset"})


def evidence_items(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """Each evidence value that says something (not None, empty or blank) as text, by key:
    addresses in hexadecimal (``0x7f3a...``), the rest as Python writes it."""
    return [
        (key, f"{value:#x}" if key in ADDRESS_EVIDENCE and _is_number(value) else str(value))
        for key, value in evidence.items()
        if value not in (None, "", [], {})
    ]


def evidence_text(evidence: dict[str, Any]) -> str:
    """The evidence in one line, ``key=value, ...``, as the triage table shows it."""
    return ", ".join(f"{key}={value}" for key, value in evidence_items(evidence))


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Finding:
    """One finding of one rule; ``techniques`` are MITRE ATT&CK ids (analysis.attack), the rule's
    own (RULE_TECHNIQUES) unless the rule gives them for this finding."""

    rule: str
    severity: Severity
    title: str
    pid: int | None = None
    comm: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    techniques: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.techniques is None:
            self.techniques = RULE_TECHNIQUES.get(self.rule.partition(":")[0], ())


class _Evidence(Hint):
    """A finding's evidence: an object in JSON (addresses integers), ``key=value, ...`` in a
    table (addresses in hexadecimal)."""

    name = "object"
    json_type = (dict,)

    def text(self, value: Any) -> str:
        return evidence_text(value) if value else "-"


def _techniques(finding: Finding) -> list[dict[str, Any]]:
    return [{"id": t, "name": TECHNIQUES.get(t)} for t in finding.techniques or ()]


FINDING = RecordType(
    "finding",
    "findings",
    (
        Field("archive", TEXT, "the checkpoint the finding is about", context=True),
        Field("rule", TEXT, "the rule's id (docs/commands/triage.md)"),
        Field("severity", SEVERITY),
        Field("title", TEXT),
        Field("pid", INTEGER, "null for findings about the disk"),
        Field("comm", TEXT),
        Field("techniques", LIST, "MITRE ATT&CK techniques: {id, name}", get=_techniques),
        Field("evidence", _Evidence(), "what the rule saw; secret values redacted"),
    ),
    (
        "severity", "rule", Column("ATT&CK", get=lambda f: " ".join(f.techniques or ()) or None), "pid", "comm",
        Column("FINDING", "title"), "evidence",
    ),
    "One triage finding.",
)  # fmt: skip
