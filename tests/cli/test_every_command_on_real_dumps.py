"""Every command on every real dump made here (and the odd shared ones): no internal error,
no traceback, an exit code of 0 or 1, and JSON that parses.

The weird scenario (file names and comms that are not UTF-8, control characters) once crashed
files, triage, recover, inspect and report; the proc scenario's zombie once made coredump fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkforensics.cli import run

from conftest import FIXTURES, SCENARIOS

SOURCES = {
    **{name: SCENARIOS / name for name in ("files", "ns", "proc", "restore", "sharing", "sockets", "weird")},
    "creds": SCENARIOS / "creds.tar.zst",
    "intrusion": SCENARIOS / "intrusion.tar.zst",
    "cow": SCENARIOS / "cow.tar.zst",
    "busybox-criu41": FIXTURES / "busybox-counter-criu41.tar",
    "containerd": FIXTURES / "containerd-busybox.tar",
}
COMMANDS = {
    "show": ["show"],
    "inspect": ["inspect", "--all"],
    "ps": ["ps", "--tree", "--env"],
    "files": ["files", "--data"],
    "sockets": ["sockets"],
    "memparse": ["memparse"],
    "memgrep": ["memgrep", "--secrets", "-e", "marker"],
    "triage": ["triage"],
    "malfind": ["malfind"],
    "diff": ["diff"],
    "crit-x": ["crit", "x"],
}
JSON_COMMANDS = {"show", "inspect", "ps", "files", "sockets", "memparse", "memgrep", "triage", "malfind", "diff"}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_runs_cleanly(source: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SOURCES[source])
    argv = [*COMMANDS[command], path]
    if command == "crit-x":
        statuses = [run(["crit", "x", path, what]) for what in ("ps", "fds", "mems", "rss")]
        out, err = capsys.readouterr()
        assert statuses == [0, 0, 0, 0], err
        return
    assert run(argv) in (0, 1)
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err
    assert out.strip()
    if command in JSON_COMMANDS:
        assert run([*argv, "--format", "json"]) in (0, 1)
        out, err = capsys.readouterr()
        assert "internal error" not in err
        json.loads(out)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_writing_commands_run_cleanly(source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SOURCES[source])
    assert run(["recover", path, "-o", str(tmp_path / "recovered")]) in (0, 1)
    assert run(["coredump", path, "-o", str(tmp_path / "cores")]) == 0
    assert run(["report", path, "-o", str(tmp_path / "report.html")]) == 0
    assert run(["malfind", path, "--dump", str(tmp_path / "malfind")]) in (0, 1)
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    assert not list((tmp_path / "cores").glob(".*partial"))
    assert "<html" in (tmp_path / "report.html").read_text()
