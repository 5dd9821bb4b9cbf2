"""MITRE ATT&CK (Enterprise) techniques that malfind reasons and triage rules name.

Only the ids and names the rules use; https://attack.mitre.org/techniques/T1055/ and so on.
"""

from __future__ import annotations

TECHNIQUES = {
    "T1055": "Process Injection",
    "T1059": "Command and Scripting Interpreter",
    "T1059.004": "Unix Shell",
    "T1059.006": "Python",
    "T1070.002": "Clear Linux or Mac System Logs",
    "T1070.003": "Clear Command History",
    "T1070.004": "File Deletion",
    "T1053.003": "Scheduled Task/Job: Cron",
    "T1071": "Application Layer Protocol",
    "T1098.004": "Account Manipulation: SSH Authorized Keys",
    "T1105": "Ingress Tool Transfer",
    "T1136.001": "Create Account: Local Account",
    "T1546.004": "Event Triggered Execution: Unix Shell Configuration Modification",
    "T1548.003": "Abuse Elevation Control Mechanism: Sudo and Sudo Caching",
    "T1552": "Unsecured Credentials",
    "T1552.003": "Bash History",
    "T1554": "Compromise Host Software Binary",
    "T1574.006": "Hijack Execution Flow: Dynamic Linker Hijacking",
    "T1611": "Escape to Host",
    "T1620": "Reflective Code Loading",
}


def technique_text(ids: tuple[str, ...] | list[str]) -> str:
    """``T1055 Process Injection, T1620 Reflective Code Loading``."""
    return ", ".join(f"{tid} {TECHNIQUES.get(tid, '')}".strip() for tid in ids)
