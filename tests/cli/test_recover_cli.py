"""``recover`` on real dumps: each object in flight written once, whoever holds it.

A deleted file, a pipe, a socket's queue, a memfd are objects that many descriptors can hold (dup,
fork, opening the same file again); recover writes each once and lists every descriptor holding
it. The sharing dump (fixtures/scenarios/sharing, scripts/dump-scenarios/sharing.py) has a
deleted file held by six descriptors in three processes, through two open files; a pipe both
ends of which three processes hold; two datagrams queued on a socket two processes hold; a TCP
socket two processes hold; a memfd opened twice. The holders are checked against what `files
--data --format json` says of every descriptor, and against /proc before the dump.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from checkforensics.cli import run

from conftest import FIXTURES, SCENARIOS

SOURCES = {
    "inflight": FIXTURES / "inflight.tar.zst",
    **{name: SCENARIOS / name for name in ("files", "ns", "sharing", "sockets", "weird")},
}
# The key of a files record that names the object each kind of data in flight belongs to.
OBJECT_KEYS = {
    "pipe": "pipe_id", "fifo": "pipe_id", "unix-queue": "ino", "socket-queue": "ino", "tcp-inq": "ino",
    "tcp-outq": "ino", "deleted-file": "remap_id", "memfd": "inode_id",
}  # fmt: skip
# Before: files written / manifest items (one item and one file per descriptor, pipes aside)
BEFORE = {"inflight": (5, 6), "files": (9, 12), "ns": (4, 4), "sharing": (16, 21), "sockets": (18, 21), "weird": (6, 6)}


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert run([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _recovered(capsys: pytest.CaptureFixture[str], name: str, out: Path) -> list[dict[str, Any]]:
    document = _json(capsys, "recover", str(SOURCES[name]), "-o", str(out))
    manifest = json.loads((out / "manifest.json").read_text())["items"]
    assert document == {"output": str(out), "items": manifest, "warnings": []}
    return manifest


def _held(capsys: pytest.CaptureFixture[str], name: str) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """(kind, object id) -> the files records (with pid and comm) that hold data of that kind of
    that object, in the order files lists them; each record's inflight cut to that kind."""
    held: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for process in _json(capsys, "files", str(SOURCES[name]), "--data")["processes"]:
        for fd in process["fds"]:
            for kind in dict.fromkeys(item["kind"] for item in fd.get("inflight", [])):
                record = {**fd, "pid": process["pid"], "comm": process["comm"]}
                record["inflight"] = [item for item in fd["inflight"] if item["kind"] == kind]
                held.setdefault((kind, fd[OBJECT_KEYS[kind]]), []).append(record)
    return held


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_object_written_once_with_every_holder(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One file per object, the bytes of every descriptor holding it (a queue's messages one
    after the other), and as holders exactly the descriptors files shows holding that object."""
    out = tmp_path / "recovered"
    manifest = _recovered(capsys, name, out)
    held = _held(capsys, name)
    assert sorted(p.name for p in out.iterdir()) == sorted([*(item["file"] for item in manifest), "manifest.json"])
    assert len({item["file"] for item in manifest}) == len(manifest) == len(held) < BEFORE[name][1]
    assert len(manifest) <= BEFORE[name][0]
    for item in manifest:
        key = OBJECT_KEYS[item["kind"]]
        assert [k for k in ("pipe_id", "ino", "remap_id", "inode_id") if item[k] is not None] == [key]
        records = held[item["kind"], item[key]]
        assert item["holders"] == [{"pid": r["pid"], "comm": r["comm"], "fd": r["fd"]} for r in records]
        content = (out / item["file"]).read_bytes()
        assert (item["size"], item["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
        parts = item["messages"] if item["messages"] is not None else [len(content)]
        assert sum(parts) == len(content)
        assert (item["messages"] is not None) == (item["kind"] in ("unix-queue", "socket-queue"))
        offsets = [sum(parts[:i]) for i in range(len(parts))]
        hashes = [hashlib.sha256(content[at : at + size]).hexdigest() for at, size in zip(offsets, parts, strict=True)]
        for record in records:  # every holder sees these very bytes
            assert [entry["sha256"] for entry in record["inflight"]] == hashes
            assert all(entry["complete"] for entry in record["inflight"]) == item["complete"]
        first = records[0]
        assert (item["type"], item["path"]) == (first["type"], first["path"])
        assert (item["local"], item["remote"]) == (first.get("local"), first.get("remote"))


def test_the_sharing_dump_object_by_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each object's bytes as the scenario made them, held by the descriptors /proc showed; the
    deleted file once for its six descriptors (two open files, one ghost file), the second
    datagram of a queue too (it used to be lost: both datagrams were named by one file)."""
    truth = json.loads((SCENARIOS / "sharing.truth.json").read_text())
    planted = truth["inflight"]
    dump_pid = {p["pid"]: p["dump_pid"] for p in truth["processes"]}
    out = tmp_path / "recovered"
    manifest = _recovered(capsys, "sharing", out)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in manifest:
        by_kind.setdefault(item["kind"], []).append(item)
    assert sorted((kind, len(items)) for kind, items in by_kind.items()) == [
        ("deleted-file", 1), ("memfd", 1), ("pipe", 1), ("tcp-inq", 2), ("unix-queue", 1)
    ]  # fmt: skip

    def holders(item: dict[str, Any]) -> dict[int, list[int]]:
        fds: dict[int, list[int]] = {}
        for holder in item["holders"]:
            fds.setdefault(holder["pid"], []).append(holder["fd"])
        return fds

    def proc(name: str) -> dict[int, list[int]]:
        return {dump_pid[int(pid)]: fds[name] for pid, fds in planted["held_by"].items() if name in fds}

    (ghost,) = by_kind["deleted-file"]
    assert (out / ghost["file"]).read_text() == planted["ghost"]["content"]
    assert ghost["path"] == planted["ghost"]["path"]
    assert holders(ghost) == proc("ghost") and len(ghost["holders"]) == 6
    (pipe,) = by_kind["pipe"]
    assert (out / pipe["file"]).read_text() == planted["pipe"] and holders(pipe) == proc("pipe")
    (queue,) = by_kind["unix-queue"]
    assert (out / queue["file"]).read_text() == "".join(planted["dgram"])
    assert queue["messages"] == [len(datagram) for datagram in planted["dgram"]]
    assert holders(queue) == {pid: [fds[-1]] for pid, fds in proc("dgram").items()}  # the queue end
    (memfd,) = by_kind["memfd"]
    assert (out / memfd["file"]).read_text() == planted["memfd"] and holders(memfd) == proc("memfd")
    to_client, to_accepted = sorted(by_kind["tcp-inq"], key=lambda item: len(item["holders"]))
    assert (out / to_accepted["file"]).read_text() == planted["tcp_to_accepted"]
    assert (out / to_client["file"]).read_text() == planted["tcp_to_client"]
    assert sorted(holders(to_accepted)) == sorted(proc("tcp")) and len(holders(to_client)) == 1
