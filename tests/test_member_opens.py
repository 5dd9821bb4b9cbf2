"""Every command opens each member of an extracted checkpoint directory at most once.

The model decodes each image once per command, whichever analyses ask for it; a pages file is
opened once and read, mapped and hashed through that one descriptor; a directory's hash reuses
what was read. Opens are counted with an audit hook on ``open`` events, which both ``open()``
and ``os.open()`` raise.
"""

from __future__ import annotations

import collections
import os
import sys
import tarfile
from pathlib import Path

import pytest

from checkforensics.cli import run

from conftest import FIXTURES, SCENARIOS

_recording: list[str] | None = None


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _recording is not None and isinstance(args[0], str | bytes | os.PathLike):
        _recording.append(os.path.abspath(os.fsdecode(args[0])))


sys.addaudithook(_hook)


def _opens(argv: list[str], root: Path) -> collections.Counter[str]:
    """How often each file below ``root`` was opened while ``argv`` ran."""
    global _recording
    _recording = []
    try:
        code = run(argv)
    finally:
        opened, _recording = _recording, None
    assert code in (0, 1), f"{argv} ended with {code}"
    base = os.path.abspath(root) + os.sep
    return collections.Counter(path[len(base) :] for path in opened if path.startswith(base))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """counters-blog and its later checkpoint, extracted as an engine would leave them."""
    found = {}
    for name in ("counters-blog.tar", "counters-blog-later.tar.zst"):
        target = tmp_path_factory.mktemp(name.split(".")[0])
        if name.endswith(".zst"):
            import zstandard

            with (
                open(FIXTURES / name, "rb") as raw,
                zstandard.ZstdDecompressor().stream_reader(raw) as stream,
                tarfile.open(fileobj=stream, mode="r|") as archive,
            ):
                archive.extractall(target, filter="data")
        else:
            with tarfile.open(FIXTURES / name) as archive:
                archive.extractall(target, filter="data")
        found[name.split(".")[0]] = target
    return found


def _commands(out: Path) -> list[list[str]]:
    return [
        ["show", "{cp}", "--print-stats", "--format", "json"],
        ["inspect", "{cp}", "--all", "--format", "json"],
        ["inspect", "{cp}", "--all"],
        ["ps", "{cp}", "--tree", "--env"],
        ["ps", "{cp}", "--format", "json", "--env"],
        ["files", "{cp}", "--data", "--format", "json"],
        ["sockets", "{cp}"],
        ["recover", "{cp}", "-o", str(out / "recovered")],
        ["diff", "{cp}", "--format", "json"],
        ["coredump", "{cp}", "-o", str(out / "cores")],
        ["memgrep", "{cp}", "marker", "--format", "json"],
        ["memgrep", "{cp}", "--secrets", "--format", "json"],
        ["memparse", "{cp}", "--format", "json"],
        ["triage", "{cp}", "--format", "json"],
        ["report", "{cp}", "-o", str(out / "report.html")],
        ["verify", "{cp}"],
        ["timeline", "{cp}", "--all", "--format", "json"],
    ]


@pytest.mark.parametrize("index", range(len(_commands(Path()))))
@pytest.mark.parametrize("source", ["proc", "counters-blog"])
def test_each_member_is_opened_once(
    index: int, source: str, extracted: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = SCENARIOS / "proc" if source == "proc" else extracted[source]
    argv = [part.replace("{cp}", str(checkpoint)) for part in _commands(tmp_path)[index]]
    opens = _opens(argv, checkpoint)
    capsys.readouterr()
    if argv[0] not in ("diff", "timeline") or source != "proc":  # a bare images directory has no rootfs layers
        assert opens, f"{argv} opened no member: the count would prove nothing"
    assert {name: count for name, count in opens.items() if count > 1} == {}


def test_diff_of_two_checkpoints_with_secrets_opens_each_member_once(
    extracted: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = extracted["counters-blog"], extracted["counters-blog-later"]
    argv = ["diff", str(a), str(b), "--secrets", "--format", "json"]
    for root in (a, b):
        opens = _opens(argv, root)
        assert opens and {name: count for name, count in opens.items() if count > 1} == {}
    capsys.readouterr()


def test_the_hook_sees_a_second_open(capsys: pytest.CaptureFixture[str]) -> None:
    """The counter itself: reading the same image twice in one run is seen."""
    global _recording
    _recording = []
    with open(SCENARIOS / "proc" / "pstree.img", "rb"), open(SCENARIOS / "proc" / "pstree.img", "rb"):
        pass
    seen, _recording = _recording, None
    assert collections.Counter(seen)[os.path.abspath(SCENARIOS / "proc" / "pstree.img")] == 2
