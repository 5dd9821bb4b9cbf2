"""``memgrep``, ``memparse`` and ``memdump`` on the real fixtures, checked against their truth files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.images.flags import PAGE_SIZE
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, truth

CASES = [
    ("counters-blog", FIXTURES / "counters-blog.tar"),
    ("counters-blog-later", FIXTURES / "counters-blog-later.tar.zst"),
    ("busybox-counter-criu41", FIXTURES / "busybox-counter-criu41.tar"),
    ("bare-bash-sleep", FIXTURES / "bare-bash-sleep"),
]
COUNTERS = FIXTURES / "counters-blog.tar"


def _json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict:
    assert run([*args, "--format", "json"]) == code
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("fixture", "path"), CASES, ids=[case[0] for case in CASES])
def test_memgrep_finds_the_planted_strings_where_they_are(
    fixture: str, path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    processes = truth(fixture)["processes"]
    planted = sorted({name for p in processes for name in p["secrets"]})
    args = ["memgrep", str(path)]
    for name in planted:
        args += ["-e", name]
    doc = _json(capsys, *args)
    found: dict[tuple[int, str], list[int]] = {}
    for match in doc["matches"]:
        found.setdefault((match["pid"], match["pattern"]), []).append(match["address"])
        assert match["match"] == match["pattern"] and match["pattern"] in match["context"]
        assert match["vma"]["start"] <= match["address"] < match["vma"]["end"]
    assert found == {(p["pid"], k): sorted(v) for p in processes for k, v in p["secret_addresses"].items()}
    comms = {p["pid"]: p["comm"] for p in processes}
    assert all(match["comm"] == comms[match["pid"]] for match in doc["matches"])
    assert doc["warnings"] == []


def test_memgrep_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memgrep", str(COUNTERS), "hunter2-blog", "--pid", "8", "--context", "4"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "PID  COMM  ADDRESS         VMA                                     MATCH         CONTEXT",
        "8    tee   0x7ffcd9e65f03  7ffcd9e45000-7ffcd9e66000 rw-p [stack]  hunter2-blog  ORD=hunter2-blog\\x00HOS",
    ]
    assert run(["memgrep", str(COUNTERS), "RANDOM_1432_KEY", "--context", "0", "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PID", "COMM", "ADDRESS", "VMA", "MATCH", "CONTEXT"]
    assert lines[2].split() == ["7", "counter.py", "0x7f3878c98b20", "7f3878bf2000-7f3878cf2000", "rw-p", "[anon]",
                                "RANDOM_1432_KEY", "RANDOM_1432_KEY"]  # fmt: skip


def test_memgrep_regex_ignore_case_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    stack = [140735240654637, 140735240654690]  # bash's environment, on its stack
    doc = _json(capsys, "memgrep", str(COUNTERS), "--regex", "-i", r"db_password=(\w|-)+", "--pid", "1")
    assert [m["match"] for m in doc["matches"]] == ["DB_PASSWORD=hunter2-blog"] * 3
    assert [m["address"] + 12 for m in doc["matches"]] == [94138212931244, 94138212965196, stack[1]]
    doc = _json(capsys, "memgrep", str(COUNTERS), "hunter2-blog", "EXAMPLEKEY", "--pid", "1", "--vma-type", "stack")
    assert [m["address"] for m in doc["matches"]] == [stack[0] + 30, stack[1]]
    assert {m["vma"]["kind"] for m in doc["matches"]} == {"stack"} and doc["matches"][0]["vma"]["path"] is None
    doc = _json(capsys, "memgrep", str(COUNTERS), "hunter2-blog", "--address", f"{stack[0]:x}-0x7fffffffffff")
    assert [(m["pid"], m["address"]) for m in doc["matches"]] == [(1, stack[1]), (7, 140735394414315)]
    doc = _json(capsys, "memgrep", str(COUNTERS), "hunter2-blog", "--perms", "rw", "--max-count", "1")
    assert [m["pid"] for m in doc["matches"]] == [1, 7, 8]
    doc = _json(capsys, "memgrep", str(COUNTERS), "abefhikmnprtuvx", "--file", "/usr/bin/*")  # bash's set options
    assert [(m["pid"], m["address"], m["vma"]["path"]) for m in doc["matches"]] == [
        (1, 0x559E305046E1, "/usr/bin/bash")
    ]
    _json(capsys, "memgrep", str(COUNTERS), "abefhikmnprtuvx", "--file", "*/libc.so.6", code=1)


def test_memgrep_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, "memgrep", str(COUNTERS), "NOT_IN_ANY_MEMORY_ZZZ", code=1)["matches"] == []
    assert run(["memgrep", str(FIXTURES / "inflight.tar.zst"), "NOT_IN_ANY_MEMORY_ZZZ"]) == 1
    assert capsys.readouterr().out == ""
    assert run(["memgrep", str(COUNTERS)]) == 2  # no pattern
    assert run(["memgrep", str(COUNTERS), "--regex", "("]) == 2
    assert run(["memgrep", str(COUNTERS), "x", "--pid", "99"]) == 2
    assert "no process 99" in capsys.readouterr().err
    assert run(["memgrep", str(COUNTERS), "x", "--address", "nothex"]) == 2
    assert run(["memgrep", str(FIXTURES / "missing.tar"), "x"]) == 3


def test_memgrep_takes_greps_order_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """``memgrep PATTERN CHECKPOINT``: the argument naming an existing checkpoint is the checkpoint."""
    usual = _json(capsys, "memgrep", str(COUNTERS), "RANDOM_1432_KEY")
    assert run(["memgrep", "RANDOM_1432_KEY", str(COUNTERS), "--format", "json"]) == 0
    done = capsys.readouterr()
    assert json.loads(done.out)["matches"] == usual["matches"] and usual["matches"]
    assert done.err == (f"checkforensics: warning: searching {str(COUNTERS)!r} for 'RANDOM_1432_KEY' (the argument "
                        "naming a checkpoint is the checkpoint, as in grep PATTERN FILE)\n")  # fmt: skip
    assert "searching" not in capsys.readouterr().err  # the usual order says nothing
    # neither names a checkpoint that exists: the first is the checkpoint, as before
    assert run(["memgrep", "RANDOM_1432_KEY", str(FIXTURES / "missing.tar")]) == 3
    assert "RANDOM_1432_KEY: no such file" in capsys.readouterr().err


def test_memgrep_says_a_pattern_naming_a_directory_was_taken_as_a_checkpoint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["memgrep", str(COUNTERS), str(FIXTURES)]) == 2
    err = capsys.readouterr().err
    assert f"{str(FIXTURES)!r} was taken as a checkpoint (a directory holding checkpoints)" in err
    assert f"give -e {str(FIXTURES)!r}" in err
    assert run(["memgrep", str(COUNTERS), str(FIXTURES / "inflight.tar.zst"), str(FIXTURES / "bare-bash-sleep")]) == 2
    assert "were taken as checkpoints (an archive that exists, a checkpoint directory)" in capsys.readouterr().err
    assert run(["memgrep", str(COUNTERS), "-e", str(FIXTURES)]) == 1  # as told: searched for, not found
    assert "nothing found" in capsys.readouterr().err
    assert run(["memgrep", str(COUNTERS)]) == 2
    assert "taken" not in capsys.readouterr().err


def test_memgrep_hash_is_the_archive_sha256(capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    doc = _json(capsys, "memgrep", str(COUNTERS), "hunter2-blog", "--pid", "8", "--hash")
    assert doc["sha256"] == hashlib.sha256(COUNTERS.read_bytes()).hexdigest()


def test_memparse_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    facts = truth("counters-blog")["processes"]
    doc = _json(capsys, "memparse", str(COUNTERS))
    assert [(p["pid"], p["comm"], p["memory_size"], p["dumped_size"]) for p in doc["processes"]] == [
        (p["pid"], p["comm"], p["memory_pages"] * PAGE_SIZE, p["memory_pages"] * PAGE_SIZE) for p in facts
    ]
    assert run(["memparse", str(COUNTERS)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "PID  PROCESS NAME  MEMORY SIZE  SHARED MEMORY SIZE",
        "1    bash          264.0 KiB    0 B",
        "7    counter.py    8.7 MiB      28.0 KiB",
        "8    tee           112.0 KiB    0 B",
    ]


def test_memparse_hexdump(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memparse", str(COUNTERS), "--pid", "8", "--address", "0x7ffcd9e65f00-0x7ffcd9e65f20"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "00007ffcd9e65f00  52 44 3d 68 75 6e 74 65  72 32 2d 62 6c 6f 67 00  |RD=hunter2-blog.|",
        "00007ffcd9e65f10  48 4f 53 54 4e 41 4d 45  3d 65 34 65 63 35 61 62  |HOSTNAME=e4ec5ab|",
    ]
    assert run(["memparse", str(COUNTERS), "--pid", "8", "--vma-type", "heap"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "*" in lines and all(line == "*" or line.startswith("0000556c20eb") for line in lines)
    assert run(["memparse", str(COUNTERS), "-o", "x.bin"]) == 2  # -o needs --pid


def test_memdump_writes_the_regions_it_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pid8.mem"
    doc = _json(capsys, "memdump", str(COUNTERS), "--pid", "8", "-o", str(out))
    data = out.read_bytes()
    assert doc["size"] == len(data) == 28 * PAGE_SIZE
    with CheckpointModel.open(COUNTERS) as checkpoint:
        space = checkpoint.memories([8])[0].space
        for region in doc["regions"]:
            assert data[region["offset"] : region["offset"] + region["size"]] == space.read(
                region["vaddr"], region["size"]
            )
    assert run(["memdump", str(COUNTERS), "--pid", "8", "-o", str(out)]) == 3  # exists
    assert "--force" in capsys.readouterr().err
    heap = _json(capsys, "memdump", str(COUNTERS), "--pid", "8", "--vma", "556c20eb6123", "-o", str(out), "--force")
    assert [(r["vaddr"], r["offset"], r["vma"]["kind"]) for r in heap["regions"]] == [(0x556C20EB6000, 0, "heap")]
    assert out.stat().st_size == heap["size"] == PAGE_SIZE


def test_memdump_writes_its_index_beside_the_dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-o FILE``: FILE.index.json says where each region went (memdump's JSON document, in a
    file), named in the output; with --force both are replaced, without it neither."""
    out = tmp_path / "pid7.mem"
    assert run(["memdump", str(COUNTERS), "--pid", "7", "-o", str(out)]) == 0
    index = tmp_path / "pid7.mem.index.json"
    said = f"{out}: {out.stat().st_size} bytes of pid 7; where each region went: {index}"
    assert capsys.readouterr().out.splitlines()[0] == said
    written = json.loads(index.read_text())
    doc = _json(capsys, "memdump", str(COUNTERS), "--pid", "7", "-o", str(out), "--force")
    assert doc["index"] == str(index)
    assert written == {key: doc[key] for key in ("pid", "comm", "output", "size", "regions")}
    data = out.read_bytes()
    with CheckpointModel.open(COUNTERS) as checkpoint:
        space = checkpoint.memories([7])[0].space
        private = [r for r in written["regions"] if r["vma"]["kind"] not in ("memfd", "shared", "sysv")]
        for region in private[:50]:  # the index says where the bytes of each address are
            start, size = region["offset"], region["size"]
            assert data[start : start + size] == space.read(region["vaddr"], size)
    out.unlink()
    assert run(["memdump", str(COUNTERS), "--pid", "7", "-o", str(out)]) == 3  # the index exists: nothing written
    assert f"{index}: exists" in capsys.readouterr().err and not out.exists()


