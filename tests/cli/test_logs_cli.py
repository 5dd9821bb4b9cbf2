"""``logs``: the container's log from the real containerd checkpoint, in each format."""

from __future__ import annotations

import json

import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode

from conftest import FIXTURES, truth

CONTAINERD = FIXTURES / "containerd-busybox.tar"


def test_text_is_the_log_as_the_node_had_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["logs", str(CONTAINERD)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == truth("containerd-busybox")["live"]["container_log"]
    assert captured.err == ""


def test_json_and_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["logs", str(CONTAINERD), "--format", "json", "--stream", "stderr"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["member"] == "container.log" and doc["warnings"] == []
    (entry,) = doc["entries"]
    assert entry["stream"] == "stderr" and entry["line"] == 2 and entry["tag"] == "F"
    assert entry["message"].startswith("cfw: wrote /etc/cron.d/cfw-job")
    assert run(["logs", str(CONTAINERD), "--format", "jsonl", "--join"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["pieces"] for r in records] == [1, 1, 1, 2]
    assert "cfw: marker-containerd-log-5a7f" in [r["message"] for r in records]


def test_control_characters_are_escaped_in_text(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    root = tmp_path / "ckpt"
    (root / "checkpoint").mkdir(parents=True)
    for name in os.listdir(FIXTURES / "bare-bash-sleep"):
        (root / "checkpoint" / name).write_bytes((FIXTURES / "bare-bash-sleep" / name).read_bytes())
    (root / "container.log").write_bytes(b"2026-12-01T07:07:14Z stdout F \x1b[31mred\x1b[0m\r\n")
    assert run(["logs", str(root)]) == 0
    assert capsys.readouterr().out == "2026-12-01T07:07:14Z stdout F \\x1b[31mred\\x1b[0m\\x0d\n"
    assert run(["logs", str(root), "--format", "jsonl"]) == 0
    assert json.loads(capsys.readouterr().out)["message"] == "\x1b[31mred\x1b[0m\r"


def test_a_checkpoint_without_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["logs", str(FIXTURES / "bare-bash-sleep")]) == ExitCode.BAD_INPUT
    assert "no container log in the checkpoint" in capsys.readouterr().err
