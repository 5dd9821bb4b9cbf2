"""The credentials real servers hold, found by the credential rules in real dumps, each copy that
the truth file counts (fixtures/scenarios/NAME.truth.json: where make-fixture.py found each
planted value with crit) and nothing that was not planted.

nginx: a Basic and a Bearer Authorization header, each in the worker holding its connection, as
nginx parsed it in place ("Authorization\\0 Basic ..."). postgres: the password in the
environment of the server (POSTGRES_PASSWORD) and of a psql client (PGPASSWORD); fake tokens
that psql inserted into a table, in psql, in the backend that ran the INSERT and in shared
buffers and WAL, where each lies right after its text's length byte. redis: the password in the
environment of the tree's root and the server (REDIS_PASSWORD; the server moved its environment
to the heap) and of a redis-cli (REDISCLI_AUTH), and bare in the server's configuration; fake
tokens that redis-cli stored as values, in redis-cli and in the server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checkforensics.analysis.memsearch import SearchPattern, search_memory
from checkforensics.analysis.secretscan import finding_records, scan_checkpoint
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, SCENARIOS

TOKEN_RULES = {
    "stripe": "stripe-secret-key",
    "github": "github-pat",
    "slack": "slack-bot-token",
    "gitlab": "gitlab-pat",
    "npm": "npm-token",
}
ENV_NAMES = (b"PGPASSWORD=", b"POSTGRES_PASSWORD=", b"REDISCLI_AUTH=", b"REDIS_PASSWORD=")


@cache
def _truth(name: str) -> dict[str, Any]:
    return json.loads((SCENARIOS / f"{name}.truth.json").read_text())


def _source(name: str) -> Path:
    archive = SCENARIOS / f"{name}.tar.zst"
    return archive if archive.exists() else SCENARIOS / name


@cache
def _records(path: Path) -> list[dict[str, Any]]:
    """memgrep --secrets --no-redact --format json's findings, deduplicated per process (or shared
    object), rule and value, with the first address and a count."""
    with CheckpointModel.open(path) as checkpoint:
        return finding_records(scan_checkpoint(checkpoint), redact=False)


def _found(name: str, value: str) -> dict[tuple[int | None, int | None], dict[str, Any]]:
    """(pid, shmid) -> the record of ``value``, for each process or shared object that holds it."""
    found = {}
    for record in _records(_source(name)):
        if record["value"] == value:
            shmid = record["shared"]["shmid"] if record["pid"] is None else None
            assert (record["pid"], shmid) not in found, "one record per place, rule and value"
            found[record["pid"], shmid] = record
    return found


def _copies(name: str, value: str) -> dict[tuple[int | None, int | None], list[int]]:
    """(pid, None) or (None, shmid) -> the addresses (offsets) of every copy the truth counts."""
    truth = _truth(name)
    copies = {}
    for process in truth["processes"]:
        seen = process.get("markers_in_memory", {}).get(value)
        if seen:
            copies[process["dump_pid"], None] = sorted(int(a, 16) for a in seen["addresses"])
    for image, markers in truth.get("markers_in_shared_memory", {}).items():
        if value in markers:
            shmid = int(image.removeprefix("pagemap-shmem-").removesuffix(".img"))
            copies[None, shmid] = sorted(int(a, 16) for a in markers[value]["addresses"])
    return copies


def _assert_every_copy(name: str, value: str, rule: str) -> None:
    copies = _copies(name, value)
    found = _found(name, value)
    assert copies and set(found) == set(copies)
    for place, addresses in copies.items():
        record = found[place]
        assert (record["rule"], record["address"], record["count"]) == (rule, addresses[0], len(addresses)), place


# ---------------------------------------------------------------------------------------------
# nginx


def _nginx_holder(kind: str) -> int:
    """The worker whose socket's peer is the client port that sent the ``kind`` credential."""
    truth = _truth("nginx")
    port = truth["http_credentials"][kind]["client_port"]
    (pid,) = [
        p["dump_pid"]
        for p in truth["processes"]
        for fd in p["fds"]
        if fd.get("socket", {}).get("state") == "ESTABLISHED" and fd["socket"]["remote"] == ["127.0.0.1", port]
    ]
    return pid


