"""Rules over what was typed (analysis.history): a history cleared, a download run by a shell,
a credential on a command line. Commands are shown as the context's redaction policy says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from checkforensics.analysis.redaction import Span, secret_spans
from checkforensics.analysis.severity import Severity
from checkforensics.analysis.triage.context import Context
from checkforensics.analysis.triage.finding import Finding

if TYPE_CHECKING:
    from checkforensics.analysis.history import HistoryEntry

# curl or wget whose output is piped into a shell, or a shell running what they fetched
_FETCH = r"(?:curl|wget|fetch)\b"
_SHELL = r"(?:sudo\s+)?(?:/\S*/)?(?:ba|da|z|k|a)?sh\b"
DOWNLOAD_EXECUTE = re.compile(
    rf"{_FETCH}[^|;&\n]*\|\s*{_SHELL}"  # curl URL | sh
    rf"|{_SHELL}\s+(?:-c\s+)?[\"']?\$\(\s*{_FETCH}"  # sh -c "$(curl URL)"
    rf"|{_SHELL}\s+<\(\s*{_FETCH}"  # bash <(curl URL)
)


def credential_spans(command: str) -> list[Span]:
    """Where ``command`` holds a credential, as the redaction policy says (a credential argument,
    a credential-like assignment, what a credential rule knows)."""
    return secret_spans([command])[0]


def _evidence(entry: HistoryEntry, command: str) -> dict[str, Any]:
    when = entry.time.isoformat(timespec="seconds").replace("+00:00", "Z") if entry.time else None
    return {
        "command": command,
        "state": entry.state,
        "position": entry.position,
        "time": when,
        "terminal": entry.terminal,
    }


def rule_history_cleared(context: Context) -> Iterator[Finding]:
    """A readline history whose entries left the list: freed timestamps lie in its heap. readline
    frees an entry only for ``history -c``, ``history -d`` or when the list is longer than
    HISTSIZE (500 by default), so with fewer live entries than that the list was cut by hand."""
    for pid, found in context.history.items():
        if not found.freed_timestamps:
            continue
        live = found.live
        if len(live) >= 500:
            continue
        first = live[0] if live else None
        yield Finding(
            "history-cleared",
            Severity.MEDIUM,
            "command history cleared or entries deleted",
            pid,
            (found.entries[0].comm if found.entries else None),
            {
                "live_entries": len(live),
                "freed_timestamps": len(found.freed_timestamps),
                "remnants": sum(1 for e in found.entries if e.state == "remnant"),
                "first_live_time": _evidence(first, "")["time"] if first else None,
                "terminal": found.entries[0].terminal if found.entries else None,
            },
        )


def rule_history_download(context: Context) -> Iterator[Finding]:
    """A command that fetches something and runs it with a shell, typed (live or remnant)."""
    for entry in _entries(context):
        if DOWNLOAD_EXECUTE.search(entry.command):
            shown = context.redaction.show(entry.command, credential_spans(entry.command))
            yield Finding(
                "history-download-exec",
                Severity.HIGH,
                "download piped into a shell, typed" + (" (a remnant in freed memory)" if entry.partial else ""),
                entry.pid,
                entry.comm,
                _evidence(entry, shown),
            )


def rule_history_credential(context: Context) -> Iterator[Finding]:
    """A credential typed on a command line (``mysql -pPASSWORD``, ``curl -u user:password``,
    ``--password=``, a URL with a password, ``TOKEN=value``); the value redacted."""
    for entry in _entries(context):
        spans = credential_spans(entry.command)
        if spans:
            yield Finding(
                "history-credential",
                Severity.MEDIUM,
                "credential typed on a command line" + (" (a remnant in freed memory)" if entry.partial else ""),
                entry.pid,
                entry.comm,
                _evidence(entry, context.redaction.show(entry.command, spans)),
            )


def _entries(context: Context) -> Iterator[HistoryEntry]:
    for found in context.history.values():
        yield from found.entries
