"""The display options: --color WHEN, --no-color and --no-progress, before the command or after
it; NO_COLOR and FORCE_COLOR as their conventions say (no-color.org, force-color.org)."""

from __future__ import annotations

import io
import re
import sys

import pytest

from checkforensics.cli import run
from checkforensics.render import color_wanted

from conftest import FIXTURES

COUNTERS = str(FIXTURES / "counters-blog.tar")
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_colour_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")  # a terminal as wide as the tables: nothing to fit


def _stdout(argv: list[str], monkeypatch: pytest.MonkeyPatch, terminal: bool) -> str:
    out = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert run(argv) == 0
    return out.getvalue()


def _plain(text: str) -> list[str]:
    return [line.rstrip() for line in ESCAPE.sub("", text).splitlines()]


@pytest.mark.parametrize(
    "argv",
    [["--no-color", "ps", COUNTERS], ["ps", COUNTERS, "--no-color"], ["--color", "never", "ps", COUNTERS],
     ["ps", "--color=never", COUNTERS], ["--color", "always", "ps", COUNTERS, "--no-color"]],
)  # fmt: skip
def test_no_colour_on_a_terminal_wherever_it_is_asked(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert ESCAPE.search(_stdout(["ps", COUNTERS], monkeypatch, terminal=True))  # coloured by default
    out = _stdout(argv, monkeypatch, terminal=True)
    assert not ESCAPE.search(out)
    assert out == _stdout(["ps", COUNTERS], monkeypatch, terminal=False)  # the piped layout


@pytest.mark.parametrize(
    "argv", [["--color", "always", "ps", COUNTERS], ["ps", COUNTERS, "--color", "always"],
             ["--no-color", "ps", COUNTERS, "--color", "always"]],
)  # fmt: skip
def test_colour_kept_into_a_pipe_for_less_r(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    piped = _stdout(["ps", COUNTERS], monkeypatch, terminal=False)
    coloured = _stdout(argv, monkeypatch, terminal=False)
    assert "\x1b[1mPID\x1b[0m" in coloured  # the header in bold
    assert _plain(coloured) == piped.splitlines()  # a pipe has no width: nothing wrapped or cut


def test_a_tree_keeps_its_colour_into_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["inspect", COUNTERS, "--ps-tree"]
    coloured = _stdout([*argv, "--color", "always"], monkeypatch, terminal=False)
    assert "\x1b[1mcounters-blog.tar\x1b[0m" in coloured
    assert _plain(coloured) == _stdout(argv, monkeypatch, terminal=False).splitlines()


@pytest.mark.parametrize(
    ("environment", "terminal", "coloured"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": ""}, True, True),  # set but empty: not asked (no-color.org)
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "0"}, False, True),  # any value that is not empty (force-color.org)
        ({"FORCE_COLOR": ""}, False, False),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),  # asked not to: that wins
    ],
)
def test_the_environment_as_the_conventions_say(
    environment: dict[str, str], terminal: bool, coloured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert bool(ESCAPE.search(_stdout(["ps", COUNTERS], monkeypatch, terminal))) == coloured


def test_the_command_line_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert ESCAPE.search(_stdout(["ps", COUNTERS, "--color", "always"], monkeypatch, terminal=True))
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not ESCAPE.search(_stdout(["ps", COUNTERS, "--color", "never"], monkeypatch, terminal=False))


def test_a_run_leaves_colour_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _stdout(["--color", "always", "ps", COUNTERS], monkeypatch, terminal=False)
    assert not color_wanted(io.StringIO())


def test_a_bad_choice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ps", COUNTERS, "--color", "sometimes"]) == 2
    assert "'sometimes' is not one of 'auto', 'always', 'never'" in capsys.readouterr().err


def test_every_command_takes_them_before_and_after(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--no-color", "--no-progress", "--color", "never", "crit", "show", "--no-color", "--help"]) == 0
    for command in (["completion", "bash"], ["list", str(FIXTURES)], ["verify", COUNTERS]):
        assert run([*command, "--no-color", "--no-progress", "--color", "auto"]) == 0, command
