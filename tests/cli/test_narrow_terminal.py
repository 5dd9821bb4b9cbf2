"""Tables on a narrow terminal wrap at blanks only: an address, a path, a socket address is
never cut in two (memgrep's CONTEXT, escaped bytes, may fold anywhere)."""

from __future__ import annotations

import io
import re
import sys

import pytest

from checkforensics.cli import run

from conftest import FIXTURES

COUNTERS = str(FIXTURES / "counters-blog.tar")
COMMANDS = [["ps"], ["files"], ["sockets"], ["memparse"], ["memgrep", "RANDOM_1432_KEY"], ["diff"]]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _output(argv: list[str], monkeypatch: pytest.MonkeyPatch, columns: str | None) -> str:
    terminal = _Terminal()
    if columns is None:
        monkeypatch.setenv("NO_COLOR", "1")  # the plain layout: nothing wrapped at all
    else:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(sys, "stdout", terminal)
    assert run([argv[0], COUNTERS, *argv[1:]]) == 0
    monkeypatch.delenv("NO_COLOR", raising=False)
    return re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())


@pytest.mark.parametrize("columns", ["60", "80"])
@pytest.mark.parametrize("argv", COMMANDS, ids=[argv[0] for argv in COMMANDS])
def test_no_word_is_cut(argv: list[str], columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _output(argv, monkeypatch, None)
    narrow = _output(argv, monkeypatch, columns)
    context = plain.splitlines()[0].find("CONTEXT")
    lines = [line[:context] if context > 0 else line for line in plain.splitlines()]
    wanted = {word for line in lines for word in line.split()}
    shown = set(narrow.split())
    assert wanted - shown == set()
    tokens = re.compile(r"0x[0-9a-f]{6,}|/\w+/|\d+\.\d+\.\d+\.\d+:\d+")  # addresses, paths, sockets
    assert any(tokens.search(word) for word in wanted) or argv[0] == "memparse"
    if (argv[0], columns) in (("files", "80"), ("memparse", "60"), ("memparse", "80")):  # fit, wrapped at blanks
        assert max(len(line.rstrip()) for line in narrow.splitlines()) <= int(columns)