@pytest.mark.parametrize(("kind", "rule"), [("basic", "encoded-credential-pair"), ("bearer", "http-bearer-token")])
def test_nginx_authorization_headers_in_the_worker_holding_each(kind: str, rule: str) -> None:
    """Each header once, in its worker's heap, parsed in place: "Authorization\\0 Basic ...\\0"."""
    value = _truth("nginx")["http_credentials"][kind]["value"]
    _assert_every_copy("nginx", value, rule)
    assert set(_copies("nginx", value)) == {(_nginx_holder(kind), None)}
    parsed = b"\nAuthorization\x00 " + (b"Basic " if kind == "basic" else b"Bearer ")  # NUL over the colon
    with CheckpointModel.open(_source("nginx")) as checkpoint:
        (address,) = _copies("nginx", value)[_nginx_holder(kind), None]
        before = checkpoint.memory(_nginx_holder(kind)).read(address - len(parsed), len(parsed))
    assert before == parsed


def test_nginx_keeps_the_decoded_basic_credentials_too() -> None:
    """nginx decoded the Basic header to log $remote_user (the default "combined" format): the
    worker also holds "cfw-user:password" in plain text, which no rule claims (a bare
    user:password cannot be told from any other "a:b" without noise)."""
    planted = _truth("nginx")["http_credentials"]["basic"]
    assert set(_copies("nginx", planted["decoded"])) == {(_nginx_holder("basic"), None)}
    assert _found("nginx", planted["decoded"]) == {}


# ---------------------------------------------------------------------------------------------
# postgres


@pytest.mark.parametrize("service", sorted(TOKEN_RULES))
def test_postgres_table_tokens_every_copy(service: str) -> None:
    """Each token in psql (its statement), in the backend that ran the INSERT and in the main
    System V segment (heap page, WAL record, the backend's statement text), as often as the truth
    counts it, first address first."""
    token = _truth("postgres")["planted"]["tokens"][service]
    _assert_every_copy("postgres", token, TOKEN_RULES[service])
    places = _copies("postgres", token)
    backend = next(
        p["dump_pid"] for p in _truth("postgres")["processes"] if p["cmdline"][0].endswith(") idle")
    )  # fmt: skip
    psql = next(p["dump_pid"] for p in _truth("postgres")["processes"] if p["comm"] == "psql")
    assert set(places) == {(psql, None), (backend, None), (None, 0)}


def test_postgres_tokens_lie_after_their_length_byte_in_shared_buffers() -> None:
    """Where the heap page and the WAL record keep a token, the byte before it is its short
    varlena header, (1 + length) * 2 + 1: a letter for 40 characters ("Sghp_..."). Those copies
    are the ones a left word boundary missed."""
    tokens = _truth("postgres")["planted"]["tokens"]
    with CheckpointModel.open(_source("postgres")) as checkpoint:
        segment = checkpoint.shared_object(0)
        assert segment is not None
        for token in tokens.values():
            header = bytes([(1 + len(token)) * 2 + 1])
            before = [segment.space.read(offset - 1, 1) for offset in _copies("postgres", token)[None, 0]]
            assert before.count(header) == 2, (token, before)  # heap page and WAL record
            assert before.count(b"'") == 1  # the statement text
    assert bytes([(1 + 40) * 2 + 1]) == b"S" and {len(tokens[s]) for s in ("stripe", "github", "npm")} == {40}


def _env_copies(checkpoint: CheckpointModel, pid: int, addresses: list[int]) -> dict[int, bytes]:
    """address -> the environment name before it, for the copies that are NAME=value."""
    named = {}
    memory = checkpoint.memory(pid)
    for address in addresses:
        data, _ = memory.read_available(address - 32, 32)
        name = next((n for n in ENV_NAMES if data.endswith(n)), None)
        if name is not None:
            named[address] = name
    return named


def test_postgres_password_in_the_environment_of_server_and_psql() -> None:
    """The superuser's password: POSTGRES_PASSWORD in the server's environment (pg-init, the
    postmaster and, copied to the heap by its title rewriting, each child) and PGPASSWORD in
    psql's. Every NAME=value copy is an env-secret finding; libpq's bare copies in psql's heap
    (the connection's password) are not NAME=value and are not claimed."""
    password = _truth("postgres")["planted"]["password"]
    copies = _copies("postgres", password)
    found = _found("postgres", password)
    psql = next(p["dump_pid"] for p in _truth("postgres")["processes"] if p["comm"] == "psql")
    assert len(copies) == 8 and (None, None) not in copies and not any(shmid for _, shmid in copies)
    with CheckpointModel.open(_source("postgres")) as checkpoint:
        for (pid, _), addresses in copies.items():
            named = _env_copies(checkpoint, pid, addresses)
            expected = {b"PGPASSWORD="} if pid == psql else {b"POSTGRES_PASSWORD="}
            assert set(named.values()) == expected, pid
            record = found[pid, None]
            assert (record["rule"], record["address"], record["count"]) == ("env-secret", min(named), len(named))
            if pid == psql:
                assert len(addresses) - len(named) == 2  # libpq's copies
    assert set(found) == set(copies)


