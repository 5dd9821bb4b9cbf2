"""Tables fit the terminal they are drawn on: cells wrap at blanks, then the long text columns
are narrowed first and a word too long for its column is cut with its length (``…(N chars)``),
and only where even that does not fit is a cell folded; a line is never wider than the
terminal, so the columns stay columns. Piped, nothing changes (a pipe has no width)."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import sys
import termios
from collections import Counter

import pytest

from checkforensics.cli import run
from checkforensics.render.tables import CUT_NARROWEST, FOLDED_WIDTH, _column_widths

from conftest import FIXTURES, SCENARIOS

ROOT = FIXTURES.parent
COUNTERS = str(FIXTURES / "counters-blog.tar")
INTRUSION = str(SCENARIOS / "intrusion.tar.zst")
COMMANDS = [
    ["ps", COUNTERS], ["files", COUNTERS], ["sockets", COUNTERS], ["memparse", COUNTERS],
    ["memgrep", COUNTERS, "RANDOM_1432_KEY"], ["diff", COUNTERS], ["triage", INTRUSION, "--no-secrets"],
]  # fmt: skip
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CUT = re.compile(r"(\S*)…\((\d+) chars\)")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _piped(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert run(argv) == 0
    return capsys.readouterr().out


def _on_terminal(argv: list[str], columns: int, monkeypatch: pytest.MonkeyPatch) -> str:
    terminal = _Terminal()
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", terminal)
    assert run(argv) == 0
    monkeypatch.undo()
    return ESCAPES.sub("", terminal.getvalue())


def _under_a_pty(argv: list[str], columns: int) -> str:
    """``checkforensics ARGV`` run on a real pseudo-terminal ``columns`` wide, as it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdout is the terminal
        os.chdir(ROOT)
        env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
        os.execvpe(sys.executable, [sys.executable, "-m", "checkforensics", *argv], {**env, "PYTHONPATH": str(ROOT)})
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    out = b""
    while select.select([fd], [], [], 60)[0]:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:  # the child is gone and its output read
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    return ESCAPES.sub("", out.decode()).replace("\r\n", "\n")


def _widest(text: str) -> int:
    return max(len(line.rstrip()) for line in text.splitlines())


@pytest.mark.parametrize("argv", [["triage", INTRUSION, "--no-secrets"], ["ps", COUNTERS]], ids=["triage", "ps"])
def test_under_a_real_pty(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    piped = _piped(argv, capsys)
    assert _widest(piped) > 80  # the table is wider than a narrow terminal
    assert _widest(_under_a_pty(argv, 60)) <= 60
    assert _widest(_under_a_pty([*argv, "--no-color"], 60)) <= 60  # fitted in colour or not
    wide = _under_a_pty(argv, 200)
    assert _widest(wide) <= 200
    _assert_whole_or_cut(piped, wide)
    if _widest(piped) <= 200:  # the whole table fits: laid out as piped, in colour
        assert [line.rstrip() for line in wide.splitlines()] == piped.splitlines()
    elif not CUT.findall(wide):  # the words fit: cells wrapped at blanks only
        assert Counter(wide.split()) == Counter(piped.split())


@pytest.mark.parametrize("columns", [60, 80, 100])
@pytest.mark.parametrize("argv", COMMANDS, ids=[argv[0] for argv in COMMANDS])
def test_no_line_is_wider_than_the_terminal(
    argv: list[str], columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    narrow = _on_terminal(argv, columns, monkeypatch)
    assert _widest(narrow.split("\n\n")[0]) <= columns  # the table (a sentence after it wraps as prose)
    piped = _piped(argv, capsys)
    if len(CUT.findall(narrow)) == len(CUT.findall(piped)):  # nothing cut: every character shown, wrapped or folded
        assert Counter("".join(narrow.split())) == Counter("".join(piped.split()))


@pytest.mark.parametrize(("argv", "columns"), [(["triage", INTRUSION, "--no-secrets"], 140), (["ps", COUNTERS], 100)])
def test_a_word_is_whole_or_cut_with_its_length(
    argv: list[str], columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where the long words do not fit side by side and cutting the long columns is enough:
    each word shows whole, or as its start and its real length."""
    assert _assert_whole_or_cut(_piped(argv, capsys), _on_terminal(argv, columns, monkeypatch))  # some cut


def _assert_whole_or_cut(piped: str, narrow: str) -> set[str]:
    """Each word of the piped table is in ``narrow`` whole or cut as its start and its real
    length; the words cut."""
    words = set(piped.split())
    cuts = [(start, int(length)) for start, length in CUT.findall(narrow)]
    cut_words = {word for word in words if any(word.startswith(s) and len(word) == n for s, n in cuts)}
    for start, length in cuts:  # no cut says a length no word has
        assert any(word.startswith(start) and len(word) == length for word in words) or any(
            f"{start}…({length}" in word for word in words  # a value the record itself cut (LONG)
        ), (start, length)
    shown = set(narrow.split())
    assert {word for word in words - shown - cut_words if "…(" not in word and word != "chars)"} == set()
    return cut_words


def test_column_widths() -> None:
    columns, rows = ["PID", "PATH"], [["1", "/" + "p" * 29 + " and more words"]]  # a word of 30, a cell of 45
    assert _column_widths(columns, rows, None) == ([3, 45], 2)  # a pipe: as wide as the cells
    assert _column_widths(columns, rows, 200) == ([3, 45], 2)
    assert _column_widths(columns, rows, 40) == ([3, 35], 2)  # the word fits: the cell wraps at blanks
    assert _column_widths(columns, rows, 30) == ([3, 25], 2)  # it does not: the long column narrowed, cut
    widths, gap = _column_widths(["A", "B"], [["a" * 60, "short"]], 40)
    assert (widths, gap) == ([33, 5], 2) and widths[0] >= CUT_NARROWEST  # the short column whole
    widths, gap = _column_widths(["A", "B", "C", "D"], [["x" * 30, "y" * 30, "z" * 30, "w" * 30]], 40)
    assert (widths, gap) == ([10, 9, 9, 9], 1)  # nothing else fits: one blank apart, all alike, folded
    widths, gap = _column_widths(["ADDRESS", "CONTEXT"], [["0x7f3878c98b20", "y" * 50]], 30, foldable=("CONTEXT",))
    assert (widths, gap) == ([14, 14], 2) and widths[1] < FOLDED_WIDTH  # bytes give way first, the address whole
