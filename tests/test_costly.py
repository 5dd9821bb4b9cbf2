"""Hostile checkpoints built to cost (tests/costly.py): every command answers, in bounded time and
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
import tempfile
import time
from html import unescape
from pathlib import Path

import costly
import pytest
from elftools.elf.elffile import ELFFile

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

TREE_PIDS = sorted({costly.BARE_ROOT, costly.BARE_CHILD, *costly.CYCLE, costly.BELOW_CYCLE, costly.SELF_PARENT})


@pytest.fixture(scope="module")
def inconsistent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return costly.inconsistent_tree(tmp_path_factory.mktemp("tree") / "inconsistent")


def _assert_tree_warnings(err: str) -> None:
    assert "pids 500, 501, 502 are their own ancestors (parent cycle 500 -> 502 -> 501 -> 500)" in err
    assert "pid 600 is its own parent" in err
    assert f"pid {costly.BARE_CHILD} listed twice" in err


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


# --- running many commands at once ----------------------------------------------------------


def _commands(runs: list[tuple[list[str], str | None]], cwd: Path, timeout: float = TIMEOUT) -> list[str]:
    """Each ``(argv, warning)`` as a checkforensics subprocess under MEMORY_LIMIT, all at once,
    each within ``timeout`` seconds; its stderr must hold ``warning`` (when given). Their stdouts."""
    with contextlib.ExitStack() as stack:
        started = []
        for argv, _ in runs:
            out, err = stack.enter_context(tempfile.TemporaryFile()), stack.enter_context(tempfile.TemporaryFile())
            process = subprocess.Popen(
                [sys.executable, "-m", "checkforensics", *argv],
                stdout=out,
                stderr=err,
                cwd=cwd,
                preexec_fn=_limit_memory,
                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            )
            stack.callback(_kill, process)
            started.append((process, out, err, time.monotonic()))
        outputs = []
        for (process, out, err, began), (argv, warning) in zip(started, runs, strict=True):
            code = process.wait(timeout=max(1.0, timeout - (time.monotonic() - began)))
            err.seek(0)
            out.seek(0)
            stderr = err.read().decode("utf-8", "backslashreplace")
            assert "Traceback" not in stderr, f"{argv}: {stderr[-3000:]}"
            assert code in DOCUMENTED, f"{argv}: exit {code}: {stderr[-2000:]}"
            if warning is not None:
                assert warning in stderr, f"{argv}: no {warning!r} in {stderr[-2000:]}"
            outputs.append(out.read().decode("utf-8", "backslashreplace"))
        return outputs


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


# --- 100,000 processes ------------------------------------------------------------------------

SWARM = 100_000


@pytest.fixture(scope="module")
def swarms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("swarm")
    return {shape: costly.process_swarm(root / shape, SWARM, shape) for shape in ("chain", "flat")}


DEEP = "the process tree is 100002 levels deep"
UNDUMPED = "no core image for pid 200000, 200001"
SWARM_RUNS = {
    "chain": [(["inspect", "{}", "--all"], DEEP), (["ps", "{}", "--tree"], DEEP)],
    "flat": [(["triage", "{}"], UNDUMPED), (["report", "{}", "-o", "report.html"], None)],
}
SLOW_SWARM_RUNS = [
    (["inspect", "{}", "--all", "--format", "json"], UNDUMPED),
    (["ps", "{}"], UNDUMPED),
    (["files", "{}"], UNDUMPED),
    (["memparse", "{}"], None),
    (["crit", "x", "{}", "ps"], None),
    (["coredump", "{}", "-o", "cores"], UNDUMPED),
    (["inspect", "{}", "--all"], UNDUMPED),
    (["ps", "{}", "--tree"], UNDUMPED),
    (["triage", "{}"], UNDUMPED),
    (["report", "{}", "-o", "report.html"], None),
]


def _fill(runs: list[tuple[list[str], str | None]], path: Path) -> list[tuple[list[str], str | None]]:
    return [([str(path) if arg == "{}" else arg for arg in argv], warning) for argv, warning in runs]


def test_100000_processes_in_a_chain_and_flat(swarms: dict[str, Path], tmp_path: Path) -> None:
    """The brief's four commands, one chain and one flat tree of 100,000 processes, none of them
    with an image: each process costs O(1), nothing recurses, every process is drawn once."""
    runs = _fill(SWARM_RUNS["chain"], swarms["chain"]) + _fill(SWARM_RUNS["flat"], swarms["flat"])
    inspect_out, ps_out, _, _ = _commands(runs, tmp_path)
    for out in (inspect_out, ps_out):
        drawn = re.findall(r"^[│├└─ ]*\[?(\d+)\]?  ?", out, re.MULTILINE)
        assert len(drawn) == SWARM + 2 and len(set(drawn)) == SWARM + 2
        assert max(len(line) for line in out.splitlines()) < 400  # drawn no deeper than the limit
    page = (tmp_path / "report.html").read_text()
    assert page.count("<li><b>") == SWARM + 2


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["chain", "flat"])
def test_100000_processes_through_every_command(swarms: dict[str, Path], tmp_path: Path, shape: str) -> None:
    runs = _fill(SLOW_SWARM_RUNS, swarms[shape])
    for index in range(0, len(runs), 2):
        _commands(runs[index : index + 2], tmp_path)


# --- pagemaps and mm images that lie -------------------------------------------------------

PAST_END = "the pagemap points past the end of the pages image"
MEMORY_RUNS = {  # the commands each case broke or strained, and the warning it must give
    "huge-run": [(["triage", "{}"], PAST_END), (["report", "{}", "-o", "report.html"], None)],
    "overlapping-runs": [(["memparse", "{}"], "pagemap runs overlap others")],
    "past-pages": [(["memgrep", "{}", "BARE_DUMP_SECRET_42"], PAST_END)],
    "many-runs": [(["memparse", "{}"], PAST_END)],
    "huge-vma": [(["coredump", "{}", "-o", "cores"], "span more than 64 GiB")],
    "many-vmas": [(["coredump", "{}", "-o", "cores"], None)],
    "giant-auxv": [(["coredump", "{}", "-o", "cores"], "mm_saved_auxv holds 30000000 values")],
}
EVERY_MEMORY_COMMAND = [
    (["triage", "{}"], None),
    (["report", "{}", "-o", "report.html", "--force"], None),
    (["memparse", "{}"], None),
    (["memgrep", "{}", "--secrets"], None),
    (["memdump", "{}", "--pid", str(costly.BARE_ROOT), "-o", "pid.mem", "--force"], None),
    (["coredump", "{}", "-o", "cores", "--force"], None),
    (["ps", "{}", "--env"], None),
    (["inspect", "{}", "--all"], None),
    (["crit", "x", "{}", "rss"], None),
    (["crit", "x", "{}", "mems"], None),
]


@pytest.fixture(scope="module")
def lying_memory(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("memory")
    return {case: costly.lying_memory(root / case, case) for case in costly.MEMORY_CASES}


@pytest.mark.parametrize("case", costly.MEMORY_CASES)
def test_memory_that_lies_costs_what_the_pages_hold(lying_memory: dict[str, Path], tmp_path: Path, case: str) -> None:
    _commands(_fill(MEMORY_RUNS[case], lying_memory[case]), tmp_path)
    if (tmp_path / "cores").exists():
        cores = sorted((tmp_path / "cores").iterdir())
        assert [core.name for core in cores] == [f"core.{costly.BARE_ROOT}", f"core.{costly.BARE_CHILD}"]
        dumped = sum(path.stat().st_size for path in lying_memory[case].glob("pages-*.img"))
        headers = 8 << 20  # notes and program headers: 56 bytes a mapping
        assert all(core.stat().st_blocks * 512 <= dumped + headers for core in cores)  # no more than was dumped
        assert all(core.stat().st_size < 1 << 40 for core in cores)
        with (tmp_path / "cores" / f"core.{costly.BARE_ROOT}").open("rb") as core:
            segments = ELFFile(core).num_segments()
        if case == "many-vmas":  # past 65,534 the count is in section header 0 (PN_XNUM)
            assert segments > costly.MANY_VMAS


@pytest.mark.slow
@pytest.mark.parametrize("case", costly.MEMORY_CASES)
def test_memory_that_lies_through_every_command(lying_memory: dict[str, Path], tmp_path: Path, case: str) -> None:
    runs = _fill(EVERY_MEMORY_COMMAND, lying_memory[case])
    for index in range(0, len(runs), 2):
        _commands(runs[index : index + 2], tmp_path)


def test_a_run_of_2_to_the_40_pages_counts_as_what_the_pages_image_holds(lying_memory: dict[str, Path]) -> None:
    from checkforensics.analysis.memsearch.memparse import memory_sizes
    from checkforensics.diagnostics import Part
    from checkforensics.model import CheckpointModel

    with CheckpointModel.open(lying_memory["huge-run"]) as model:
        memory = model.memory(costly.BARE_ROOT)
        assert memory.dumped_bytes <= memory.pages_size
        assert memory_sizes(memory).dumped_size <= memory.pages_size
        assert sum(region.length for region in memory.regions(shared=True)) <= memory.pages_size
        said = model.diagnostics.said(Part.MEMORY)
        assert any("past the end of the pages image" in warning for warning in said)


# --- decompression bombs ----------------------------------------------------------------------

LIMIT_HIT = "reading on would pass the decompression limit of"


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bombs")
    bomb = costly.compressed_bomb
    return {
        "20g.tar.gz": bomb(root / "20g.tar.gz", "gz"),
        "20g.tar.zst": bomb(root / "20g.tar.zst", "zst"),
        "pieces.tar.zst": bomb(root / "pieces.tar.zst", "zst", bomb=2 << 30, pieces=16, before="rootfs-diff.tar"),
        "pieces.tar.gz": bomb(root / "pieces.tar.gz", "gz", bomb=2 << 30, pieces=16, before="rootfs-diff.tar"),
        "first.tar.zst": bomb(root / "first.tar.zst", "zst", bomb=2 << 30, pieces=8, before="config.dump"),
        "layer": costly.layer_bomb(root / "layer"),
    }


@pytest.mark.parametrize("name", ["20g.tar.gz", "20g.tar.zst"])
def test_a_20_gib_member_is_never_inflated(bombs: dict[str, Path], tmp_path: Path, name: str) -> None:
    """One member of 20 GiB of zeros in 22 MB (gzip) or 2.6 MB (zstd): the listing stops at its
    header, before a byte of it is inflated; the checkpoint before it is analysed as usual."""
    started = time.monotonic()
    warning = f"listing stopped at member 'zeros-0.bin' (21474836480 bytes): {LIMIT_HIT}"
    path = str(bombs[name])
    runs = [(["show", path], warning), (["ps", path], warning), (["memgrep", path, "RANDOM_1432_KEY"], warning)]
    show, ps, memgrep = _commands(runs, tmp_path, 10)  # every command says the listing stopped
    assert time.monotonic() - started < 10
    assert "counters" in show and "counter.py" in ps and "RANDOM_1432_KEY" in memgrep


def test_a_bomb_in_pieces_is_inflated_up_to_the_limit_and_no_further(bombs: dict[str, Path], tmp_path: Path) -> None:
    path = str(bombs["pieces.tar.zst"])
    (show,) = _commands([(["show", path], "listing stopped at member 'zeros-7.bin' (134217728 bytes)")], tmp_path)
    assert "counters" in show
    raised = _command(["--max-expansion", "3G", "show", path], tmp_path)
    assert raised.returncode == ExitCode.OK and raised.stderr == ""  # raised, the same archive lists to its end


def test_a_bomb_before_the_images_leaves_nothing_but_says_why(bombs: dict[str, Path], tmp_path: Path) -> None:
    done = _command(["show", str(bombs["first.tar.zst"])], tmp_path)
    assert done.returncode == ExitCode.BAD_INPUT
    assert "no CRIU images" in done.stderr and LIMIT_HIT in done.stderr


def test_a_bomb_inside_a_tmpfs_layer_is_held_to_the_limit(bombs: dict[str, Path], tmp_path: Path) -> None:
    limit = "the layer expands past the limit of 268435456 bytes set by --max-expansion"
    _commands([(["--max-expansion", "256M", "diff", str(bombs["layer"])], limit)], tmp_path)


@pytest.mark.slow
def test_gzip_bombs_in_pieces_cost_at_most_the_limit(bombs: dict[str, Path], tmp_path: Path) -> None:
    runs = [
        (["show", str(bombs["pieces.tar.gz"])], "listing stopped at member"),
        (["diff", str(bombs["layer"])], "the layer expands past the decompression limit"),
    ]
    _commands(runs, tmp_path)
