"""Real CRIU 4.2.1 dumps made on this project's machines (scripts/dump-scenarios/), against what
/proc said about the live processes just before the dump and where the planted markers lie in
the dumped pages (fixtures/scenarios/NAME.truth.json, written by make-fixture.py with crit).

Processes, command lines, environment, every marker's process and address, the markers in
shared memory, and the planted credentials.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checkforensics.analysis.memsearch import SearchPattern, search_memory
from checkforensics.analysis.secretscan import finding_records, scan_checkpoint
from checkforensics.cli import run
from checkforensics.model import CheckpointModel

from conftest import SCENARIOS

NAMES = ("creds", "files", "ns", "proc", "restore", "sockets", "weird")
STATES = {"S": "Alive", "R": "Alive", "D": "Alive", "T": "Stopped", "t": "Stopped", "Z": "Zombie"}


def _source(name: str) -> Path:
    archive = SCENARIOS / f"{name}.tar.zst"
    return archive if archive.exists() else SCENARIOS / name


@cache
def _truth(name: str) -> dict[str, Any]:
    return json.loads((SCENARIOS / f"{name}.truth.json").read_text())


def _last(value: str) -> int:
    """The innermost namespace's id from a /proc status line such as ``17573\\t1``."""
    return int(value.split()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_processes_are_what_proc_showed(name: str) -> None:
    truth = _truth(name)
    with CheckpointModel.open(_source(name)) as checkpoint:
        tree = checkpoint.tree
        checkpoint.command_lines(env=True)
    assert sorted(p.pid for p in tree.processes) == sorted(p["dump_pid"] for p in truth["processes"])
    dump_pids = {p["pid"]: p["dump_pid"] for p in truth["processes"]}
    for expected in truth["processes"]:
        process = tree.by_pid(expected["dump_pid"])
        assert process is not None
        assert process.ppid == dump_pids.get(expected["ppid"], 0)
        assert process.pgid == _last(expected["status"]["NSpgid"])
        assert process.sid == _last(expected["status"]["NSsid"])
        assert process.state == STATES[expected["state"]]
        assert process.comm == expected["comm"]
        assert len(process.threads) == len(expected["threads"])
        assert [thread.comm for thread in process.threads] == [thread["comm"] for thread in expected["threads"]]
        if expected["state"] == "Z":  # exited: no memory, so no command line
            assert process.zombie and process.cmdline is None
            continue
        assert process.cmdline == expected["cmdline"]
        assert process.env == expected["env"]


def _planted(name: str) -> dict[str, set[tuple[int, int]]]:
    """marker -> {(pid as the images say, address)} from the truth file."""
    planted: dict[str, set[tuple[int, int]]] = {marker: set() for marker in _truth(name)["markers"]}
    for process in _truth(name)["processes"]:
        for marker, seen in process.get("markers_in_memory", {}).items():
            planted[marker] |= {(process["dump_pid"], int(address, 16)) for address in seen["addresses"]}
    return planted


@pytest.mark.parametrize("name", NAMES)
def test_every_marker_in_exactly_its_processes_and_addresses(name: str) -> None:
    planted = _planted(name)
    patterns = [SearchPattern.from_literal(marker.encode()) for marker in planted]
    with CheckpointModel.open(_source(name)) as checkpoint:
        memories = checkpoint.memories()
        found: dict[str, set[tuple[int, int]]] = {marker: set() for marker in planted}
        for match in search_memory(checkpoint, memories, patterns):
            found[match.pattern.name].add((match.pid, match.address))
    assert found == planted
    assert sum(map(len, planted.values())) >= 5  # the scenario planted something that was dumped


def _planted_shared(name: str) -> dict[tuple[int, str], set[int]]:
    """(shmid, marker) -> offsets, from the truth file's markers_in_shared_memory."""
    planted: dict[tuple[int, str], set[int]] = {}
    for image, markers in _truth(name).get("markers_in_shared_memory", {}).items():
        shmid = int(image.removeprefix("pagemap-shmem-").removesuffix(".img"))
        for marker, seen in markers.items():
            planted[shmid, marker] = {int(offset, 16) for offset in seen["addresses"]}
    return planted


@pytest.mark.parametrize("name", ["creds", "files", "ns", "proc"])
def test_shared_memory_is_searched_once_per_object(name: str) -> None:
    planted = _planted_shared(name)
    assert planted
    patterns = [SearchPattern.from_literal(marker.encode()) for marker in _truth(name)["markers"]]
    with CheckpointModel.open(_source(name)) as checkpoint:
        warnings: list[str] = []
        objects = checkpoint.shared_memory
        found: dict[tuple[int, str], set[int]] = {}
        for obj in objects:
            for match in search_memory(checkpoint, [obj], patterns):
                found.setdefault((obj.shmid, match.pattern.name), set()).add(match.address)
    assert found == planted
    assert warnings == []


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert run([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_shared_memory_placed_in_every_process_that_maps_it(capsys: pytest.CaptureFixture[str]) -> None:
    """proc-root maps 64 KiB MAP_SHARED|MAP_ANONYMOUS memory and forks proc-roo-c1, which
    inherits it: CRIU 4 dumps it once, as the memfd /dev/zero; both see the marker there."""
    document = _json(capsys, "memgrep", str(_source("proc")), "marker-proc-root-c0de")
    shared = document["shared_matches"]
    assert [m["offset"] for m in shared] == [0xC, 0x800E]
    assert {m["object"]["kind"] for m in shared} == {"memfd"}
    assert {m["object"]["name"] for m in shared} == {"/dev/zero"}
    for match in shared:
        assert [place["pid"] for place in match["mapped"]] == [17385, 17390]
        assert {place["address"] - match["offset"] for place in match["mapped"]} == {0x7F3D2030B000}
    # the private matches are only private memory: as the truth file's independent decoder says
    assert {(m["pid"], m["address"]) for m in document["matches"]} == _planted("proc")["marker-proc-root-c0de"]


def test_unattached_sysv_segment_and_unmapped_memfd_are_searched(capsys: pytest.CaptureFixture[str]) -> None:
    ns = _json(capsys, "memgrep", str(_source("ns")), "marker-shm-keyed-3a9e")
    assert [(m["object"]["kind"], m["object"]["shmid"], m["offset"], m["mapped"]) for m in ns["shared_matches"]] == [
        ("sysvipc", 1, 0x1B, [])
    ]
    assert ns["shared_matches"][0]["object"]["key"] == 13565953
    files = _json(capsys, "memgrep", str(_source("files")), "marker-memfd-a9d4")
    assert len(files["shared_matches"]) == 62 and files["matches"] == []
    assert {m["object"]["name"] for m in files["shared_matches"]} == {"cfw-memfd"}
    # only in the memfd: nothing without shared memory, or when only the heap is wanted
    assert run(["memgrep", str(_source("files")), "marker-memfd-a9d4", "--no-shared"]) == 1
    assert run(["memgrep", str(_source("files")), "marker-memfd-a9d4", "--vma-type", "heap"]) == 1
    assert run(["memgrep", str(_source("files")), "marker-memfd-a9d4", "--vma-type", "memfd"]) == 0


RULES = {  # truth marker prefix -> the rule that must name it
    "-----BEGIN PRIVATE KEY-----": "private-key-pem",
    "eyJ": "jwt",
    "sk_live_": "stripe-secret-key",
    "xoxb-": "slack-bot-token",
    "https://hooks.slack.com/": "slack-webhook",
    "ghp_": "github-pat",
}


def _rule_of(marker: str) -> str | None:
    return next((rule for prefix, rule in RULES.items() if marker.startswith(prefix)), None)


def test_planted_credentials_found_in_the_right_processes() -> None:
    truth = _truth("creds")
    with CheckpointModel.open(_source("creds")) as checkpoint:
        records = finding_records(scan_checkpoint(checkpoint), redact=False)
    by_key = {(r["pid"], r["rule"], r["value"]): r for r in records if r["pid"] is not None}
    expected = 0
    for process in truth["processes"]:
        for marker, seen in process["markers_in_memory"].items():
            rule = _rule_of(marker)
            if rule is None:
                continue
            expected += 1
            record = by_key.get((process["dump_pid"], rule, marker.rstrip("\n")))
            assert record is not None, f"{rule} not found in pid {process['dump_pid']}"
            assert record["count"] == seen["count"]
            assert record["address"] == min(int(a, 16) for a in seen["addresses"])
    assert expected == 6  # keeper: key, JWT, webhook, GitHub token; worker: Stripe, Slack
    # and nothing else (these processes never exec'd, so CFW_SECRET is no environment entry)
    assert {r["rule"] for r in records} == set(RULES.values())
    shared = [r for r in records if r["pid"] is None]
    assert sorted((r["rule"], r["address"]) for r in shared) == [("github-pat", 40000), ("slack-webhook", 16)]
    for record in shared:
        assert [place["pid"] for place in record["mapped"]] == [19995, 19996]
        assert record["shared"]["kind"] == "memfd"


def test_secrets_and_patterns_in_one_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    document = _json(capsys, "memgrep", str(_source("creds")), "--secrets", "--regex", "sk_live_[A-Za-z0-9]{4}")
    assert list(document) == ["findings", "matches", "shared_matches", "warnings"]
    assert len(document["findings"]) == 8
    stripe = next(m for m in _truth("creds")["markers"] if m.startswith("sk_live_"))
    assert {(m["pid"], m["match"]) for m in document["matches"]} == {(19996, stripe[:12])}
    assert {m["address"] for m in document["matches"]} == {a for _, a in _planted("creds")[stripe]}
    # the pattern is a regex here, not the literal text: "--regex" reaches the search
    assert run(["memgrep", str(_source("creds")), "--secrets", "--regex", "sk_live_[A-Z]{99}"]) == 0  # findings
    capsys.readouterr()


def test_memparse_lists_and_memdump_writes_shared_objects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sizes = _json(capsys, "memparse", str(_source("ns")))
    listed = [(s["shmid"], s["kind"], s["key"], s["size"], s["dumped_size"], s["mapped_by"]) for s in sizes["shared"]]
    assert listed == [(0, "sysvipc", 0, 8192, 4096, [1]), (1, "sysvipc", 13565953, 4096, 4096, [])]
    out = tmp_path / "memfd.bin"
    written = _json(capsys, "memdump", str(_source("files")), "--shmid", "11851", "-o", str(out))
    assert written["shared"]["name"] == "cfw-memfd" and written["size"] == out.stat().st_size == 4096
    planted = _truth("files")["markers_in_shared_memory"]["pagemap-shmem-11851.img"]["marker-memfd-a9d4"]
    offsets = {int(offset, 16) for offset in planted["addresses"]}
    data = out.read_bytes()
    assert {i for i in range(len(data)) if data.startswith(b"marker-memfd-a9d4", i)} == offsets
    assert run(["memdump", str(_source("files")), "--pid", "10415", "--shmid", "11851", "-o", str(out)]) == 2
    assert run(["memparse", str(_source("files")), "--shmid", "99"]) == 2
    assert "there are: 11851, 11852" in capsys.readouterr().err


def test_memory_filters_narrow_the_secret_rules_too(capsys: pytest.CaptureFixture[str]) -> None:
    source = str(_source("creds"))
    everything = _json(capsys, "memgrep", source, "--secrets", "--no-redact")["findings"]
    in_memfd = _json(capsys, "memgrep", source, "--secrets", "--no-redact", "--vma-type", "memfd")["findings"]
    assert sorted((f["rule"], f["address"]) for f in in_memfd) == [("github-pat", 40000), ("slack-webhook", 16)]
    assert all(f["pid"] is None and f["mapped"] for f in in_memfd)
    heap = _json(capsys, "memgrep", source, "--secrets", "--no-redact", "--vma-type", "heap")["findings"]
    key = next(f for f in everything if f["rule"] == "private-key-pem")
    assert [(f["rule"], f["pid"], f["value"]) for f in heap] == [("private-key-pem", key["pid"], key["value"])]
    worker = _json(capsys, "memgrep", source, "--secrets", "--pid", "19996", "--vma-type", "anon", "--no-shared")
    assert {f["rule"] for f in worker["findings"]} == {"stripe-secret-key", "slack-bot-token"}
    assert {f["pid"] for f in worker["findings"]} == {19996}
