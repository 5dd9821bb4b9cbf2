"""Progress bars: only when the CLI turned them on, on a terminal, for big work; never on stdout."""

from __future__ import annotations

import io

import pytest

from checkforensics import progress
from checkforensics.cli import run

from conftest import FIXTURES


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr as a terminal, and bars for any size. In the test itself: pytest puts its own
    sys.stderr back between a fixture's setup and the test."""
    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(progress, "THRESHOLD", 0)
    monkeypatch.setattr(progress, "_active", False)
    return err


def _drawn(description: str, total: int, **kwargs: int) -> bool:
    calls = []
    with progress.task(description, total, **kwargs) as advance:
        advance(total)
        calls.append(advance)
    return calls[0] is not progress._noop


def test_a_bar_only_when_turned_on_on_a_terminal_and_worth_it(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _terminal(monkeypatch)
    assert not _drawn("off", 10)  # libraries alone never draw
    progress.activate(True)
    assert _drawn("on", 10)
    assert "on" in terminal.getvalue()
    assert not _drawn("small", 10, threshold=11)
    monkeypatch.setattr("sys.stdout", Terminal())
    with progress.quiet_while_streaming(True):
        assert not _drawn("streaming", 10)  # results are streamed to the same terminal
    with progress.quiet_while_streaming(False):
        assert _drawn("table", 10)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not _drawn("piped", 10)


def test_nested_tasks_share_one_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    _terminal(monkeypatch)
    progress.activate(True)
    with progress.task("outer", 100) as outer:
        bar = progress._progress
        with progress.task("inner", 50) as inner:
            assert progress._progress is bar and len(bar.tasks) == 2
            inner(50)
        assert len(bar.tasks) == 1
        outer(100)
    assert progress._progress is None


@pytest.mark.parametrize(
    ("argv", "label"),
    [
        (["verify", str(FIXTURES / "counters-blog.tar")], "hashing"),
        (["memgrep", str(FIXTURES / "counters-blog.tar"), "RANDOM_1432_KEY"], "searching"),
        (["memgrep", "--secrets", str(FIXTURES / "counters-blog.tar")], "secrets"),
        (["show", str(FIXTURES / "counters-blog.tar.zst"), "--no-hash"], "reading archive"),
    ],
)
def test_long_commands_show_what_they_do(monkeypatch: pytest.MonkeyPatch, capsys, argv: list[str], label: str) -> None:
    terminal = _terminal(monkeypatch)
    assert run(argv) in (0, 1)
    assert label in terminal.getvalue()
    assert label not in capsys.readouterr().out
    for off in (["--no-progress", *argv], [*argv, "--no-progress"]):  # before the command or after it
        terminal.seek(0)
        terminal.truncate()
        assert run(off) in (0, 1)
        assert label not in terminal.getvalue()


def test_no_bar_without_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(progress, "THRESHOLD", 0)
    assert run(["verify", str(FIXTURES / "counters-blog.tar")]) == 0
    assert "hashing" not in capsys.readouterr().err
