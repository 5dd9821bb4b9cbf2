"""Every descriptor of the real dumps made here against what /proc/PID/fd, fdinfo and
/proc/net said about it just before the dump (fixtures/scenarios/NAME.truth.json)."""

from __future__ import annotations

import ipaddress
import json
from functools import cache
from typing import Any

import pytest

from checkforensics.model import CheckpointModel
from checkforensics.model.descriptions import kind as descriptor_kind
from checkforensics.model.files import Descriptor

from conftest import SCENARIOS

NAMES = ("files", "ns", "proc", "restore", "sockets", "weird")
SOCKET_TYPES = {"UNIX": "UNIXSK", "INET": "INETSK", "INET6": "INETSK", "NETLINK": "NETLINKSK", "PACKET": "PACKETSK"}
ANON_TYPES = {
    "eventfd": "EVENTFD", "eventpoll": "EVENTPOLL", "signalfd": "SIGNALFD", "timerfd": "TIMERFD",
    "inotify": "INOTIFY", "fanotify": "FANOTIFY", "pidfd": "PIDFD", "memfd": "MEMFD", "pipe": "PIPE",
}  # fmt: skip
ACCESS = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}
O_PATH = 0o10000000
O_DIRECTORY, O_TMPFILE = 0o200000, 0o20000000  # O_TMPFILE is __O_TMPFILE | O_DIRECTORY


@cache
def _descriptors(name: str) -> dict[int, dict[int | str, Descriptor]]:
    with CheckpointModel.open(SCENARIOS / name) as checkpoint:
        table = checkpoint.files()
    return {process.pid: {d.fd: d for d in process.descriptors} for process in table.processes}


def _cases() -> list[tuple[str, int, dict[str, Any]]]:
    cases = []
    for name in NAMES:
        truth = json.loads((SCENARIOS / f"{name}.truth.json").read_text())
        for process in truth["processes"]:
            for fd in process.get("fds", []):
                cases.append((name, process["dump_pid"], fd))
    return cases


CASES = _cases()


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ipaddress.ip_address(host).version == 6 else f"{host}:{port}"


def test_cwd_and_root_are_directories() -> None:
    """files named every cwd and root REG (CRIU's kind of entry); they are directories, as the
    mode CRIU recorded says, and at the paths /proc gave."""
    for name in NAMES:
        truth = json.loads((SCENARIOS / f"{name}.truth.json").read_text())
        for process in truth["processes"]:
            ours = _descriptors(name)[process["dump_pid"]]
            if process["state"] == "Z":
                assert process["cwd"] is None and "cwd" not in ours  # a zombie has none
                continue
            for which in ("cwd", "root"):
                assert (descriptor_kind(ours[which]), ours[which].path) == ("DIR", process[which]), (name, which)


def test_every_process_has_exactly_its_descriptors() -> None:
    for name in NAMES:
        truth = json.loads((SCENARIOS / f"{name}.truth.json").read_text())
        for process in truth["processes"]:
            ours = {fd for fd in _descriptors(name)[process["dump_pid"]] if isinstance(fd, int)}
            assert ours == {fd["fd"] for fd in process.get("fds", [])}, (name, process["pid"])
    assert len(CASES) > 150


@pytest.mark.parametrize(("name", "pid", "fd"), CASES, ids=[f"{n}-{p}-{f['fd']}" for n, p, f in CASES])
def test_descriptor_is_what_proc_said(name: str, pid: int, fd: dict[str, Any]) -> None:
    ours = _descriptors(name)[pid][fd["fd"]]
    kind, target = fd["type"], fd["target"]
    flags = int(fd["fdinfo"]["flags"], 8)
    if target.startswith(("uts:[", "net:[", "ipc:[", "mnt:[", "pid:[", "user:[", "cgroup:[", "time:[")):
        assert (ours.type, ours.details["ns"]) == ("NS", target.split(":")[0])
    elif target == "/dev/net/tun":
        iff = next(line for line in fd["fdinfo"]["more"] if line.startswith("iff:"))
        assert (ours.type, ours.details["netdev"]) == ("TUNF", iff.split("\t")[1])
    elif kind in ("file", "chardev", "tty"):
        assert ours.type in ({"REG", "FIFO"} if kind != "tty" else {"TTY"})
        deleted = target.endswith(" (deleted)")
        if ours.type != "TTY":
            assert ours.path == target.removesuffix(" (deleted)")
            assert ours.deleted == deleted
        if ours.type == "REG":
            assert ours.pos == int(fd["fdinfo"]["pos"])
        # what files calls it: a character device CHR, a directory opened DIR (O_DIRECTORY and
        # not O_TMPFILE, which carries that bit to make a regular file), a file REG
        directory = flags & O_DIRECTORY and not flags & O_TMPFILE
        wanted = "CHR" if kind == "chardev" else "DIR" if directory else ours.type
        assert descriptor_kind(ours) == wanted and (wanted != "REG" or kind == "file")
    elif kind == "socket":
        _check_socket(ours, fd["socket"])
    else:
        assert ours.type == ANON_TYPES[kind]
        if kind == "pipe":
            assert f"pipe:[{ours.pipe_id}]" == target
        if kind == "memfd":
            assert f"/{ours.path} (deleted)" == target
            assert ours.pos == int(fd["fdinfo"]["pos"])
        if kind == "eventfd":
            count = next(line for line in fd["fdinfo"]["more"] if line.startswith("eventfd-count:"))
            assert ours.details["counter"] == int(count.split(":")[1], 16)
    if ours.flags is not None and kind != "socket":
        expected = "O_PATH" if flags & O_PATH else ACCESS[flags & 3]
        assert ours.flags.split(" | ")[0] == expected


def _check_socket(ours: Descriptor, facts: dict[str, Any]) -> None:
    if "from" in facts:  # /proc could not describe it; the truth file took crit's word
        assert ours.type == facts["kind"]
        return
    assert ours.family == facts["family"]
    assert ours.type == SOCKET_TYPES[facts["family"]]
    if facts["family"] == "UNIX":
        assert ours.sock_type == facts["type"]
        assert ours.state == ("LISTEN" if facts["listening"] else facts["state"])
        if facts.get("path"):
            assert ours.local is not None
            local = ours.local.replace("\0", "@")  # /proc/net/unix shows an abstract name's NULs as @
            assert local == facts["path"] or local.endswith("/" + facts["path"])
        if facts.get("peer_ino"):
            assert ours.peer == facts["peer_ino"]
    elif facts["family"] in ("INET", "INET6"):
        assert ours.proto == facts["proto"] or (facts["proto"] == "RAW" and ours.sock_type == "RAW")
        assert ours.local == _address(*facts["local"])
        assert ours.remote == _address(*facts["remote"])
        if facts["proto"] == "TCP":
            assert ours.state == facts["state"]
    elif facts["family"] == "NETLINK":
        assert ours.details["portid"] == facts["portid"]
    elif facts["family"] == "PACKET":
        assert ours.sock_type == {2: "DGRAM", 3: "RAW"}[facts["type"]]
        assert ours.details["ifindex"] == facts["ifindex"]
