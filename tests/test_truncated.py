"""Truncated archives, and archives whose listing --max-expansion cut: every command names the
cause, and verify does not let evidence whose end is missing pass (exit 3).

The truncated copies are made here from real fixtures, cut at several places: inside a member's
data, at a member's header, inside a header, in the end-of-archive blocks, and for compressed
archives inside the stream and in its last bytes (a gzip trailer, a zstd frame's checksum).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode
from tests.commands import argv, samples

from conftest import FIXTURES

PLAIN = FIXTURES / "counters-blog.tar"


def _offsets(name: str) -> tuple[int, int]:
    """Where ``name``'s header and data start in the plain fixture (read with tarfile)."""
    with tarfile.open(PLAIN) as tar:
        member = tar.getmember(name)
        return member.offset, member.offset_data


HEADER, DATA = _offsets("checkpoint/pstree.img")
PAGES = _offsets("checkpoint/pages-2.img")[1]
CUTS = [
    (PLAIN, PAGES + 100_000),  # inside a pages image: pstree.img and what follows are not there
    (PLAIN, 20_000),  # inside config.dump, before any image: only metadata, itself cut
    (PLAIN, HEADER),  # at a member's header: the listing ends without the end-of-archive blocks
    (PLAIN, HEADER + 100),  # inside a header
    (PLAIN, PLAIN.stat().st_size - 700),  # inside the end-of-archive blocks: every member is whole
    (FIXTURES / "counters-blog.tar.gz", 1_000_000),
    (FIXTURES / "counters-blog.tar.gz", -10),  # the gzip trailer
    (FIXTURES / "inflight.tar.zst", 400_000),
    (FIXTURES / "inflight.tar.zst", -3),  # the frame's checksum
]
ALLOWED = {ExitCode.OK, ExitCode.NOTHING_FOUND, ExitCode.BAD_INPUT}


def _cut(source: Path, at: int, folder: Path) -> Path:
    data = source.read_bytes()
    kept = data[:at]
    assert 0 < len(kept) < len(data)
    name = source.name.replace("counters-blog", f"cut-{len(kept)}").replace("inflight", f"cut-{len(kept)}")
    path = folder / name
    path.write_bytes(kept)
    return path


def _run(words: list[str]) -> tuple[int, str, float]:
    err = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = run(words)
    return code, err.getvalue(), time.monotonic() - started


@pytest.mark.parametrize(("source", "at"), CUTS, ids=lambda v: v.name if isinstance(v, Path) else str(v))
def test_every_command_names_the_truncation(source: Path, at: int, tmp_path: Path) -> None:
    cut = _cut(source, at, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for spec, sample in samples():
        words = argv(spec, sample, cut, out)
        code, err, elapsed = _run(words)
        said = " ".join(words)
        assert code in ALLOWED, f"{said}: exit {code}: {err}"
        assert "truncated" in err or "ends or breaks" in err or "ends inside" in err, f"{said}: {err}"
        assert "Traceback" not in err and elapsed < 20, said
        if spec.name == "verify":
            assert code == ExitCode.BAD_INPUT, f"{said}: {err}"
            assert len(err.strip().splitlines()) == 1 and "does not verify" in err, err


def test_the_message_names_what_is_missing_and_why(tmp_path: Path) -> None:
    cut = _cut(PLAIN, PAGES + 100_000, tmp_path)
    code, err, _ = _run(["ps", str(cut)])
    assert code == ExitCode.BAD_INPUT
    assert err.strip() == (
        f"checkforensics: error: {cut}: no image 'pstree.img' in this checkpoint, whose listing stopped short: "
        f"checkpoint/pages-2.img: truncated: the archive ends after 100000 of its {9093120} bytes"
    )
    code, err, _ = _run(["verify", str(cut), "--record", str(tmp_path / "record.json")])
    assert code == ExitCode.BAD_INPUT and not (tmp_path / "record.json").exists()
    assert f"the sha256 of the {PAGES + 100_000} bytes there is" in err


def test_whole_archives_still_verify(tmp_path: Path) -> None:
    for source in (PLAIN, FIXTURES / "counters-blog.tar.gz", FIXTURES / "inflight.tar.zst"):
        code, err, _ = _run(["verify", str(source)])
        assert (code, err) == (ExitCode.OK, ""), source


@pytest.mark.parametrize("source", [FIXTURES / "counters-blog.tar.gz", FIXTURES / "inflight.tar.zst"], ids=str)
def test_every_command_names_the_expansion_limit(source: Path, tmp_path: Path) -> None:
    """A listing --max-expansion stopped: every command says so; verify hashes the whole file
    (the archive is whole) and exits 0 with the warning."""
    out = tmp_path / "out"
    out.mkdir()
    for spec, sample in samples():
        words = ["--max-expansion", "1M", *argv(spec, sample, source, out)]
        code, err, _ = _run(words)
        said = " ".join(words)
        assert code in ALLOWED, f"{said}: exit {code}: {err}"
        assert "--max-expansion" in err, f"{said}: {err}"
        if spec.name == "verify" and "OUT" not in sample:
            assert code == ExitCode.OK, err
