"""A finding: one rule's verdict on one fact, with its ATT&CK techniques, its evidence and every
process sharing the fact."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import InitVar, dataclass, field
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
    addresses in hexadecimal (``0x7f3a...``), a list's items joined by commas (``relay_fds=5,6``,
    ``variables=POSTGRES_PASSWORD,PGPASSWORD``), the rest as Python writes it."""
    return [(key, _value_text(key, value)) for key, value in evidence.items() if value not in (None, "", [], {})]


def _value_text(key: str, value: Any) -> str:
    if key in ADDRESS_EVIDENCE and _is_number(value):
        return f"{value:#x}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def evidence_text(evidence: dict[str, Any]) -> str:
    """The evidence in one line, ``key=value, ...``, as the triage table shows it."""
    return ", ".join(f"{key}={value}" for key, value in evidence_items(evidence))


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Finding:
    """One finding of one rule about one fact; ``techniques`` are MITRE ATT&CK ids (analysis.attack),
    the rule's own (RULE_TECHNIQUES) unless the rule gives them for this finding.

    ``fact`` says what the finding is about when several processes can share it (a socket, an
    open file, an executable, a value in memory or an environment): findings of one rule about
    one fact are made one (``one_per_fact``). ``holders`` are the processes sharing it
    (``{"pid", "comm", "fd"}``, fd null when not a descriptor; the process alone unless given,
    its descriptor ``fd`` when given), ``pid`` and ``comm`` the first of them; ``count`` how
    often the fact occurs (copies of a value, descriptors, environments)."""

    rule: str
    severity: Severity
    title: str
    pid: int | None = None
    comm: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    techniques: tuple[str, ...] | None = None
    holders: list[dict[str, Any]] = field(default_factory=list)
    count: int = 1
    fact: Hashable = field(default=None, repr=False, compare=False)
    fd: InitVar[int | str | None] = None

    def __post_init__(self, fd: int | str | None) -> None:
        if self.techniques is None:
            self.techniques = RULE_TECHNIQUES.get(self.rule.partition(":")[0], ())
        if not self.holders and self.pid is not None:
            self.holders = [{"pid": self.pid, "comm": self.comm, "fd": fd}]

    def absorb(self, other: Finding) -> None:
        """Take in ``other``, the same rule's finding about the same fact in another place: its
        holders and count join these, its list evidence is gathered (``relay_fds``, ``variables``),
        and what this one's evidence lacks is taken from it."""
        self.holders += [h for h in other.holders if h not in self.holders]
        self.holders.sort(key=lambda h: (h["pid"], str(h["fd"])))
        self.count += other.count
        self.severity = max(self.severity, other.severity)
        self.techniques = tuple(dict.fromkeys((*(self.techniques or ()), *(other.techniques or ()))))
        for key, value in other.evidence.items():
            mine = self.evidence.get(key)
            if isinstance(mine, list) and isinstance(value, list):
                self.evidence[key] = mine + [v for v in value if v not in mine]
            elif mine is None:
                self.evidence[key] = value


def one_per_fact(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and fact: those about a fact several processes share (nginx's master
    and workers holding one listening socket, a password in twenty processes' memory) are made
    the first one's (the lowest pid; a shared memory object's after the processes'), naming every
    holder and counting every occurrence. Findings without a fact stay as they are."""
    first: dict[tuple[str, Hashable], Finding] = {}
    kept = []
    for finding in sorted(findings, key=lambda f: (f.pid is None, f.pid or 0)):
        if finding.fact is None:
            kept.append(finding)
            continue
        one = first.setdefault((finding.rule, finding.fact), finding)
        if one is finding:
            kept.append(finding)
        else:
            one.absorb(finding)
    return kept


def holders_text(finding: Finding) -> str | None:
    """The processes sharing the fact, as the table's PID column shows them: ``PID`` or
    ``PID:FD`` each, ``4683:6 4685:6 4686:6``."""
    return " ".join(f"{h['pid']}:{h['fd']}" if h["fd"] is not None else str(h["pid"]) for h in finding.holders) or None


def comms_text(finding: Finding) -> str | None:
    """The names of the processes sharing the fact, each once."""
    comms = dict.fromkeys(h["comm"] for h in finding.holders if h["comm"]) or dict.fromkeys([finding.comm])
    return ",".join(c for c in comms if c) or None


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
        Field("pid", INTEGER, "the first process sharing the fact; null for findings about the disk"),
        Field("comm", TEXT, "its name; a shared memory object's when no process is named"),
        Field("holders", LIST, "every process sharing the fact: {pid, comm, fd} (fd null when not a descriptor)"),
        Field("count", INTEGER, "how often the fact occurs: copies of a value in memory, descriptors, environments"),
        Field("techniques", LIST, "MITRE ATT&CK techniques: {id, name}", get=_techniques),
        Field("evidence", _Evidence(), "what the rule saw; secret values redacted"),
    ),
    (
        "severity", "rule", Column("ATT&CK", get=lambda f: " ".join(f.techniques or ()) or None),
        Column("PID", get=holders_text), Column("COMM", get=comms_text), "count", Column("FINDING", "title"),
        "evidence",
    ),
    "One triage finding.",
)  # fmt: skip
