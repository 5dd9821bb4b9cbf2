"""Shells, interpreters and network tools, and which of them talk to the network: what the
network rules and the reverse-shell rule stand on."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from checkforensics.model import Process
from checkforensics.model.files import Descriptor

if TYPE_CHECKING:
    from checkforensics.analysis.triage.context import Context

SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh", "busybox", "fish", "csh", "tcsh"}
INTERPRETERS = re.compile(r"^(python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|php[0-9.]*|lua[0-9.]*|tclsh.*)$")
NET_TOOLS = {"nc", "ncat", "netcat", "socat", "telnet", "curl", "wget"}


def interpreter_techniques(program: str) -> tuple[str, ...]:
    """The ATT&CK command-and-scripting technique of a shell or interpreter."""
    if program in SHELLS:
        return ("T1059.004",)
    if program.startswith("python"):
        return ("T1059.006",)
    return ("T1059",)


def is_loopback(address: str | None) -> bool:
    """Whether ``HOST:PORT`` is a loopback or unspecified address (an unreadable one counts as
    local: no finding is made of what cannot be told)."""
    host = (address or "").rsplit(":", 1)[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return True


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
    relay_comm: str | None = None
    relay_fds: tuple[int, ...] = ()  # the relay's ends of the shell's pipes


def _connected(d: Descriptor) -> bool:
    return d.family in ("INET", "INET6") and d.state != "LISTEN" and d.remote is not None


def find_reverse_shells(context: Context) -> Iterator[ReverseShell]:
    """Each shell or interpreter whose stdin and stdout or stderr reach a network connection,
    directly or through a pipe to the process that holds it."""
    by_pid: dict[int, list[Descriptor]] = {}
    pipes: dict[int, set[int]] = {}  # pipe id -> pids holding an end
    comms: dict[int, str | None] = {}
    for process, d in context.descriptors():
        by_pid.setdefault(process.pid, []).append(d)
        comms[process.pid] = process.comm
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
        if streams[0] == "socket":
            yield ReverseShell(process, program, streams, connection, None, own)
            continue
        piped = {d.pipe_id for d in standard.values() if d.pipe_id is not None}
        ends = tuple(sorted(d.fd for d in by_pid.get(relay, []) if d.pipe_id in piped and isinstance(d.fd, int)))
        yield ReverseShell(process, program, streams, connection, relay, own, comms.get(relay), ends)