def test_memdump_of_a_shared_object_names_its_offsets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sharing = str(FIXTURES / "scenarios" / "sharing")
    out = tmp_path / "shm.bin"
    assert run(["memdump", sharing, "--shmid", "25869", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["OFFSET", "IN", "OBJECT", "SIZE", "OFFSET", "IN", "FILE", "VMA"]
    assert lines[2].split()[:4] == ["0x0", "4.0", "KiB", "0"]
    assert json.loads((tmp_path / "shm.bin.index.json").read_text())["shared"]["shmid"] == 25869
    assert run(["memdump", str(COUNTERS), "--pid", "8", "-o", str(tmp_path / "p8")]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["VADDR", "SIZE", "OFFSET"]  # a process: addresses


def test_memdump_and_memparse_never_touch_the_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "evidence.tar"
    copy.write_bytes(COUNTERS.read_bytes())
    before = copy.read_bytes()
    assert run(["memdump", str(copy), "--pid", "8", "-o", str(copy), "--force"]) == 3
    assert run(["memparse", str(copy), "--pid", "8", "-o", str(copy), "--force"]) == 3
    assert copy.read_bytes() == before
    assert "refusing to overwrite the checkpoint" in capsys.readouterr().err
    inside = FIXTURES / "bare-bash-sleep" / "dump.bin"
    assert run(["memdump", str(FIXTURES / "bare-bash-sleep"), "--pid", "16122", "-o", str(inside)]) == 3
    assert not inside.exists()
    assert run(["memdump", str(COUNTERS), "--pid", "8", "--vma", "0x10", "-o", str(tmp_path / "n")]) == 2
    assert run(["memdump", str(COUNTERS), "--pid", "8", "--vma-type", "shared", "-o", str(tmp_path / "n")]) == 1
    assert not (tmp_path / "n").exists()


def test_memgrep_max_count_says_when_there_were_more(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memgrep", str(COUNTERS), "--regex", r"\x00{8}", "--max-count", "3", "--format", "json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [m["pid"] for m in doc["matches"]] == [1, 1, 1, 7, 7, 7, 8, 8, 8]
    assert len(doc["warnings"]) == 3 and "pid 7: more than 3 matches" in captured.err
    assert _json(capsys, "memgrep", str(COUNTERS), "hunter2-blog", "--pid", "1", "--max-count", "4")["warnings"] == []
    assert len(_json(capsys, "memgrep", str(COUNTERS), "hunter2-blog", "--max-count", "0")["matches"]) == 7


def test_a_process_without_pages_is_listed_without_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    images = tmp_path / "images"
    shutil.copytree(FIXTURES / "bare-bash-sleep", images)
    (images / "pages-2.img").unlink()  # sleep's memory
    doc = _json(capsys, "memparse", str(images))
    assert [(p["pid"], p["memory_size"]) for p in doc["processes"]] == [(16120, 67 * PAGE_SIZE), (16122, None)]
    assert "pages-2.img" in doc["warnings"][0]
    assert run(["memparse", str(images)]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["16122", "sleep", "-", "-"]
    found = _json(capsys, "memgrep", str(images), "BARE_DUMP_SECRET_42")
    assert {m["pid"] for m in found["matches"]} == {16120} and len(found["matches"]) == 8
    assert run(["memdump", str(images), "--pid", "16122", "-o", str(tmp_path / "x")]) == 3


def test_secrets_in_memory_found_in_the_right_processes(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from checkforensics.cli import run

    from conftest import FIXTURES, truth

    assert run(["memgrep", str(FIXTURES / "counters-blog.tar"), "--secrets", "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    truth_addresses = {
        (p["pid"], a) for p in truth("counters-blog")["processes"] for addrs in p["secret_addresses"].values()
        for a in addrs
    }  # fmt: skip
    assert {(f["rule"], f["pid"]) for f in findings} >= {("github-pat", 7), ("aws-secret-access-key", 8)}
    assert all((f["pid"], f["address"]) in truth_addresses for f in findings)
    assert all("…" in f["value"] for f in findings)
    assert run(["memgrep", str(FIXTURES / "counters-blog.tar"), "--secrets", "--no-redact", "--pid", "7",
                "--format", "json"]) == 0  # fmt: skip
    values = {f["value"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert "ghp_R3alLookingGitHubTokenValue0123456789" in values or any(v.startswith("ghp_R3al") for v in values)
    assert run(["memgrep", str(FIXTURES / "inflight.tar.zst"), "--secrets"]) == 1


def test_memparse_search_points_to_memgrep_and_that_command_works(capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from checkforensics.errors import ExitCode

    counters = str(FIXTURES / "counters-blog.tar")
    assert run(["memparse", counters, "--search", "-RANDOM_1432_KEY", "--pid", "7"]) == ExitCode.USAGE
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "memgrep" in line]
    suggested = shlex.split(line.split(": ", 2)[-1])
    assert suggested == ["checkforensics", "memgrep", counters, "-e", "-RANDOM_1432_KEY", "--pid", "7"]
    assert run(["memparse", counters, "--search-regex", "RANDOM_[0-9]+_KEY", "--context", "4"]) == ExitCode.USAGE
    suggested = shlex.split(capsys.readouterr().err.splitlines()[-1].split(": ", 2)[-1])
    assert run([*suggested[1:], "--format", "json"]) == 0
    matches = json.loads(capsys.readouterr().out)["matches"]
    assert {m["match"] for m in matches} == {"RANDOM_1432_KEY"} and {m["pid"] for m in matches} >= {7}
