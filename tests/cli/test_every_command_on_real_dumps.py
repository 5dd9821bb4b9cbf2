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
from checkforensics.cli.declare import CommandSpec
from tests.commands import argv, sample_id, samples

from conftest import FIXTURES, SCENARIOS

SOURCES = {
    **{name: SCENARIOS / name for name in ("files", "ns", "proc", "restore", "sharing", "sockets", "weird")},
    "creds": SCENARIOS / "creds.tar.zst",
    "intrusion": SCENARIOS / "intrusion.tar.zst",
    "cow": SCENARIOS / "cow.tar.zst",
    "busybox-criu41": FIXTURES / "busybox-counter-criu41.tar",
    "containerd": FIXTURES / "containerd-busybox.tar",
    "containerd-intrusion": FIXTURES / "containerd-intrusion.tar.zst",
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize(("spec", "sample"), samples(writing=False), ids=sample_id)
def test_runs_cleanly(
    source: str, spec: CommandSpec, sample: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    command = argv(spec, sample, SOURCES[source])
    code = run(command)
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err
    if code == 3 and "container" in spec.reads:  # a bare criu dump has no container log: one line says so
        assert err.count("checkforensics: error: ") == 1 and not out
        return
    assert code in (0, 1)
    if spec.answers:  # an answer, or the one way to say there is none
        assert out.strip() or "checkforensics: nothing found: " in err
    else:
        assert out.strip() or code == 1
    if spec.json:
        assert run([*command, "--format", "json"]) in (0, 1)
        out, err = capsys.readouterr()
        assert "internal error" not in err
        json.loads(out)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_writing_commands_run_cleanly(source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for spec, sample in samples(writing=True):
        assert run(argv(spec, sample, SOURCES[source], tmp_path)) in (0, 1), spec.name
        err = capsys.readouterr().err
        assert "internal error" not in err and "Traceback" not in err
    assert not list(tmp_path.glob("coredump-*/.*partial"))
    assert "<html" in next(tmp_path.glob("report-*")).read_text()
