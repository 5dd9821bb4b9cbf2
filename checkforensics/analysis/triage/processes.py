"""Rules over processes and the code they run: deleted, fileless or dropped executables,
malfind's injected or hidden code, LD_PRELOAD, and privileges."""

from __future__ import annotations

import re
from collections.abc import Iterator

from checkforensics.analysis.severity import Severity
from checkforensics.analysis.triage.context import Context
from checkforensics.analysis.triage.files import WRITABLE_DIRS
from checkforensics.analysis.triage.finding import RULE_TECHNIQUES, Finding

PRELOAD_VARIABLES = ("LD_PRELOAD", "LD_AUDIT")  # libraries the dynamic linker loads first
CAP_SYS_ADMIN = 21

# malfind reason -> the triage rule that tells it; the reasons of a process's own executable
# (exe-memfd, exe-deleted) are told by rule_exe.
_MALFIND_RULES = (
    (("elf-header", "pe-header"), "reflective-code", "a program image (ELF/PE header) in anonymous memory"),
    (("anon-wx", "anon-x"), "injected-code", "executable anonymous memory (injected code?)"),
    (("memfd-x",), "memfd-code", "code mapped from a memfd (an in-memory file)"),
    (("deleted-x",), "deleted-code", "code mapped from a deleted file"),
)


# What can be wrong with a program's file, strongest first: (reason, rule, title, techniques).
_EXE_REASONS = (
    ("memfd", "exe-memfd", "running from an in-memory file (fileless)", Severity.CRITICAL),
    ("deleted", "exe-deleted", "running from a deleted executable", Severity.HIGH),
    ("writable-path", "exe-writable-path", "executable in a world-writable directory", Severity.HIGH),
)
_EXE_TITLES = {"deleted": "deleted", "writable-path": "in a world-writable directory"}


def rule_exe(context: Context) -> Iterator[Finding]:
    """A program run from a memfd, a deleted file or a world-writable directory: one finding per
    executable, whoever runs it, its rule the strongest of its reasons (``exe-memfd``,
    ``exe-deleted``, ``exe-writable-path``), every reason in ``reasons`` and the title."""
    for process in context.tree.processes:
        exe = context.exe(process.pid)
        if exe is None or not exe.path:
            continue
        memfd = exe.path.startswith("memfd:") or exe.type == "MEMFD"
        found = {
            "memfd": memfd,
            "deleted": exe.deleted and not memfd,  # a memfd has no name on disk to delete
            "writable-path": exe.path.startswith(WRITABLE_DIRS),
        }
        reasons = [reason for reason, *_ in _EXE_REASONS if found[reason]]
        if not reasons:
            continue
        _, rule, title, severity = next(r for r in _EXE_REASONS if r[0] == reasons[0])
        more = [_EXE_TITLES[reason] for reason in reasons[1:]]
        techniques = tuple(dict.fromkeys(t for r in _EXE_REASONS if r[0] in reasons for t in RULE_TECHNIQUES[r[1]]))
        yield Finding(
            rule,
            severity,
            title + (f" ({', '.join(more)})" if more else ""),
            process.pid,
            process.comm,
            {"exe": exe.path, "reasons": ",".join(reasons)},
            techniques,
            fact=("exe", exe.path, exe.deleted),
        )


def rule_malfind(context: Context) -> Iterator[Finding]:
    """malfind's suspect mappings (see analysis.malfind), one finding each."""
    for suspect in context.malfind:
        if {"exe-memfd", "exe-deleted"} & set(suspect.reasons):
            continue  # the process's own program: rule_exe names it
        reasons = set(suspect.reasons)
        rule, title = next((rule, title) for names, rule, title in _MALFIND_RULES if reasons & set(names))
        if suspect.jit and rule == "injected-code":
            title = f"executable anonymous memory of a JIT runtime ({suspect.jit})"
        m = suspect.mapping
        yield Finding(
            rule,
            suspect.severity,
            title,
            suspect.pid,
            suspect.comm,
            {
                "start": m.start,
                "end": m.end,
                "perms": m.perms,
                "path": m.path,
                "reasons": ",".join(suspect.reasons),
                "jit": suspect.jit,
            },
            tuple(suspect.techniques),
        )


def rule_preload(context: Context) -> Iterator[Finding]:
    """LD_PRELOAD or LD_AUDIT in a process's environment: libraries the dynamic linker loads
    into it before its own (the environment read from its memory, as it was at exec); one
    finding per variable and value, naming every process it was inherited by."""
    for process in context.tree.processes:
        for entry in process.env or []:
            name, sep, value = entry.partition("=")
            if not sep or name not in PRELOAD_VARIABLES or not value.strip():
                continue
            writable = any(part.startswith(WRITABLE_DIRS) for part in re.split(r"[:\s]+", value))
            yield Finding(
                "ld-preload",
                Severity.HIGH,
                f"{name} in the environment (dynamic linker hijacking)"
                + (": a library in a world-writable directory" if writable else ""),
                process.pid,
                process.comm,
                {"variable": name, "value": value},
                fact=(name, value),
            )


def rule_privileges(context: Context) -> Iterator[Finding]:
    """CAP_SYS_ADMIN in the effective set, no seccomp filter: what a privileged container gives
    every process in it, one finding each naming them all."""
    for process in context.tree.processes:
        identity = process.identity
        effective = identity.get("cap_eff")
        if effective and int(effective, 16) & (1 << CAP_SYS_ADMIN):
            yield Finding(
                "cap-sys-admin",
                Severity.MEDIUM,
                "CAP_SYS_ADMIN in the effective set (privileged?)",
                process.pid,
                process.comm,
                {"cap_eff": effective},
                fact=effective,
            )
        if identity.get("seccomp") == "disabled":
            yield Finding("no-seccomp", Severity.LOW, "no seccomp filter", process.pid, process.comm, {}, fact="off")
