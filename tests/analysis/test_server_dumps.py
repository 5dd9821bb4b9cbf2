"""Real servers dumped with CRIU 4.2.1 (scripts/dump-scenarios/postgres.py, nginx.py), against
what /proc said about the live processes just before the dump and where the markers lie in the
dumped pages (fixtures/scenarios/NAME.truth.json, written by make-fixture.py with crit).

postgres: a PostgreSQL 15 server with its shared memory in System V segments (shared buffers,
WAL buffers and backend status in the main one), two clients connected: psql in the tree (under
pg-init, the tree's root, beside the postmaster) over TCP, another outside it over a UNIX socket.
nginx: a master and two workers sharing MAP_SHARED|MAP_ANONYMOUS zones (a limit_req zone keyed
by planted markers), one keep-alive connection open.
redis: a redis 7.0 server with a password, a redis-cli in the tree (under redis-init, the
tree's root) that stored the markers, a client outside the tree; the server writes its title over
argv and its environment.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from checkforensics.analysis.memsearch import SearchPattern, search_memory
from checkforensics.cli import run
from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel

from conftest import SCENARIOS

SERVERS = ("nginx", "postgres", "redis")
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
        warnings = checkpoint.diagnostics.said(Part.MEMORY)
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


@pytest.mark.parametrize("name", SERVERS)
def test_ps_and_inspect_show_what_proc_showed(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """What the analyst reads, ps --env and inspect's process tree, is /proc/PID/cmdline and
    /proc/PID/environ of every process, padding left out, whoever rewrote a title and however."""
    expected = {
        p["dump_pid"]: (_without_padding(p["cmdline"]), _without_padding(p["env"])) for p in _truth(name)["processes"]
    }
    processes = _json(capsys, "ps", _source(name), "--env")["processes"]
    assert {p["pid"]: (p["cmdline"], p["env"]) for p in processes} == expected
    tree = _json(capsys, "inspect", _source(name), "--ps-tree-cmd", "--ps-tree-env")
    assert _inspected(tree) == expected


def _inspected(document: Any) -> dict[int, tuple[list[str], list[str]]]:
    """pid -> (cmdline, env) of every process inspect's JSON holds, however deep in its tree."""
    found: dict[int, tuple[list[str], list[str]]] = {}
    todo = [document]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            if "cmdline" in item and "env" in item:
                found[item["pid"]] = (item["cmdline"], item["env"])
            todo += item.values()
        elif isinstance(item, list):
            todo += item
    return found


def _redis(comm: str) -> dict[str, Any]:
    (process,) = [p for p in _truth("redis")["processes"] if p["comm"] == comm]
    return process


def test_redis_title_fits_in_argv_and_its_environment_went_to_the_heap() -> None:
    """redis fills argv and the environment with NULs and writes "redis-server 127.0.0.1:PORT"
    at argv's start: shorter than argv ("redis-server CONF"), so argv's last byte stays NUL and
    /proc reads argv as it lies (the title, then 20 empty words) and the environment as 160 empty
    entries. checkforensics shows the title alone and no environment; what the environment held
    is in the heap now, where redis copied each entry (setenv) before the rewrite."""
    truth = _truth("redis")
    server, cli, init = _redis("redis-server"), _redis("redis-cli"), _redis("redis-init")
    assert server["cmdline"] == ["redis-server 127.0.0.1:56379", *[""] * 20]
    assert set(server["env"]) == {""} and len(server["env"]) == 160
    with CheckpointModel.open(_source("redis")) as checkpoint:
        tree = checkpoint.tree
        checkpoint.command_lines(env=True)
        process = tree.by_pid(server["dump_pid"])
        assert process is not None
        assert process.cmdline == ["redis-server 127.0.0.1:56379"] and process.env == []
        mm = checkpoint.mm(server["dump_pid"])
        memory = checkpoint.memory(server["dump_pid"])
        assert memory.read(mm.mm_arg_end - 1, 1) == b"\0"
        password = truth["planted"]["password"]
        name = b"REDIS_PASSWORD="
        addresses = [int(a, 16) for a in server["markers_in_memory"][password]["addresses"]]
        (moved,) = [address for address in addresses if memory.read(address - len(name), len(name)) == name]
        assert not mm.mm_env_start <= moved < mm.mm_env_end
        heap = [vma for vma in mm.vmas if vma.start <= moved < vma.end]
        assert len(heap) == 1
    # the others keep their argv and environment: redis-cli's holds the password
    for other in (cli, init):
        assert tree.by_pid(other["dump_pid"]).env == other["env"]
    assert f"REDISCLI_AUTH={password}" in cli["env"] and f"REDIS_PASSWORD={password}" in init["env"]


def test_redis_values_lie_in_the_server_after_their_sds_header() -> None:
    """Each value redis-cli stored lies in the server's heap as an sds string: right after a
    header of its length, the room allocated and the type (1, SDS_TYPE_8), as a string value of
    up to 255 bytes is kept (up to 44, an embedded string: as much room as length; the 56-byte
    Slack token has what its allocation holds); the outside client's value is only in the server."""
    truth = _truth("redis")
    server, cli = _redis("redis-server"), _redis("redis-cli")
    values = [*truth["planted"]["tokens"].values(), "marker-redis-value-8e52", "marker-redis-outside-2b64"]
    with CheckpointModel.open(_source("redis")) as checkpoint:
        memory = checkpoint.memory(server["dump_pid"])
        for value in values:
            addresses = [int(a, 16) for a in server["markers_in_memory"][value]["addresses"]]
            headers = [memory.read(address - 3, 3) for address in addresses]
            sds = [h for h in headers if h[0] == len(value) and h[1] >= len(value) and h[2] == 1]
            assert len(sds) == 1, (value, headers)
            assert sds[0][1] == len(value) if len(value) <= 44 else sds[0][1] > len(value)
    assert "marker-redis-outside-2b64" not in cli["markers_in_memory"]
    assert set(truth["planted"]["tokens"].values()) <= set(cli["markers_in_memory"])
