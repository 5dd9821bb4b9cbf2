"""Damaged and hostile input never crashes, hangs, or writes outside where it was told.

The default run tries a few dozen mutants of real checkpoints through every command; set
CHECKFORENSICS_FUZZ_SEEDS (e.g. 2000) for a long run.  Hypothesis throws random bytes and
random JSON at the decoder and encoder.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutants import make_mutant

from checkforensics.cli import run
from checkforensics.cli.declare import CommandSpec
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.images.codec import count_entries, decode_image
from checkforensics.images.crit_json import dict_to_image, image_to_dict
from tests.commands import argv as command_line
from tests.commands import samples

from conftest import FIXTURES, SCENARIOS

SEEDS = int(os.environ.get("CHECKFORENSICS_FUZZ_SEEDS", "28"))
SOURCES = [FIXTURES / "busybox-counter-criu41.tar", FIXTURES / "counters-blog.tar"]
COMMANDS = samples(writing=False)  # every command as it declares itself (tests/commands.py)
ALLOWED = {ExitCode.OK, ExitCode.NOTHING_FOUND, ExitCode.USAGE, ExitCode.BAD_INPUT, ExitCode.UNSUPPORTED}


def _argv(command: tuple[CommandSpec, tuple[str, ...]], path: Path) -> list[str]:
    return command_line(*command, path)


def _run_quietly(argv: list[str]) -> tuple[int, str, float]:
    err, out = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = run(argv)
    for stream, text in (("stdout", out.getvalue()), ("stderr", err.getvalue())):
        raw = _RAW.search(text)
        around = text[max(0, raw.start() - 80) : raw.end() + 80] if raw else ""
        assert raw is None, f"{' '.join(argv)}: raw {raw[0]!r} on {stream}: {around!r}"
    return code, err.getvalue(), time.monotonic() - started


# what must never reach an output raw (docs/security.md): controls but newline and tab, DEL, C1,
# bidi and other format characters, line and paragraph separators, lone surrogates
_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_mutants_through_every_command(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # anything written to the current directory would show up here
    for seed in range(SEEDS):
        mutant = make_mutant(source, seed, tmp_path)
        for command in COMMANDS:
            code, err, elapsed = _run_quietly(_argv(command, mutant.path))
            where = f"seed {seed} ({mutant.name}): {' '.join(_argv(command, mutant.path))}"
            assert code in ALLOWED, f"{where}: exit {code}: {err}"
            assert "Traceback" not in err and "internal error" not in err, f"{where}: {err}"
            assert code in (ExitCode.OK, ExitCode.NOTHING_FOUND) or err.strip(), f"{where}: silent failure"
            assert elapsed < 20, f"{where}: took {elapsed:.1f} s"
        mutant.path.unlink()
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


@pytest.fixture(scope="module")
def scenario_tars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real dumps made here (zombie, threads, shared memory, memfds, SysV IPC, ghost files,
    odd names) as plain tars of their images, for mutants."""
    import tarfile

    folder = tmp_path_factory.mktemp("scenarios")
    tars = {}
    for name in ("proc", "files", "ns", "weird"):
        tars[name] = folder / f"{name}.tar"
        with tarfile.open(tars[name], "w", format=tarfile.GNU_FORMAT) as tar:
            for image in sorted((SCENARIOS / name).iterdir()):
                tar.add(image, arcname=image.name)
    return tars


@pytest.mark.parametrize("name", ["proc", "files", "ns", "weird"])
def test_mutants_of_real_dumps_made_here(
    name: str, scenario_tars: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for seed in range(max(4, SEEDS // 4)):
        mutant = make_mutant(scenario_tars[name], seed, tmp_path)
        for command in COMMANDS:
            code, err, elapsed = _run_quietly(_argv(command, mutant.path))
            where = f"{name} seed {seed} ({mutant.name}): {' '.join(_argv(command, mutant.path))}"
            assert code in ALLOWED, f"{where}: exit {code}: {err}"
            assert "Traceback" not in err and "internal error" not in err, f"{where}: {err}"
            assert elapsed < 20, f"{where}: took {elapsed:.1f} s"
        mutant.path.unlink()
    assert list(work.iterdir()) == []


def test_extract_of_mutants_stays_inside(tmp_path: Path) -> None:
    for seed in range(6, 6 + 7 * 4, 7):  # the hostile rootfs-diff mutation, several times
        mutant = make_mutant(SOURCES[0], seed, tmp_path)
        out = tmp_path / f"out-{seed}"
        code, err, _ = _run_quietly(["diff", str(mutant.path), "--extract", str(out)])
        assert code in ALLOWED and "Traceback" not in err
        for written in out.rglob("*") if out.exists() else []:
            assert written.resolve().is_relative_to(out.resolve())
            assert not written.is_symlink()
    assert not (tmp_path.parent / "escape").exists()


def test_errors_are_one_line_in_a_real_process(tmp_path: Path) -> None:
    mutant = make_mutant(SOURCES[0], 3, tmp_path)  # a member removed
    damaged = tmp_path / "cut.tar"
    damaged.write_bytes(SOURCES[0].read_bytes()[:700])
    for argv in (["ps", str(mutant.path)], ["show", str(damaged)], ["crit", "show", str(damaged), "core-1.img"]):
        done = subprocess.run([sys.executable, "-m", "checkforensics", *argv], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert done.returncode in ALLOWED, done.stderr
        assert "Traceback" not in done.stderr
        if done.returncode not in (0, 1):
            assert done.stderr.count("\n") >= 1 and done.stderr.startswith("checkforensics: ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=256))
def test_random_bytes_never_escape_the_error_tree(data: bytes) -> None:
    for candidate in (data, b"\x19\x43\x56\x54\x30\x30\x27\x50" + data, b"\x19\x43\x56\x54\x38\x31\x30\x56" + data):
        try:
            image = decode_image(candidate, "fuzz.img")
            image_to_dict(image, pretty=True)
            count_entries(candidate, "fuzz.img")
        except CheckforensicsError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["PSTREE", "CORE", "MM", "PAGEMAP", "TCP_STREAM", "IPCNS_MSG", "GHOST_FILE", "FILES", "NOPE"]),
    st.lists(json_values, max_size=3),
)
def test_random_json_never_escapes_the_error_tree(magic: str, entries: list) -> None:
    from checkforensics.images.codec import encode_image

    with contextlib.suppress(CheckforensicsError):
        encode_image(dict_to_image({"magic": magic, "entries": entries}))
