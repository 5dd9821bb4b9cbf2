"""Answers written in every format from the declarations: documents, lines, tables, the one way
to say nothing was found, and several checkpoints as one output."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.records.declare import Answer, Field, RecordType, Section
from checkforensics.records.values import ADDRESS, INTEGER
from checkforensics.render import JSON, JSONL, TEXT
from checkforensics.render.answers import write_answer

from conftest import FIXTURES, SCENARIOS

THING = RecordType("thing", "things", (Field("pid", INTEGER), Field("address", ADDRESS)), ("pid", "address"))


def test_records_are_written_as_they_come(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    seen: list[str] = []

    def things():
        for pid in (1, 2):
            seen.append(out.getvalue())  # what was written before this record was made
            yield {"pid": pid, "address": 0x1000 * pid}

    answer = Answer([Section(THING, things())], head={"archive": "a.tar"})
    assert write_answer(answer, JSON, stream=out, warnings=lambda: ["w"]) == 0
    assert '"pid": 1' in seen[1]  # the first record was out before the second was made
    assert json.loads(out.getvalue()) == {
        "archive": "a.tar", "things": [{"pid": 1, "address": 4096}, {"pid": 2, "address": 8192}], "warnings": ["w"]
    }  # fmt: skip
    assert capsys.readouterr().err == "checkforensics: warning: w\n"


def test_a_table_shows_each_value_as_its_hint_says() -> None:
    out = io.StringIO()
    write_answer(Answer([Section(THING, [{"pid": 7, "address": 0x7F00}])]), TEXT, stream=out)
    assert out.getvalue() == "PID  ADDRESS\n7    0x7f00\n"


@pytest.mark.parametrize("fmt", [TEXT, JSONL])
def test_nothing_found_is_one_line_on_stderr_and_exit_1(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    answer = Answer([Section(THING, iter([]))], nothing="no thing at all")
    assert write_answer(answer, fmt) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", "checkforensics: nothing found: no thing at all\n")


def test_a_command_with_nothing_to_list_says_so_the_one_way(capsys: pytest.CaptureFixture[str]) -> None:
    """proc's processes 17386 and 17394 hold no socket."""
    argv = ["sockets", str(SCENARIOS / "proc"), "--pid", "17386", "--pid", "17394"]
    assert run(argv) == 1
    assert capsys.readouterr() == ("", "checkforensics: nothing found: no sockets\n")
    assert run([*argv, "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [(p["pid"], p["fds"]) for p in document["processes"]] == [(17386, []), (17394, [])]


def test_several_checkpoints_are_one_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """triage of a folder: each finding names its checkpoint, each table is titled with it, and
    one that cannot be read is a warning and exit 3 once the others are done."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("inflight.tar.zst", "counters-blog.tar"):
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "broken.tar").write_bytes(b"not a tar at all" * 64)
    assert run(["triage", str(folder), "--format", "json"]) == 3
    captured = capsys.readouterr()
    archives = {finding["archive"] for finding in json.loads(captured.out)["findings"]}
    assert archives == {str(folder / "inflight.tar.zst"), str(folder / "counters-blog.tar")}
    assert f"checkforensics: warning: skipped {folder / 'broken.tar'}" in captured.err
    assert run(["triage", str(folder)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert str(folder / "inflight.tar.zst") in lines and str(folder / "counters-blog.tar") in lines


def test_one_record_as_the_document_and_a_failed_check(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    answer = Answer([Section(THING, [{"pid": 1, "address": 16}])], single=True, failure="mismatch: a.tar")
    assert write_answer(answer, JSON, stream=out) == 1  # found, and failing its check
    assert json.loads(out.getvalue()) == {"pid": 1, "address": 16, "warnings": []}
    assert capsys.readouterr().err == "checkforensics: mismatch: a.tar\n"
    lines = io.StringIO()
    assert write_answer(Answer([Section(THING, [{"pid": 1, "address": 16}])], single=True), JSONL, stream=lines) == 0
    assert json.loads(lines.getvalue()) == {"pid": 1, "address": 16}
