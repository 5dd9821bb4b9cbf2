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

from checkforensics.analysis.attack import TECHNIQUES
from checkforensics.analysis.malfind import Suspect, malfind
from checkforensics.analysis.redaction import REDACT, Redaction, environment_spans
from checkforensics.analysis.rootfs import RootfsChanges, rootfs_changes
from checkforensics.analysis.severity import Severity
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.files import Descriptor, FileTable


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
class Context:
    """Everything the rules look at, loaded once."""

    tree: ProcessTree
    files: FileTable
    changes: RootfsChanges
    secrets: list[Any] = field(default_factory=list)  # secret findings, when the secrets scan ran
    redaction: Redaction = REDACT  # how evidence shows secret values (the secret records come shown)
    malfind: list[Suspect] = field(default_factory=list)  # malfind's suspect mappings
    _exes: dict[int, Descriptor] | None = field(default=None, init=False, repr=False)
    _reverse: list[ReverseShell] | None = field(default=None, init=False, repr=False)

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

    def program(self, process: Process) -> str:
        exe = self.exe(process.pid)
        return _program(process, exe.path if exe is not None else None)

    def reverse_shells(self) -> list[ReverseShell]:
        """Shells and interpreters whose standard streams reach the network (found once)."""
        if self._reverse is None:
            self._reverse = list(_find_reverse_shells(self))
        return self._reverse


WRITABLE_DIRS = ("/tmp/", "/dev/shm/", "/var/tmp/", "/run/user/", "/dev/mqueue/")
SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh", "busybox", "fish", "csh", "tcsh"}
INTERPRETERS = re.compile(r"^(python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|php[0-9.]*|lua[0-9.]*|tclsh.*)$")
NET_TOOLS = {"nc", "ncat", "netcat", "socat", "telnet", "curl", "wget"}
SENSITIVE_PATHS = (
    ("/etc/ld.so.preload", Severity.HIGH, ("T1574.006",)),
    ("/etc/passwd", Severity.HIGH, ("T1136.001",)),
    ("/etc/shadow", Severity.HIGH, ("T1136.001",)),
    ("/etc/sudoers*", Severity.HIGH, ("T1548.003",)),
    ("/etc/cron*", Severity.HIGH, ("T1053.003",)),
    ("/var/spool/cron/*", Severity.HIGH, ("T1053.003",)),
    ("*/.ssh/authorized_keys*", Severity.HIGH, ("T1098.004",)),
    ("*/.ssh/*", Severity.HIGH, ("T1098.004",)),
    ("*/.bashrc", Severity.MEDIUM, ("T1546.004",)),
    ("*/.profile", Severity.MEDIUM, ("T1546.004",)),
    ("/root/*", Severity.MEDIUM, ()),
    ("/etc/*", Severity.MEDIUM, ()),
    ("/usr/bin/*", Severity.HIGH, ("T1554",)),
    ("/usr/sbin/*", Severity.HIGH, ("T1554",)),
    ("/bin/*", Severity.HIGH, ("T1554",)),
    ("/sbin/*", Severity.HIGH, ("T1554",)),
    ("/lib*/*.so*", Severity.HIGH, ("T1554",)),
    ("/usr/lib*/*.so*", Severity.HIGH, ("T1554",)),
)
PRELOAD_VARIABLES = ("LD_PRELOAD", "LD_AUDIT")  # libraries the dynamic linker loads first
CAP_SYS_ADMIN = 21


def _program(process: Process, exe: str | None) -> str:
    name = (exe or "").rsplit("/", 1)[-1] or (process.comm or "")
    return name


def _interpreter_techniques(program: str) -> tuple[str, ...]:
    if program in SHELLS:
        return ("T1059.004",)
    if program.startswith("python"):
        return ("T1059.006",)
    return ("T1059",)


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
    explained = {(shell.process.pid, ino) for shell in context.reverse_shells() for ino in shell.sockets}
    for process, d in context.descriptors():
        if d.family not in ("INET", "INET6") or (process.pid, d.ino) in explained:
            continue  # a reverse shell's own socket: rule_reverse_shell tells it once
        program = context.program(process)
        shellish = program in SHELLS or program in NET_TOOLS or bool(INTERPRETERS.match(program))
        techniques = _interpreter_techniques(program)
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
                    techniques,
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
                    techniques,
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
                    techniques,
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
        for pattern, severity, techniques in SENSITIVE_PATHS:
            if fnmatch.fnmatch(changed.path, pattern):
                yield Finding(
                    "sensitive-file-changed",
                    severity,
                    f"changed on disk: {pattern}",
                    None,
                    None,
                    {"path": changed.path, "size": changed.size, "mtime": changed.mtime, "sha256": changed.sha256},
                    techniques,
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
            yield Finding(
                "sensitive-file-deleted",
                Severity.MEDIUM,
                "deleted from disk",
                None,
                None,
                {"path": path},
                _deletion_techniques(path),
            )
    for path in context.changes.opaque:
        if _sensitive_deletion(path + "/"):
            yield Finding(
                "sensitive-file-deleted",
                Severity.MEDIUM,
                "directory emptied on disk (opaque: the image's files under it are gone)",
                None,
                None,
                {"path": path, "opaque": True},
                _deletion_techniques(path + "/"),
            )


def _sensitive_deletion(path: str) -> bool:
    return path.startswith(("/var/log/", "/etc/", "/root/")) or "/.ssh/" in path


def _deletion_techniques(path: str) -> tuple[str, ...]:
    return ("T1070.002",) if path.startswith("/var/log/") else ("T1070.004",)


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


def rule_preload(context: Context) -> Iterator[Finding]:
    """LD_PRELOAD or LD_AUDIT in a process's environment: libraries the dynamic linker loads
    into it before its own (the environment read from its memory, as it was at exec)."""
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
            )


