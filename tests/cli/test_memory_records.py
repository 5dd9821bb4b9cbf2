"""memgrep, memparse and memdump as declared records: the one way nothing found is said, long
values cut in tables and whole in JSON, the hash as the document's key and the last JSON Lines
record, matches streamed, sizes human in tables, and the record types every output comes from."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from checkforensics.analysis.memsearch.grep import SearchPlan, compile_patterns, grep
from checkforensics.cli import cli, run
from checkforensics.cli.declare import spec_of
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, SCENARIOS

COUNTERS = str(FIXTURES / "counters-blog.tar")
CREDS = str(SCENARIOS / "creds.tar.zst")
NOTHING = "checkforensics: nothing found: "


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["memgrep", COUNTERS, "NOT_IN_ANY_MEMORY_ZZZ"], "no pattern matched in memory"),
        (["memgrep", str(FIXTURES / "inflight.tar.zst"), "--secrets"], "no rule matched in memory"),
        (["memgrep", str(FIXTURES / "inflight.tar.zst"), "--secrets", "-e", "NOT_THERE_ZZZ"],
         "no rule or pattern matched in memory"),
        (["memparse", COUNTERS, "--pid", "7", "--vma-type", "sysvipc"], "no dumped memory of pid 7 matches"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("fmt", ["text", "table", "jsonl"])
def test_nothing_found_is_one_line_on_stderr_and_exit_1(
    argv: list[str], said: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*argv, "--format", fmt]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{NOTHING}{said}\n" in captured.err


def test_memdump_of_nothing_writes_no_file_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "none.bin"
    assert run(["memdump", COUNTERS, "--pid", "8", "--vma-type", "shared", "-o", str(out), "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"pid": 8, "comm": "tee", "output": None, "index": None, "size": 0,
                                        "regions": [], "warnings": []}  # fmt: skip
    assert captured.err == f"{NOTHING}no dumped memory of pid 8 matches; {out} not written\n"
    assert not out.exists() and not Path(f"{out}.index.json").exists()


def test_memgrep_secrets_with_patterns_prints_no_empty_findings_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memgrep", str(FIXTURES / "inflight.tar.zst"), "--secrets", "-e", "inflight"]) in (0, 1)
    assert "SEVERITY" not in capsys.readouterr().out


def test_a_revealed_pem_is_cut_in_the_table_and_whole_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["memgrep", CREDS, "--secrets", "--no-redact", "--pid", "19995"]
    assert run([*argv, "--format", "json"]) == 0
    pem = next(f["value"] for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "private-key-pem")
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n") and pem.rstrip().endswith("-----END PRIVATE KEY-----")
    assert run(argv) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "private-key-pem" in line)
    assert f"…({len(pem)} chars)" in row and "END PRIVATE KEY" not in row and len(row) < 250


def test_the_hash_comes_before_the_warnings_and_last_in_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["memgrep", COUNTERS, "NOT_IN_ANY_MEMORY_ZZZ", "--hash"]
    assert run([*argv, "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["matches", "shared_matches", "sha256", "warnings"]
    assert run([*argv, "--format", "jsonl"]) == 1  # the archive line is no match
    captured = capsys.readouterr()
    assert _json_lines(captured.out) == [{"record": "archive", "archive": COUNTERS, "sha256": document["sha256"]}]
    assert NOTHING in captured.err


def test_json_lines_of_secrets_alone_still_say_their_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memgrep", COUNTERS, "--secrets", "--pid", "8", "--format", "jsonl"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert lines and all(list(line)[:2] == ["record", "archive"] and line["record"] == "finding" for line in lines)


def test_one_checkpoint_s_matches_are_streamed_not_held() -> None:
    plan = SearchPlan(compile_patterns(["RANDOM_1432_KEY"], regex=False, ignore_case=False))
    with CheckpointModel.open(COUNTERS) as model:
        asked = grep(model, plan)
        answer = next(asked)
        matches, shared = (section.items for section in answer.sections)
        assert isinstance(matches, Iterator) and isinstance(shared, Iterator)
        assert [match.address for match in matches] == [0x7F3878C98B20]
        assert list(shared) == []
        asked.close()


def test_several_checkpoints_tables_are_apart_and_titled(capsys: pytest.CaptureFixture[str]) -> None:
    later = str(FIXTURES / "counters-blog-later.tar.zst")
    assert run(["memgrep", COUNTERS, later, "RANDOM_1432_KEY", "--context", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == COUNTERS and lines[1].startswith("PID")
    second = lines.index(later)
    assert lines[second - 1] == "" and lines[second + 1].startswith("PID")


def test_memdump_and_memparse_show_sizes_human_in_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "heap.bin"
    assert run(["memdump", COUNTERS, "--pid", "8", "--vma", "556c20eb6123", "-o", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{out}: 4096 bytes of pid 8; where each region went: {out}.index.json",
        "VADDR           SIZE     OFFSET  VMA",
        "0x556c20eb6000  4.0 KiB  0       556c20eb6000-556c20ed7000 rw-p [heap]",
    ]
    assert run(["memdump", COUNTERS, "--pid", "8", "--vma", "0x10", "-o", str(tmp_path / "n")]) == 2
    assert "no mapping of pid 8 holds 0x10" in capsys.readouterr().err


def test_memparse_hexdump_is_the_table_format_too(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["memparse", COUNTERS, "--pid", "8", "--address", "0x7ffcd9e65f00-0x7ffcd9e65f10"]
    assert run([*argv, "--format", "table"]) == 0
    assert capsys.readouterr().out == (
        "00007ffcd9e65f00  52 44 3d 68 75 6e 74 65  72 32 2d 62 6c 6f 67 00  |RD=hunter2-blog.|\n"
    )
    assert run([*argv, "--format", "jsonl"]) == 0
    (line,) = _json_lines(capsys.readouterr().out)
    assert list(line)[:4] == ["pid", "comm", "output", "vaddr"] and line["output"] is None


@pytest.mark.parametrize("name", ["memgrep", "memparse", "memdump"])
def test_the_commands_declare_the_records_they_answer_with(name: str) -> None:
    spec = spec_of(cli.get_command(click.Context(cli), name))
    assert spec.answers and spec.records
    for declared in spec.records:
        module, _, type_name = declared.partition(":")
        assert getattr(importlib.import_module(module), type_name).plural