# ---------------------------------------------------------------------------------------------
# redis


def _redis(comm: str) -> int:
    (pid,) = [p["dump_pid"] for p in _truth("redis")["processes"] if p["comm"] == comm]
    return pid


@pytest.mark.parametrize("service", sorted(TOKEN_RULES))
def test_redis_stored_tokens_every_copy(service: str) -> None:
    """Each token in the server (its value, and what is left of the request in a query buffer)
    and in redis-cli (the line it read, the request it wrote), as often as the truth counts it."""
    token = _truth("redis")["planted"]["tokens"][service]
    _assert_every_copy("redis", token, TOKEN_RULES[service])
    assert set(_copies("redis", token)) == {(_redis("redis-server"), None), (_redis("redis-cli"), None)}


def test_redis_password_where_a_name_stands_beside_it() -> None:
    """The password: REDIS_PASSWORD in the environment of redis-init and of the server (where
    redis copied it to the heap before writing its title over the environment), REDISCLI_AUTH in
    redis-cli's: each an env-secret finding. The server also keeps it twice with no name beside it
    (server.requirepass, an sds string whose one-byte header is 0xf0: length 30, SDS_TYPE_5; and
    the argument of an AUTH a client sent, an embedded string with its length, room and type), and
    its ACL keeps the password's SHA-256 in hex twice: no rule claims a bare value or a digest."""
    password = _truth("redis")["planted"]["password"]
    copies = _copies("redis", password)
    found = _found("redis", password)
    init, server, cli = _redis("redis-init"), _redis("redis-server"), _redis("redis-cli")
    assert set(copies) == set(found) == {(init, None), (server, None), (cli, None)}
    expected = {init: {b"REDIS_PASSWORD="}, server: {b"REDIS_PASSWORD="}, cli: {b"REDISCLI_AUTH="}}
    with CheckpointModel.open(_source("redis")) as checkpoint:
        for (pid, _), addresses in copies.items():
            named = _env_copies(checkpoint, pid, addresses)
            assert set(named.values()) == expected[pid], pid
            record = found[pid, None]
            assert (record["rule"], record["address"], record["count"]) == ("env-secret", min(named), len(named))
            if pid == server:
                memory = checkpoint.memory(server)
                bare = {memory.read(address - 3, 3) for address in addresses if address not in named}
    assert len(password) == 30 and bare == {b"\x00\x00\xf0", b"\x1e\x1e\x01"}
    digest = hashlib.sha256(password.encode()).hexdigest()
    with CheckpointModel.open(_source("redis")) as checkpoint:
        pattern = SearchPattern.from_literal(digest.encode())
        places = [(m.pid, m.address) for m in search_memory(checkpoint, checkpoint.memories(), [pattern])]
    assert [pid for pid, _ in places] == [server, server] and not _found("redis", digest)


# ---------------------------------------------------------------------------------------------
# Nothing that was not planted


def _planted_values() -> Iterator[tuple[Path, set[str]]]:
    blog = {"ghp_R3alLookingGitHubTokenValue0123456789", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "hunter2-blog"}
    for name in ("counters-blog.tar", "counters-blog.tar.gz", "counters-blog.tar.zst", "counters-blog-later.tar.zst"):
        yield FIXTURES / name, blog
    yield FIXTURES / "busybox-counter-criu41.tar", {"RANDOM_1432_KEY"}
    yield FIXTURES / "bare-bash-sleep", {"BARE_DUMP_SECRET_42"}
    yield FIXTURES / "inflight.tar.zst", set()
    for truth in sorted(SCENARIOS.glob("*.truth.json")):
        name = truth.name.removesuffix(".truth.json")
        yield _source(name), {marker.rstrip("\n") for marker in _truth(name)["markers"]}


PLANTED = list(_planted_values())


@pytest.mark.parametrize(("path", "planted"), PLANTED, ids=[path.name for path, _ in PLANTED])
def test_every_fixture_gives_only_planted_values(path: Path, planted: set[str]) -> None:
    """Every finding in every fixture, all processes and shared objects, is a value planted there:
    no finding on the creds dump's 1 MiB of random filler, on the servers' binaries and buffers,
    or on the proc, files, sockets, ns and weird trees."""
    values = {record["value"] for record in _records(path)}
    assert values <= planted