@dataclass
class ReverseShell:
    """A shell or interpreter whose standard streams reach a network connection: a socket it
    holds itself, or a pipe to a process (the relay) that holds one."""

    process: Process
    program: str
    streams: dict[int, str]  # 0, 1, 2 -> "socket" or "pipe to PID"
    connection: Descriptor  # the network socket
    relay: int | None  # the pid holding it, when not the shell itself
    sockets: frozenset[int]  # socket inodes of the shell's own that the finding explains


def _connected(d: Descriptor) -> bool:
    return d.family in ("INET", "INET6") and d.state != "LISTEN" and d.remote is not None


def _find_reverse_shells(context: Context) -> Iterator[ReverseShell]:
    by_pid: dict[int, list[Descriptor]] = {}
    pipes: dict[int, set[int]] = {}  # pipe id -> pids holding an end
    for process, d in context.descriptors():
        by_pid.setdefault(process.pid, []).append(d)
        if d.pipe_id is not None and d.type == "PIPE":
            pipes.setdefault(d.pipe_id, set()).add(process.pid)
    for process in context.tree.processes:
        program = context.program(process)
        if program not in SHELLS and not INTERPRETERS.match(program):
            continue
        standard = {d.fd: d for d in by_pid.get(process.pid, []) if d.fd in (0, 1, 2)}
        streams: dict[int, str] = {}
        connection: Descriptor | None = None
        relay: int | None = None
        for fd, d in sorted(standard.items()):
            if _connected(d):
                streams[fd], connection = "socket", connection or d
                continue
            for holder in sorted(pipes.get(d.pipe_id, set()) - {process.pid}) if d.pipe_id is not None else []:
                held = next((s for s in by_pid.get(holder, []) if _connected(s)), None)
                if held is not None:
                    streams[fd] = f"pipe to {holder}"
                    connection, relay = connection or held, relay or holder
                    break
        if connection is None or 0 not in streams or not {1, 2} & set(streams):
            continue
        own = frozenset(d.ino for d in by_pid.get(process.pid, []) if _connected(d) and d.ino == connection.ino)
        yield ReverseShell(process, program, streams, connection, None if streams[0] == "socket" else relay, own)


def rule_reverse_shell(context: Context) -> Iterator[Finding]:
    """A shell or interpreter reading its input from the network and writing its output back:
    critical when the peer is not a local address."""
    for shell in context.reverse_shells():
        d = shell.connection
        local_peer = _is_loopback(d.remote)
        via = "its standard streams are a network socket"
        if shell.relay is not None:
            via = f"its standard streams are pipes to process {shell.relay}, which holds a network connection"
        yield Finding(
            "reverse-shell",
            Severity.HIGH if local_peer else Severity.CRITICAL,
            f"reverse shell: {via}" + (" (the peer is a local address)" if local_peer else ""),
            shell.process.pid,
            shell.process.comm,
            {
                "program": shell.program,
                "stdin": shell.streams.get(0),
                "stdout": shell.streams.get(1),
                "stderr": shell.streams.get(2),
                "relay_pid": shell.relay,
                "proto": d.proto,
                "local": d.local,
                "remote": d.remote,
            },
            _interpreter_techniques(shell.program),
        )


# malfind reason -> the triage rule that tells it; the reasons of a process's own executable
# (exe-memfd, exe-deleted) are told by rule_exe.
_MALFIND_RULES = (
    (("elf-header", "pe-header"), "reflective-code", "a program image (ELF/PE header) in anonymous memory"),
    (("anon-wx", "anon-x"), "injected-code", "executable anonymous memory (injected code?)"),
    (("memfd-x",), "memfd-code", "code mapped from a memfd (an in-memory file)"),
    (("deleted-x",), "deleted-code", "code mapped from a deleted file"),
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
                "start": f"{m.start:#x}",
                "end": f"{m.end:#x}",
                "perms": m.perms,
                "path": m.path,
                "reasons": ",".join(suspect.reasons),
                "jit": suspect.jit,
            },
            tuple(suspect.techniques),
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
]


def load_context(model: CheckpointModel, *, scan_secrets: bool = True) -> Context:
    """Processes (with argv and environment), descriptors, rootfs changes and, unless told
    otherwise, the credential rules' findings in memory (values redacted)."""
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint

    tree = model.command_lines(env=True)
    secrets = finding_records(scan_checkpoint(model)) if scan_secrets else []
    suspects = malfind(model).suspects  # its warnings are the model's memory warnings, said by the caller
    return Context(tree, model.files(), rootfs_changes(model), secrets, malfind=suspects)


def triage(context: Context) -> list[Finding]:
    """Every rule's findings, most severe first."""
    findings = [finding for rule in RULES for finding in rule(context)]
    return sorted(findings, key=lambda f: (-f.severity, f.pid if f.pid is not None else -1, f.rule))
