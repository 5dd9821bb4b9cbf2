"""The container log: CRI lines parsed, long lines cut, pieces joined; on the real containerd
checkpoint's container.log and Podman's ctr.log, and on built logs for the rest."""

from __future__ import annotations

import io

import pytest

from checkforensics.analysis import containerlog
from checkforensics.analysis.containerlog import LogEntry, iter_log, join_partial, open_container_log, parse_line
from checkforensics.diagnostics import Diagnostics, Part
from checkforensics.errors import MemberNotFoundError
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, truth


def test_containerd_container_log_line_by_line() -> None:
    facts = truth("containerd-busybox")
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model, open_container_log(model) as log:
        entries = list(log.entries())
        assert log.member == "container.log" and log.warnings == []
    assert [" ".join((e.time, e.stream, e.tag, e.message)) for e in entries] == facts["container_log"]
    assert facts["container_log"] == facts["live"]["container_log"]  # what the node's log file held
    assert [e.stream for e in entries] == ["stdout", "stderr", "stdout", "stdout", "stdout"]
    assert [e.tag for e in entries] == ["F", "F", "F", "P", "F"]
    assert len(entries[3].message) == 16384  # containerd's max_container_log_line_size


def test_joined_pieces_make_the_line_the_container_wrote() -> None:
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model, open_container_log(model) as log:
        entries = list(log.entries(join=True, streams=["stdout"]))
    assert [e.line for e in entries] == [1, 3, 4]
    long = entries[-1]
    assert (long.pieces, long.tag, long.partial) == (2, "F", False)
    assert long.message == "cfw: long line " + "0123456789abcdef" * 1024 + " end"


def test_podman_ctr_log() -> None:
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as model, open_container_log(model) as log:
        entries = list(log.entries())
    assert log.member == "ctr.log"
    assert entries[1].message.startswith('127.0.0.1 - - [22/Nov/2026 23:19:38] "GET /secret?RANDOM_1432_KEY')
    assert entries[0].time == "2026-11-22T23:19:38.200143399+00:00"


def test_no_log_is_said() -> None:
    with CheckpointModel.open(FIXTURES / "bare-bash-sleep") as model, pytest.raises(MemberNotFoundError):
        open_container_log(model)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"2026-12-01T07:07:14.492125233Z stdout F hello world", ("stdout", "F", "hello world")),
        (b"2026-12-01T07:07:14Z stderr P ", ("stderr", "P", "")),
        (b"2026-12-01T07:07:14Z stderr F", ("stderr", "F", "")),
        (b"2026-12-01T07:07:14.1+02:00 stdout F:X two tags", ("stdout", "F:X", "two tags")),
        (b'{"log":"docker json-file\\n"}', (None, None, '{"log":"docker json-file\\n"}')),
        (b"yesterday stdout F not a time", (None, None, "yesterday stdout F not a time")),
        (b"2026-12-01T07:07:14Z stdin F no such stream", (None, None, "2026-12-01T07:07:14Z stdin F no such stream")),
        (b"2026-12-01T07:07:14Z stdout F bad \xff\xfe bytes", ("stdout", "F", "bad \\xff\\xfe bytes")),
    ],
)
def test_parse_line(raw: bytes, expected: tuple[str | None, str | None, str]) -> None:
    entry = parse_line(7, raw)
    assert (entry.stream, entry.tag, entry.message) == expected and entry.line == 7


def test_long_lines_are_cut_and_the_rest_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containerlog, "LINE_LIMIT", 64)
    data = b"2026-12-01T07:07:14Z stdout F " + b"x" * 200 + b"\n2026-12-01T07:07:15Z stdout F after\n"
    said = Diagnostics()
    first, second = iter_log(io.BytesIO(data), said, "container.log")
    assert first.truncated and len(first.message) == 64 - len("2026-12-01T07:07:14Z stdout F ")
    assert (second.line, second.message, second.truncated) == (2, "after", False)
    assert said.said(Part.LOG) == ["container.log: line 1 is longer than 64 bytes; the rest was not kept"]


def test_foreign_lines_are_kept_and_counted() -> None:
    said = Diagnostics()
    entries = list(iter_log(io.BytesIO(b"plain text\n2026-12-01T07:07:15Z stdout F ok\nno newline at end"), said))
    assert [e.message for e in entries] == ["plain text", "ok", "no newline at end"]
    assert said.untold() == ["log: 2 of 3 lines are not in the CRI log format; shown as they are"]


def _entry(line: int, stream: str, tag: str, message: str) -> LogEntry:
    return LogEntry(line, f"2026-12-01T07:07:{line:02d}Z", stream, tag, message)


def test_join_per_stream_and_dangling_pieces() -> None:
    entries = [
        _entry(1, "stdout", "P", "ab"),
        _entry(2, "stderr", "F", "err"),
        _entry(3, "stdout", "P", "cd"),
        _entry(4, "stdout", "F", "ef"),
        _entry(5, "stderr", "P", "cut by the checkpoint"),
    ]
    joined = list(join_partial(entries, Diagnostics()))
    assert [(e.line, e.stream, e.message, e.pieces, e.partial) for e in joined] == [
        (2, "stderr", "err", 1, False),
        (1, "stdout", "abcdef", 3, False),
        (5, "stderr", "cut by the checkpoint", 1, True),
    ]


def test_join_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containerlog, "JOIN_LIMIT", 5)
    said = Diagnostics()
    joined = list(join_partial([_entry(n, "stdout", "P", "abc") for n in (1, 2, 3)], said))
    assert [(e.message, e.truncated) for e in joined] == [("abcabc", True), ("abc", False)]
    assert said.warnings() == ["log: the message from line 1 is longer than 5 bytes; cut there"]
