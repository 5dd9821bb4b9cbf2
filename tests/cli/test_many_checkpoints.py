"""triage and memgrep over several checkpoints (or directories of them) in one run, and the
same answers whatever the archive's compression, each compressed archive decompressed once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from checkforensics.archive import compressed
from checkforensics.cli import run

from conftest import FIXTURES, truth

FORMS = ["counters-blog.tar", "counters-blog.tar.gz", "counters-blog.tar.zst"]


def _lines(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> list[dict]:
    assert run([*args, "--format", "jsonl"]) == code
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _without_archive(records: list[dict]) -> list[dict]:
    return [{key: value for key, value in record.items() if key != "archive"} for record in records]


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A directory of checkpoints as the kubelet leaves them, with a damaged one among them."""
    for name in [*FORMS, "busybox-counter-criu41.tar"]:
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "checkpoint-broken.tar").write_bytes(b"not a tar at all" * 100)
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    return tmp_path


@pytest.mark.parametrize("command", [["triage"], ["memgrep", "--secrets"]])
def test_each_record_names_its_checkpoint_and_each_form_gives_the_same(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(FIXTURES / name) for name in FORMS]
    together = _lines(capsys, command[0], *paths, *command[1:])
    assert together and {record["archive"] for record in together} == set(paths)
    alone = {path: _lines(capsys, command[0], path, *command[1:]) for path in paths}
    assert together == [record for path in paths for record in alone[path]]  # in order, one after the other
    assert all(record["archive"] == path for path in paths for record in alone[path])
    first = _without_archive(alone[paths[0]])
    assert all(_without_archive(alone[path]) == first for path in paths[1:])
    # the secret values the truth file says are in memory are among what was found
    planted = {value for p in truth("counters-blog")["processes"] for value in p["secrets"]}
    shown = {json.dumps(record) for record in first}
    assert any(value[:4] in text for value in planted for text in shown)


@pytest.mark.parametrize("command", [["triage"], ["memgrep", "--secrets"]])
def test_a_directory_is_read_as_list_finds_it_and_a_damaged_archive_is_skipped(
    command: list[str], evidence: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["list", str(evidence), "--format", "json"]) == 0
    listed = [entry["file"] for entry in json.loads(capsys.readouterr().out)["checkpoints"]]
    assert str(evidence / "checkpoint-broken.tar") not in listed  # list skips it too
    assert run([command[0], str(evidence), *command[1:], "--format", "jsonl"]) == 3
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    named = list(dict.fromkeys(record["archive"] for record in records))
    assert named == listed  # each has findings, in the order list gives
    assert "skipped" in err and "checkpoint-broken.tar" in err
    alone = _lines(capsys, command[0], str(evidence / "counters-blog.tar.gz"), *command[1:])
    assert [r for r in records if r["archive"] == str(evidence / "counters-blog.tar.gz")] == alone


def test_text_output_is_grouped_by_checkpoint(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(FIXTURES / name) for name in FORMS[1:]]
    assert run(["triage", *paths, "--min-severity", "medium", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line in paths] == paths
    assert out.index(paths[0]) < out.index("MEDIUM") < out.index(paths[1])


def test_memgrep_tells_checkpoints_from_patterns(capsys: pytest.CaptureFixture[str]) -> None:
    first, second = str(FIXTURES / "counters-blog.tar"), str(FIXTURES / "counters-blog.tar.zst")
    records = _lines(capsys, "memgrep", first, "RANDOM_1432_KEY", second, "-e", "no-such-file.tar")
    assert [(r["archive"], r["match"]) for r in records] == [(first, "RANDOM_1432_KEY"), (second, "RANDOM_1432_KEY")]
    assert run(["memgrep", first, second, "RANDOM_1432_KEY", "--hash"]) == 2  # a hash is of one checkpoint
    assert "--hash" in capsys.readouterr().err


@pytest.mark.parametrize("name", FORMS[1:])
def test_memgrep_decompresses_a_compressed_archive_once(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its pages images as big ones (not kept at open): searched in the pass that lists them."""
    monkeypatch.setattr(compressed, "SMALL_PAGES_LIMIT", 0)
    opened: list[str] = []
    real = compressed.decompressing_reader
    monkeypatch.setattr(compressed, "decompressing_reader", lambda raw, kind: opened.append(kind) or real(raw, kind))
    planted = sorted({value for p in truth("counters-blog")["processes"] for value in p["secrets"]})
    arguments = [argument for value in planted for argument in ("-e", value)]
    records = _lines(capsys, "memgrep", str(FIXTURES / name), *arguments)
    assert len(opened) == 1
    plain = _lines(capsys, "memgrep", str(FIXTURES / "counters-blog.tar"), *arguments)
    assert _without_archive(records) == _without_archive(plain)
    found = {(r["pid"], r["match"]): r for r in records}
    for process in truth("counters-blog")["processes"]:
        for value, count in process["secrets"].items():
            assert sum(1 for r in records if (r["pid"], r["match"]) == (process["pid"], value)) == count
    assert found
    # a regex reading past its match (\b) cannot be screened: the pass spools the pages images
    opened.clear()
    assert run(["memgrep", str(FIXTURES / name), "--regex", r"\bRANDOM_1432_KEY"]) == 0
    capsys.readouterr()
    assert len(opened) == 1
