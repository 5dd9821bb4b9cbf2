"""Real servers dumped with CRIU 4.2.1 (scripts/dump-scenarios/postgres.py, nginx.py), against
what /proc said about the live processes just before the dump and where the markers lie in the
dumped pages (fixtures/scenarios/NAME.truth.json, written by make-fixture.py with crit).

postgres: a PostgreSQL 15 server with its shared memory in System V segments (shared buffers,
WAL buffers and backend status in the main one), two clients connected: psql in the tree (under
pg-init, the tree's root, beside the postmaster) over TCP, another outside it over a UNIX socket.
nginx: a master and two workers sharing MAP_SHARED|MAP_ANONYMOUS zones (a limit_req zone keyed
by planted markers), one keep-alive connection open.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from checkforensics.analysis.memsearch import SearchPattern, search_memory
from checkforensics.cli import run
from checkforensics.model import CheckpointModel

from conftest import SCENARIOS

SERVERS = ("nginx", "postgres")
STATES = {"S": "Alive", "R": "Alive", "D": "Alive"}
# /proc/PID/maps of a shared memory object: the inode is the shmid (a SysV segment's id, or the
# shmem inode CRIU names pagemap-shmem-INODE.img), the name /SYSV<key> or /dev/zero
SHARED_MAP = re.compile(
    r"^([0-9a-f]+)-([0-9a-f]+) rw-s 00000000 00:\w+ (\d+) +(/SYSV([0-9a-f]{8})|/dev/zero) \(deleted\)$"
)


@cache
def _truth(name: str) -> dict[str, Any]:
    return json.loads((SCENARIOS / f"{name}.truth.json").read_text())


def _source(name: str) -> str:
    return str(SCENARIOS / f"{name}.tar.zst")


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert run([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _depth_first(name: str) -> list[int]:
    """The pids (as the images say) in CRIU's order: depth first from the root, children in the
    order /proc listed them (truth.json lists the tree breadth first)."""
    processes = _truth(name)["processes"]
    children: dict[int, list[dict[str, Any]]] = {}
    for process in processes[1:]:
        children.setdefault(process["ppid"], []).append(process)
    order, todo = [], [processes[0]]
    while todo:
        process = todo.pop()
        order.append(process["dump_pid"])
        todo += reversed(children.get(process["pid"], []))
    return order


def _postgres(role: str) -> list[dict[str, Any]]:
    """The postgres processes /proc showed: "postmaster", its "children", "psql" (the client)."""
    processes = _truth("postgres")["processes"]
    (postmaster,) = [p for p in processes if p["cmdline"] == ["postgres"]]
    if role == "postmaster":
        return [postmaster]
    if role == "children":
        return [p for p in processes if p["ppid"] == postmaster["pid"]]
    return [p for p in processes if p["comm"] == "psql"]


def _shared_maps(name: str) -> dict[int, dict[int, tuple[int, int]]]:
    """shmid -> {pid as the images say: (start, end)} of every shared memory mapping /proc listed."""
    maps: dict[int, dict[int, tuple[int, int]]] = {}
    for process in _truth(name)["processes"]:
        for line in process["maps_special"]:
            found = SHARED_MAP.match(line)
            if found:
                start, end, shmid = int(found[1], 16), int(found[2], 16), int(found[3])
                maps.setdefault(shmid, {})[process["dump_pid"]] = (start, end)
    return maps


@pytest.mark.parametrize("name", SERVERS)
def test_processes_are_what_proc_showed(name: str) -> None:
    truth = _truth(name)
    with CheckpointModel.open(_source(name)) as checkpoint:
        tree = checkpoint.tree
        checkpoint.command_lines(env=True)
    assert [p.pid for p in tree.processes] == _depth_first(name)
    dump_pids = {p["pid"]: p["dump_pid"] for p in truth["processes"]}
    for expected in truth["processes"]:
        process = tree.by_pid(expected["dump_pid"])
        assert process is not None
        assert process.ppid == dump_pids.get(expected["ppid"], 0)
        assert process.pgid == int(expected["status"]["NSpgid"].split()[-1])
        assert process.sid == int(expected["status"]["NSsid"].split()[-1])
        assert process.state == STATES[expected["state"]]
        assert process.comm == expected["comm"]
        assert [thread.comm for thread in process.threads] == [thread["comm"] for thread in expected["threads"]]
        assert process.uid == int(expected["status"]["Uid"].split()[0])
        assert process.gid == int(expected["status"]["Gid"].split()[0])
        # what /proc/PID/cmdline and /proc/PID/environ held, without the NUL padding a title
        # rewrite leaves (ps shows it so): titles that ran on past argv included
        assert process.cmdline == _without_padding(expected["cmdline"])
        assert process.env == _without_padding(expected["env"])


def _without_padding(words: list[str]) -> list[str]:
    while words and words[-1] == "":
        words = words[:-1]
    return words


def test_postgres_titles_overflow_from_argv_into_the_environment() -> None:
    """The postmaster's argv is just "postgres" (9 bytes with its NUL); its children write their
    titles over argv and on into the environment. Like /proc/PID/cmdline (the kernel sees that
    argv's last byte is no longer NUL and reads on to the first NUL), checkforensics shows the
    whole title; what is left of the environment is the title's tail, then NUL padding."""
    with CheckpointModel.open(_source("postgres")) as checkpoint:
        tree = checkpoint.tree
        checkpoint.command_lines(env=True)
    (root,), children = _postgres("postmaster"), _postgres("children")
    assert tree.by_pid(root["dump_pid"]).cmdline == root["cmdline"] == ["postgres"]
    assert any(entry.startswith("CFW_SECRET=") for entry in root["env"])
    assert len(children) == 5
    titles = []
    for expected in children:
        process = tree.by_pid(expected["dump_pid"])
        assert process is not None and process.cmdline is not None and process.env is not None
        assert process.cmdline == expected["cmdline"] and len(process.cmdline) == 1
        assert process.env == [expected["env"][0]] and process.cmdline[0].endswith(process.env[0])
        titles.append(process.cmdline[0])
    assert titles[:3] == ["postgres: checkpointer ", "postgres: background writer ", "postgres: walwriter "]
    assert titles[3].startswith("postgres: postgres postgres 127.0.0.1(") and titles[3].endswith(") idle")
    assert titles[4] == "postgres: postgres postgres [local] idle in transaction"


def test_postgres_sysv_segments_with_their_sizes_and_mappers(capsys: pytest.CaptureFixture[str]) -> None:
    """Every segment /proc/sysvipc/shm listed in the server's IPC namespace: its key, size and
    resident bytes (all of which CRIU dumps), mapped by the processes /proc/PID/maps showed."""
    segments = _truth("postgres")["sysv_shm"]
    maps = _shared_maps("postgres")
    shared = _json(capsys, "memparse", _source("postgres"))["shared"]
    assert [(s["shmid"], s["kind"], s["key"], s["size"], s["dumped_size"], s["mapped_by"]) for s in shared] == [
        (s["shmid"], "sysvipc", s["key"], s["size"], s["rss"], sorted(maps.get(s["shmid"], {}))) for s in segments
    ]
    assert [len(s["mapped_by"]) for s in shared] == [s["nattch"] for s in segments] == [6, 6, 2]


def test_nginx_zones_are_shared_anonymous_memory_of_all_three(capsys: pytest.CaptureFixture[str]) -> None:
    """Each zone is one MAP_SHARED|MAP_ANONYMOUS mapping made before the fork (CRIU 4 dumps it
    as the memfd /dev/zero, named by its shmem inode), as large as /proc/PID/maps showed it."""
    maps = _shared_maps("nginx")
    shared = _json(capsys, "memparse", _source("nginx"))["shared"]
    expected = []
    for shmid, places in sorted(maps.items()):
        (size,) = {end - start for start, end in places.values()}
        expected.append((shmid, "memfd", "/dev/zero", size, sorted(places)))
    assert [(s["shmid"], s["kind"], s["name"], s["size"], s["mapped_by"]) for s in shared] == expected
    assert [size for *_, size, _ in expected] == [65536, 65536, 4096]  # cfw_req, cfw_conn, nginx's own


def _planted_private(name: str) -> dict[str, set[tuple[int, int]]]:
    planted: dict[str, set[tuple[int, int]]] = {marker: set() for marker in _truth(name)["markers"]}
    for process in _truth(name)["processes"]:
        for marker, seen in process.get("markers_in_memory", {}).items():
            planted[marker] |= {(process["dump_pid"], int(address, 16)) for address in seen["addresses"]}
    return planted


def _planted_shared(name: str) -> dict[tuple[int, str], set[int]]:
    planted: dict[tuple[int, str], set[int]] = {}
    for image, markers in _truth(name).get("markers_in_shared_memory", {}).items():
        shmid = int(image.removeprefix("pagemap-shmem-").removesuffix(".img"))
        for marker, seen in markers.items():
            planted[shmid, marker] = {int(offset, 16) for offset in seen["addresses"]}
    return planted


@pytest.mark.parametrize("name", SERVERS)
def test_every_marker_at_its_addresses_and_offsets(name: str) -> None:
    patterns = [SearchPattern.from_literal(marker.encode()) for marker in _truth(name)["markers"]]
    with CheckpointModel.open(_source(name)) as checkpoint:
        memories = checkpoint.memories()
        private: dict[str, set[tuple[int, int]]] = {marker: set() for marker in _truth(name)["markers"]}
        for match in search_memory(checkpoint, memories, patterns):
            private[match.pattern.name].add((match.pid, match.address))
        shared: dict[tuple[int, str], set[int]] = {}
        for obj in checkpoint.shared_memory:
            for match in search_memory(checkpoint, [obj], patterns):
                shared.setdefault((obj.shmid, match.pattern.name), set()).add(match.address)
        warnings = checkpoint.memory_warnings
    assert private == _planted_private(name)
    assert shared == _planted_shared(name)
    assert warnings == []


def test_postgres_rows_in_shared_buffers_seen_by_every_process(capsys: pytest.CaptureFixture[str]) -> None:
    """The rows, committed or not, lie in the main segment (a heap page in shared buffers, its
    WAL record, a backend's last statement text): one search of the segment, placed at its address in
    each of the six processes, which /proc showed mapping it there."""
    truth = _truth("postgres")
    main = truth["sysv_shm"][0]
    where = _shared_maps("postgres")[main["shmid"]]
    document = _json(capsys, "memgrep", _source("postgres"), "marker-pg-row", "marker-pg-uncommitted")
    offsets = {
        (marker, int(offset, 16))
        for marker, seen in truth["markers_in_shared_memory"]["pagemap-shmem-0.img"].items()
        if marker.startswith(("marker-pg-row-", "marker-pg-uncommitted-"))
        for offset in seen["addresses"]
    }
    found = document["shared_matches"]
    assert {(m["match"], m["offset"]) for m in found} == {(marker[:-5], offset) for marker, offset in offsets}
    # each row in a heap page and a WAL record; the uncommitted one also in its backend's last
    # statement (the other backend's has moved on to later statements since the rows)
    assert len(found) == len(offsets) == 3 * 2 + 3
    for match in found:
        assert (match["object"]["kind"], match["object"]["shmid"], match["object"]["key"]) == (
            "sysvipc",
            main["shmid"],
            main["key"],
        )
        assert {place["pid"]: place["address"] - match["offset"] for place in match["mapped"]} == {
            pid: start for pid, (start, _) in where.items()
        }
    # the private copies: only in the backends that ran the statements, and the psql that sent them
    backends = [p for p in _postgres("children") if p["cmdline"][0].startswith("postgres: postgres postgres ")]
    assert len(backends) == 2
    assert {m["pid"] for m in document["matches"]} == {p["dump_pid"] for p in backends + _postgres("psql")}


def _nginx_connection_holders() -> dict[str, int]:
    """"basic"/"bearer" -> the pid (as the images say) of the worker whose socket is connected to
    the client port that sent that credential (truth.json's http_credentials)."""
    truth = _truth("nginx")
    holders = {}
    for kind, planted in truth["http_credentials"].items():
        (pid,) = [
            p["dump_pid"]
            for p in truth["processes"]
            for fd in p["fds"]
            if fd.get("socket", {}).get("state") == "ESTABLISHED"
            and fd["socket"]["remote"] == ["127.0.0.1", planted["client_port"]]
        ]
        holders[kind] = pid
    return holders


def test_nginx_zone_keys_in_the_zone_and_the_requests_in_their_workers(capsys: pytest.CaptureFixture[str]) -> None:
    """limit_req stores each key in its zone's slab: both requests' keys, in one object, mapped in
    master and workers alike; each open connection's Authorization header only in the worker
    holding that connection."""
    truth = _truth("nginx")
    ((image, planted),) = truth["markers_in_shared_memory"].items()
    shmid = int(image.removeprefix("pagemap-shmem-").removesuffix(".img"))
    where = _shared_maps("nginx")[shmid]
    credentials = truth["http_credentials"]
    values = [credentials[kind]["value"] for kind in ("basic", "bearer")]
    document = _json(capsys, "memgrep", _source("nginx"), "marker-nginx-zone", *values)
    found = document["shared_matches"]
    assert sorted(m["offset"] for m in found) == sorted(
        int(a, 16) for seen in planted.values() for a in seen["addresses"]
    )
    assert len(found) == 2
    for match in found:
        assert (match["object"]["shmid"], match["object"]["name"]) == (shmid, "/dev/zero")
        assert {place["pid"]: place["address"] - match["offset"] for place in match["mapped"]} == {
            pid: start for pid, (start, _) in where.items()
        }
    holders = _nginx_connection_holders()
    master = truth["processes"][0]["dump_pid"]
    assert master not in holders.values()
    for kind, value in zip(("basic", "bearer"), values, strict=True):
        assert {m["pid"] for m in document["matches"] if m["match"] == value} == {holders[kind]}


def test_nginx_master_title_overflows_and_worker_titles_fit() -> None:
    """The master's title ("nginx: master process " and its argv) is longer than its argv: as
    /proc does, checkforensics reads it on into the environment. A worker's title fits in argv,
    padded with NULs: one word, not a run of empty arguments, and no environment left at all."""
    truth = _truth("nginx")
    with CheckpointModel.open(_source("nginx")) as checkpoint:
        tree = checkpoint.tree
        checkpoint.command_lines(env=True)
    master, *workers = truth["processes"]
    process = tree.by_pid(master["dump_pid"])
    assert process is not None and process.cmdline is not None and process.env is not None
    assert process.cmdline == master["cmdline"]
    assert process.cmdline[0].startswith("nginx: master process nginx -p /tmp/cfw-scenarios/nginx/ ")
    assert process.env == [master["env"][0]] and process.cmdline[0].endswith(process.env[0])
    for expected in workers:
        worker = tree.by_pid(expected["dump_pid"])
        assert worker is not None and worker.cmdline == ["nginx: worker process"] and worker.env == []
        assert expected["cmdline"][0] == "nginx: worker process" and set(expected["cmdline"][1:]) == {""}
        assert set(expected["env"]) == {""}
