"""Descriptors and in-flight data against the truth files of the real fixtures."""

from __future__ import annotations

import struct

import pytest

from checkforensics.images.flags import TcpState
from checkforensics.model import CheckpointModel
from checkforensics.model.descriptions import preview
from checkforensics.model.files import format_address, unix_name

from conftest import FIXTURES, truth

CASES = [
    ("counters-blog", FIXTURES / "counters-blog.tar"),
    ("counters-blog-later", FIXTURES / "counters-blog-later.tar.zst"),
    ("busybox-counter-criu41", FIXTURES / "busybox-counter-criu41.tar"),
    ("bare-bash-sleep", FIXTURES / "bare-bash-sleep"),
    ("inflight", FIXTURES / "inflight.tar.zst"),
]


def _table(path, with_data=False):
    with CheckpointModel.open(path) as checkpoint:
        return checkpoint.files(with_data=with_data)


@pytest.mark.parametrize(("fixture", "path"), CASES)
def test_every_descriptor_matches_the_truth(fixture: str, path) -> None:
    table = _table(path)
    assert table.warnings == []
    for process, facts in zip(table.processes, truth(fixture)["processes"], strict=True):
        numbered = {d.fd: d for d in process.descriptors if isinstance(d.fd, int)}
        assert sorted(numbered) == [fd["fd"] for fd in facts["fds"]]
        for expected in facts["fds"]:
            ours = numbered[expected["fd"]]
            assert ours.type == expected["type"]
            if "path" in expected:
                assert ours.path == expected["path"]
            if "pipe_id" in expected:
                assert ours.pipe_id == expected["pipe_id"]
            if "state" in expected:
                name = TcpState(expected["state"]).name
                if ours.family == "UNIX" or ours.proto != "TCP":  # named as /proc/net/unix and ss do
                    name = {"ESTABLISHED": "CONNECTED", "CLOSE": "UNCONNECTED"}.get(name, name)
                assert ours.state == name
            if "sport" in expected:
                words = expected["src"]
                raw = b"".join(struct.pack("<I", w) for w in words)
                host = ".".join(str(b) for b in raw[:4])
                assert ours.local == f"{host}:{expected['sport']}"
                assert ours.proto == expected["proto"]
            if "peer" in expected:
                assert (ours.ino, ours.peer) == (expected["ino"], expected["peer"])
        specials = {d.fd: d for d in process.descriptors if isinstance(d.fd, str)}
        assert set(specials) == {"cwd", "root", "exe"}
        assert specials["exe"].path and specials["exe"].path.startswith("/")


def test_deleted_file_and_every_kind_of_inflight_data() -> None:
    table = _table(FIXTURES / "inflight.tar.zst", with_data=True)
    expected = truth("inflight")["inflight"]
    (process,) = table.processes
    by_kind = {}
    for d in process.descriptors:
        for item in d.inflight:
            by_kind.setdefault(item.kind, (d, item.data))
    assert by_kind["pipe"][1] == expected["pipe"].encode()
    assert by_kind["unix-queue"][1] == expected["unix_queue"].encode()
    assert by_kind["tcp-inq"][1] == expected["tcp_inq"].encode()
    assert by_kind["deleted-file"][1] == expected["deleted_file"].encode()
    assert by_kind["memfd"][1] == expected["memfd"].encode()
    deleted = by_kind["deleted-file"][0]
    assert (deleted.path, deleted.deleted, deleted.details["remap"]) == ("/var/tmp/dropper.sh", True, "ghost")
    assert by_kind["memfd"][0].path == "memfd:payload"
    assert by_kind["tcp-inq"][0].details["recv_queue"] == len(expected["tcp_inq"])


def test_pipes_shared_between_processes() -> None:
    table = _table(FIXTURES / "counters-blog.tar")
    tee = table.processes[2]
    stdin = next(d for d in tee.descriptors if d.fd == 0)
    assert stdin.details["shared_with"] == ["7:1", "7:2"]


def test_without_data_nothing_is_read() -> None:
    table = _table(FIXTURES / "inflight.tar.zst")
    assert all(not d.inflight for p in table.processes for d in p.descriptors)


def test_address_formatting() -> None:
    assert format_address([0x0100007F], 80, "INET") == "127.0.0.1:80"
    assert format_address([0, 0, 0, 0x01000000], 8080, "INET6") == "[::1]:8080"
    words = list(struct.unpack("<4I", bytes.fromhex("fd000000000000000000000000000005")))
    assert format_address(words, 443, "INET6") == "[fd00::5]:443"
    assert unix_name(b"\0abstract") == "@abstract"
    assert unix_name(b"/run/x.sock") == "/run/x.sock"
    assert unix_name(b"") is None
    assert preview(b"a\\b\x00\n" + b"x" * 100, 8) == "a\\x5cb\\x00\\x0axxx…"
