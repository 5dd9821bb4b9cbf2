"""Hostile checkpoints built to cost (tests/hostile.py): every command answers, in bounded time and
memory, and says which limit it hit.

Each case runs the real command line in a subprocess under an address-space limit and a
timeout, and must end with a documented exit code, no traceback and the warning that names
what was wrong. The default run keeps to a few seconds a case; ``--runslow`` runs every
command on every case.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import resource
import subprocess
import sys
from html import unescape
from pathlib import Path

import hostile
import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 1_500_000_000  # bytes of address space for one command (prlimit --as)
TIMEOUT = 30  # seconds: no case may come near it
DOCUMENTED = {ExitCode.OK, ExitCode.NOTHING_FOUND, ExitCode.BAD_INPUT, ExitCode.UNSUPPORTED}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _command(argv: list[str], cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``checkforensics ARGV`` in a subprocess with at most MEMORY_LIMIT of address space."""
    done = subprocess.run(
        [sys.executable, "-m", "checkforensics", *argv],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=timeout,
        cwd=cwd,
        preexec_fn=_limit_memory,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in DOCUMENTED, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return done


def _in_process(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(argv)
    return code, out.getvalue(), err.getvalue()


# --- pstree cycles, own parents, duplicates -------------------------------------------------

TREE_PIDS = sorted({hostile.BARE_ROOT, hostile.BARE_CHILD, *hostile.CYCLE, hostile.BELOW_CYCLE, hostile.SELF_PARENT})


@pytest.fixture(scope="module")
def inconsistent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.inconsistent_tree(tmp_path_factory.mktemp("tree") / "inconsistent")


def _assert_tree_warnings(err: str) -> None:
    assert "pids 500, 501, 502 are their own ancestors (parent cycle 500 -> 502 -> 501 -> 500)" in err
    assert "pid 600 is its own parent" in err
    assert f"pid {hostile.BARE_CHILD} listed twice" in err


@pytest.mark.parametrize(
    ("argv", "pid_pattern"),
    [
        (["ps", "--tree"], r"^[│├└─ ]*(\d+) "),
        (["inspect", "--ps-tree-cmd"], r"^[│├└─ ]*\[(\d+)\]"),
        (["crit", "x", "{}", "ps"], r"^ *(\d+) +\d+ +\d+ "),
    ],
    ids=["ps-tree", "inspect", "crit-x-ps"],
)
def test_every_tree_view_shows_each_process_once(inconsistent: Path, argv: list[str], pid_pattern: str) -> None:
    argv = [arg.replace("{}", str(inconsistent)) for arg in argv]
    if str(inconsistent) not in argv:
        argv.insert(1, str(inconsistent))
    code, out, err = _in_process(argv)
    assert code == ExitCode.OK, err
    shown = [int(found.group(1)) for line in out.splitlines() if (found := re.match(pid_pattern, line))]
    assert sorted(shown) == TREE_PIDS
    if argv[0] != "crit":  # crit's explorer prints like crit: no warnings
        _assert_tree_warnings(err)


def test_the_report_shows_each_process_once(inconsistent: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, _, err = _in_process(["report", str(inconsistent), "-o", str(page)])
    assert code == ExitCode.OK, err
    html = page.read_text()
    tree = html[html.index('<ul class="tree">') : html.index("</section>", html.index('<ul class="tree">'))]
    assert sorted(int(pid) for pid in re.findall(r"<li><b>(\d+)</b>", tree)) == TREE_PIDS
    assert tree.count("<ul") == tree.count("</ul>") and tree.count("<li>") == tree.count("</li>")
    _assert_tree_warnings(unescape(html))


def test_json_lists_each_process_once(inconsistent: Path) -> None:
    code, out, err = _in_process(["ps", str(inconsistent), "--format", "json"])
    assert code == ExitCode.OK, err
    document = json.loads(out)
    assert sorted(process["pid"] for process in document["processes"]) == TREE_PIDS
    _assert_tree_warnings("\n".join(document["warnings"]))
