"""One way to choose processes: ``--pid`` means the same, and fails the same, in every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkforensics.cli import run

from conftest import FIXTURES, SCENARIOS

COUNTERS = str(FIXTURES / "counters-blog.tar")
UNKNOWN = "no process 99999 in the checkpoint (see 'checkforensics ps')"


def _argv(command: str, tmp_path: Path) -> list[str]:
    extra = {
        "memgrep": ["RANDOM"],
        "memdump": ["-o", str(tmp_path / "out.bin")],
        "coredump": ["-o", str(tmp_path)],
        "inspect": ["--ps-tree"],
    }
    return [command, COUNTERS, *extra.get(command, [])]


@pytest.mark.parametrize(
    "command", ["ps", "files", "sockets", "coredump", "inspect", "memgrep", "memparse", "memdump"]
)
def test_an_unknown_pid_is_the_same_usage_error_everywhere(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*_argv(command, tmp_path), "--pid", "99999"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"checkforensics: error: {COUNTERS}: {UNKNOWN}"
    assert captured.out == ""
    assert not any(tmp_path.iterdir()), "nothing is written for a wrong --pid"


def test_several_unknown_pids_are_all_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["files", COUNTERS, "--pid", "7", "--pid", "99999", "--pid", "5"]) == 2
    assert "no process 5, 99999 in the checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["ps", "files", "sockets", "inspect"])
def test_pid_is_repeatable(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [command, str(SCENARIOS / "proc"), "--pid", "17386", "--pid", "17394", "--format", "json"]
    if command == "inspect":
        argv.append("--ps-tree")
    assert run(argv) == (1 if command == "sockets" else 0)  # these two hold no socket: nothing found
    document = json.loads(capsys.readouterr().out)
    processes = document[0]["processes"] if command == "inspect" else document["processes"]
    assert sorted(process["pid"] for process in processes) == [17386, 17394]


def test_ps_tree_of_chosen_processes_keeps_their_family(capsys: pytest.CaptureFixture[str]) -> None:
    """proc-a (17386) and its fork child (17394): the child stays under its parent."""
    assert run(["ps", str(SCENARIOS / "proc"), "--tree", "--pid", "17386", "--pid", "17394"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "17386" in line or "17394" in line]
    assert len(lines) == 2 and lines[0].index("17386") < lines[1].index("17394")
