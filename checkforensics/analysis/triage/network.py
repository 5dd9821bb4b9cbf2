"""Rules over the network: reverse shells, shells and tools with sockets, listening sockets,
outbound connections, and data in flight."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checkforensics.analysis.severity import Severity
from checkforensics.analysis.triage.context import Context
from checkforensics.analysis.triage.finding import Finding
from checkforensics.analysis.triage.shells import (
    INTERPRETERS,
    NET_TOOLS,
    SHELLS,
    ReverseShell,
    find_reverse_shells,
    interpreter_techniques,
    is_loopback,
)


def _reverse_shells(context: Context) -> list[ReverseShell]:
    """Shells and interpreters whose standard streams reach the network, found once: both
    network rules ask."""
    return context.once("reverse shells", lambda: list(find_reverse_shells(context)))


def rule_reverse_shell(context: Context) -> Iterator[Finding]:
    """A shell or interpreter reading its input from the network and writing its output back:
    critical wherever the peer is (a loopback peer is a relay or a tunnel on this machine; the
    shell is driven from outside it all the same), the title saying when it is local."""
    from checkforensics.model.descriptions import peer_text

    for shell in _reverse_shells(context):
        d = shell.connection
        local_peer = is_loopback(d.remote)
        via = "its standard streams are a network socket"
        if shell.relay is not None:
            fds = ", ".join(map(str, shell.relay_fds))
            via = (f"its standard streams are pipes to process {shell.relay} ({shell.relay_comm}, fd {fds}), "
                   f"which holds a network connection (fd {d.fd})")  # fmt: skip
        peer = peer_text(d)
        held = f"; the other end is held by {peer}" if peer and peer != "-" else ""
        yield Finding(
            "reverse-shell",
            Severity.CRITICAL,
            f"reverse shell: {via}" + (" (the peer is a local address)" if local_peer else "") + held,
            shell.process.pid,
            shell.process.comm,
            {
                "program": shell.program,
                "stdin": shell.streams.get(0),
                "stdout": shell.streams.get(1),
                "stderr": shell.streams.get(2),
                "relay_pid": shell.relay,
                "relay_comm": shell.relay_comm,
                "relay_fds": list(shell.relay_fds) or None,
                "connection_fd": d.fd,
                "proto": d.proto,
                "local": d.local,
                "remote": d.remote,
                "peer": peer if peer != "-" else "outside the checkpoint",  # who holds the connection's other end
            },
            interpreter_techniques(shell.program),
        )


def rule_network(context: Context) -> Iterator[Finding]:
    explained = {(shell.process.pid, ino) for shell in _reverse_shells(context) for ino in shell.sockets}
    for process, d in context.descriptors():
        if d.family not in ("INET", "INET6") or (process.pid, d.ino) in explained:
            continue  # a reverse shell's own socket: rule_reverse_shell tells it once
        program = context.program(process)
        shellish = program in SHELLS or program in NET_TOOLS or bool(INTERPRETERS.match(program))
        techniques = interpreter_techniques(program)
        held: dict[str, Any] = {"fact": ("socket", d.ino or d.file_id), "fd": d.fd}  # one socket, every holder
        evidence = {
            "proto": d.proto,
            "state": d.state,
            "local": d.local,
            "remote": d.remote,
            "program": program,
        }
        if d.state == "LISTEN":
            yield Finding(
                "listening-socket", Severity.LOW, "listening socket", process.pid, process.comm, evidence, **held
            )
            if program in SHELLS or program in NET_TOOLS:
                yield Finding(
                    "shell-listening",
                    Severity.HIGH,
                    "a shell or network tool listening (bind shell?)",
                    process.pid,
                    process.comm,
                    evidence,
                    techniques,
                    **held,
                )
            continue
        if d.state == "ESTABLISHED" or (d.proto == "UDP" and not is_loopback(d.remote)):
            outbound = not is_loopback(d.remote)
            if shellish and outbound:
                yield Finding(
                    "shell-network",
                    Severity.CRITICAL,
                    "shell or interpreter with an outbound connection (reverse shell?)",
                    process.pid,
                    process.comm,
                    evidence,
                    techniques,
                    **held,
                )
            elif outbound:
                yield Finding(
                    "outbound-connection",
                    Severity.MEDIUM,
                    "connection to a non-local address",
                    process.pid,
                    process.comm,
                    evidence,
                    **held,
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
                    **held,
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
                    "recv_queue": d.details.get("recv_queue"),
                    "send_queue": d.details.get("send_queue"),
                    "remote": d.remote,
                },
                fact=("socket", d.ino or d.file_id),
                fd=d.fd,
            )
