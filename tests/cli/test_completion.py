"""Shell completion: commands, options, and the CHECKPOINT argument completed with file names."""

from __future__ import annotations

import os
import pty
import select
import shutil
import sys
import time
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete

from checkforensics.cli import cli, command_names, load_command
from checkforensics.cli.declare import spec_of

from conftest import FIXTURES

ROOT = FIXTURES.parent


def _completions(args: list[str], incomplete: str) -> list[tuple[str, str]]:
    completer = ShellComplete(cli, {}, "checkforensics", "_CHECKFORENSICS_COMPLETE")
    return [(item.type, item.value) for item in completer.get_completions(args, incomplete)]


TAKING_CHECKPOINTS = [
    name for name in command_names() if spec_of(load_command(name)).takes in ("checkpoint", "checkpoints")
]


@pytest.mark.parametrize("name", TAKING_CHECKPOINTS)
def test_the_checkpoint_argument_completes_with_file_names(name: str) -> None:
    assert _completions([name], "fixtures/cou") == [("file", "fixtures/cou")]


def test_every_command_taking_checkpoints_is_checked() -> None:
    assert {"ps", "triage", "memgrep", "show", "diff", "timeline"} <= set(TAKING_CHECKPOINTS)


def test_diff_second_checkpoint_and_crit_inputs_complete_with_file_names() -> None:
    assert _completions(["diff", "fixtures/counters-blog.tar"], "fix") == [("file", "fix")]
    assert _completions(["crit", "show"], "fix") == [("file", "fix")]
    assert _completions(["crit", "decode", "-i"], "fix") == [("file", "fix")]


def test_options_still_complete_as_options() -> None:
    assert ("plain", "--min-severity") in _completions(["triage", "fixtures/inflight.tar.zst"], "--min")


def _read_until(fd: int, wanted: bytes, timeout: float = 30.0) -> bytes:
    seen, end = b"", time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_a_checkpoint_name_on_tab(tmp_path: Path) -> None:
    """A real interactive bash, the script of `completion bash` sourced, TAB pressed after
    `checkforensics ps fixtures/inflight.ta`: the line becomes the archive's whole name."""
    program = tmp_path / "checkforensics"
    program.write_text(f'#!/bin/sh\nexec {sys.executable} -m checkforensics "$@"\n')
    program.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "PS1": "$ ",
           "TERM": "dumb", "INPUTRC": "/dev/null", "HISTFILE": "/dev/null"}  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # the child: bash in the repository's root, where the README's examples run
        os.chdir(ROOT)
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
    try:
        os.write(fd, b"source <(checkforensics completion bash); echo 'SOURC''ED'\n")
        assert b"SOURCED" in _read_until(fd, b"SOURCED")
        os.write(fd, b"checkforensics ps fixtures/inflight.ta\t")
        assert b"checkforensics ps fixtures/inflight.tar.zst " in _read_until(fd, b"inflight.tar.zst ")
    finally:
        os.write(fd, b"\x03exit\n")
        os.close(fd)
        os.waitpid(pid, 0)
