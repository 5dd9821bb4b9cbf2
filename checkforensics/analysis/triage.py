"""What deserves a look first: rules over processes, descriptors, disk changes and secrets.

Each rule has an id, a severity and a one-line title; each finding names its rule and carries
the evidence behind it (process, descriptor, path, address). Rules only read what the other
analyses already produce; adding one is adding a function to RULES.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from checkforensics.analysis.redaction import REDACT, Redaction, environment_spans
from checkforensics.analysis.rootfs import RootfsChanges, rootfs_changes
from checkforensics.analysis.severity import Severity
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.files import Descriptor, FileTable


@dataclass
class Finding:
    rule: str
    severity: Severity
    title: str
    pid: int | None = None
    comm: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.name.lower(),
            "title": self.title,
            "pid": self.pid,
            "comm": self.comm,
            "evidence": self.evidence,
        }


@dataclass
class Context:
    """Everything the rules look at, loaded once."""

    tree: ProcessTree
    files: FileTable
    changes: RootfsChanges
    secrets: list[Any] = field(default_factory=list)  # secret findings, when the secrets scan ran
    redaction: Redaction = REDACT  # how evidence shows secret values (the secret records come shown)
    _exes: dict[int, Descriptor] | None = field(default=None, init=False, repr=False)

    def descriptors(self) -> Iterator[tuple[Process, Descriptor]]:
        for entry in self.files.processes:
            process = self.tree.by_pid(entry.pid)
            if process is None:
                continue
            for descriptor in entry.descriptors:
                yield process, descriptor

    def exe(self, pid: int) -> Descriptor | None:
        """The ``exe`` descriptor of ``pid`` (indexed once: rules ask for every process)."""
        if self._exes is None:
            self._exes = {}
            for process, descriptor in self.descriptors():
                if descriptor.fd == "exe":
                    self._exes.setdefault(process.pid, descriptor)
        return self._exes.get(pid)


WRITABLE_DIRS = ("/tmp/", "/dev/shm/", "/var/tmp/", "/run/user/", "/dev/mqueue/")
SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh", "busybox", "fish", "csh", "tcsh"}
INTERPRETERS = re.compile(r"^(python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|php[0-9.]*|lua[0-9.]*|tclsh.*)$")
NET_TOOLS = {"nc", "ncat", "netcat", "socat", "telnet", "curl", "wget"}
SENSITIVE_PATHS = (
    ("/etc/ld.so.preload", Severity.CRITICAL),
    ("/etc/passwd", Severity.HIGH),
    ("/etc/shadow", Severity.HIGH),
    ("/etc/sudoers*", Severity.HIGH),
    ("/etc/cron*", Severity.HIGH),
    ("/var/spool/cron/*", Severity.HIGH),
    ("*/.ssh/*", Severity.HIGH),
    ("/root/*", Severity.MEDIUM),
    ("/etc/*", Severity.MEDIUM),
    ("/usr/bin/*", Severity.HIGH),
    ("/usr/sbin/*", Severity.HIGH),
    ("/bin/*", Severity.HIGH),
    ("/sbin/*", Severity.HIGH),
    ("/lib*/*.so*", Severity.HIGH),
    ("/usr/lib*/*.so*", Severity.HIGH),
    ("*/.bashrc", Severity.MEDIUM),
    ("*/.profile", Severity.MEDIUM),
)
CAP_SYS_ADMIN = 21


def _program(process: Process, exe: str | None) -> str:
    name = (exe or "").rsplit("/", 1)[-1] or (process.comm or "")
    return name


def _is_loopback(address: str | None) -> bool:
    host = (address or "").rsplit(":", 1)[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return True


def rule_exe(context: Context) -> Iterator[Finding]:
    for process in context.tree.processes:
        exe = context.exe(process.pid)
        if exe is None or not exe.path:
            continue
        if exe.deleted:
            yield Finding(
                "exe-deleted",
                Severity.HIGH,
                "running from a deleted executable",
                process.pid,
                process.comm,
                {"exe": exe.path},
            )
        if exe.path.startswith("memfd:") or exe.type == "MEMFD":
            yield Finding(
                "exe-memfd",
                Severity.CRITICAL,
                "running from an in-memory file (fileless)",
                process.pid,
                process.comm,
                {"exe": exe.path},
            )
        if exe.path.startswith(WRITABLE_DIRS):
            yield Finding(
                "exe-writable-path",
                Severity.HIGH,
                "executable in a world-writable directory",
                process.pid,
                process.comm,
                {"exe": exe.path},
            )


def rule_network(context: Context) -> Iterator[Finding]:
    for process, d in context.descriptors():
        if d.family not in ("INET", "INET6"):
            continue
        program = _program(process, (context.exe(process.pid) or Descriptor("exe", "REG", 0)).path)
        shellish = program in SHELLS or program in NET_TOOLS or bool(INTERPRETERS.match(program))
        evidence = {
            "fd": d.fd,
            "proto": d.proto,
            "state": d.state,
            "local": d.local,
            "remote": d.remote,
            "program": program,
        }
        if d.state == "LISTEN":
            yield Finding("listening-socket", Severity.LOW, "listening socket", process.pid, process.comm, evidence)
            if program in SHELLS or program in NET_TOOLS:
                yield Finding(
                    "shell-listening",
                    Severity.HIGH,
                    "a shell or network tool listening (bind shell?)",
                    process.pid,
                    process.comm,
                    evidence,
                )
            continue
        if d.state == "ESTABLISHED" or (d.proto == "UDP" and not _is_loopback(d.remote)):
            outbound = not _is_loopback(d.remote)
            if shellish and outbound:
                yield Finding(
                    "shell-network",
                    Severity.CRITICAL,
                    "shell or interpreter with an outbound connection (reverse shell?)",
                    process.pid,
                    process.comm,
                    evidence,
                )
            elif outbound:
                yield Finding(
                    "outbound-connection",
                    Severity.MEDIUM,
                    "connection to a non-local address",
                    process.pid,
                    process.comm,
                    evidence,
                )
            elif shellish:
                yield Finding(
                    "interpreter-socket",
                    Severity.LOW,
                    "shell or interpreter with a network socket",
                    process.pid,
                    process.comm,
                    evidence,
                )


def rule_fileless(context: Context) -> Iterator[Finding]:
    for process, d in context.descriptors():
        if d.type == "MEMFD":
            yield Finding(
                "memfd-open",
                Severity.MEDIUM,
                "memfd (in-memory file) open",
                process.pid,
                process.comm,
                {"fd": d.fd, "name": d.path, "size": d.size},
            )
        elif d.type == "REG" and d.deleted and isinstance(d.fd, int):
            dropped = (d.path or "").startswith(WRITABLE_DIRS)
            yield Finding(
                "deleted-file-open",
                Severity.HIGH if dropped else Severity.MEDIUM,
                "deleted file still open (content recoverable)" + (" in a writable dir" if dropped else ""),
                process.pid,
                process.comm,
                {"fd": d.fd, "path": d.path, "remap": d.details.get("remap")},
            )


def rule_inflight(context: Context) -> Iterator[Finding]:
    for process, d in context.descriptors():
        queued = d.details.get("recv_queue") or d.details.get("send_queue")
        if queued:
            yield Finding(
                "unread-network-data",
                Severity.INFO,
                "TCP data in flight (see recover)",
                process.pid,
                process.comm,
                {
                    "fd": d.fd,
                    "recv_queue": d.details.get("recv_queue"),
                    "send_queue": d.details.get("send_queue"),
                    "remote": d.remote,
                },
            )


def rule_disk(context: Context) -> Iterator[Finding]:
    # the container's changes in every layer; what the runtime made (the empty files runc
    # bind-mounts onto, /dev's default devices) is set apart by rootfs_changes
    for _, changed in context.changes.files:
        if changed.type == "dir":
            continue
        for pattern, severity in SENSITIVE_PATHS:
            if fnmatch.fnmatch(changed.path, pattern):
                yield Finding(
                    "sensitive-file-changed",
                    severity,
                    f"changed on disk: {pattern}",
                    None,
                    None,
                    {"path": changed.path, "size": changed.size, "mtime": changed.mtime, "sha256": changed.sha256},
                )
                break
        temporary = changed.path.startswith(("/tmp/", "/var/tmp/", "/dev/shm/"))
        if changed.type == "file" and changed.mode & 0o111 and temporary:
            yield Finding(
                "executable-dropped",
                Severity.HIGH,
                "executable file written to a temporary directory",
                None,
                None,
                {"path": changed.path, "size": changed.size, "sha256": changed.sha256},
            )
    for path in context.changes.deleted:
        if _sensitive_deletion(path):
            yield Finding("sensitive-file-deleted", Severity.MEDIUM, "deleted from disk", None, None, {"path": path})
    for path in context.changes.opaque:
        if _sensitive_deletion(path + "/"):
            yield Finding(
                "sensitive-file-deleted",
                Severity.MEDIUM,
                "directory emptied on disk (opaque: the image's files under it are gone)",
                None,
                None,
                {"path": path, "opaque": True},
            )


def _sensitive_deletion(path: str) -> bool:
    return path.startswith(("/var/log/", "/etc/", "/root/")) or "/.ssh/" in path


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


def rule_privileges(context: Context) -> Iterator[Finding]:
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
            )
        if identity.get("seccomp") == "disabled":
            yield Finding("no-seccomp", Severity.LOW, "no seccomp filter", process.pid, process.comm, {})


def rule_secrets(context: Context) -> Iterator[Finding]:
    levels = {name.lower(): level for name, level in Severity.__members__.items()}
    for secret in context.secrets:
        address = secret.get("address")
        where = "offset" if "shared" in secret else "address"  # shared memory: offset in the object
        evidence = {
            where: f"{address:#x}" if isinstance(address, int) else address,
            "value": secret.get("value"),
            "count": secret.get("count"),
        }
        if "shared" in secret:
            evidence["mapped_by"] = [place["pid"] for place in secret.get("mapped", [])] or None
        yield Finding(
            f"secret:{secret['rule']}",
            levels.get(secret.get("severity", "medium"), Severity.MEDIUM),
            "secret in shared memory" if "shared" in secret else "secret in memory",
            secret.get("pid"),
            secret.get("comm"),
            evidence,
        )


RULES: list[Callable[[Context], Iterator[Finding]]] = [
    rule_exe,
    rule_network,
    rule_fileless,
    rule_inflight,
    rule_disk,
    rule_environment,
    rule_privileges,
    rule_secrets,
]


def load_context(model: CheckpointModel, *, scan_secrets: bool = True) -> Context:
    """Processes (with argv and environment), descriptors, rootfs changes and, unless told
    otherwise, the credential rules' findings in memory (values redacted)."""
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint

    tree = model.command_lines(env=True)
    secrets = finding_records(scan_checkpoint(model)) if scan_secrets else []
    return Context(tree, model.files(), rootfs_changes(model), secrets)


def triage(context: Context) -> list[Finding]:
    """Every rule's findings, most severe first."""
    findings = [finding for rule in RULES for finding in rule(context)]
    return sorted(findings, key=lambda f: (-f.severity, f.pid if f.pid is not None else -1, f.rule))
