"""A finding: one rule's verdict on one thing, with its ATT&CK techniques and its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checkforensics.analysis.attack import TECHNIQUES
from checkforensics.analysis.severity import Severity

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
}


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

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.name.lower(),
            "title": self.title,
            "pid": self.pid,
            "comm": self.comm,
            "techniques": [{"id": t, "name": TECHNIQUES.get(t)} for t in self.techniques or ()],
            "evidence": self.evidence,
        }
