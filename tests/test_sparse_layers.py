"""A rootfs-diff.tar holding sparse members whose apparent size is huge (a terabyte in a few KB):
every command ends quickly with a documented exit code, the holes are never expanded, and the
files left unread are named. A small sparse file is still read, holes and all."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from pathlib import Path

import pytest
from sparse import TERABYTE, gnu_sparse, pax_sparse, sparse_checkpoint, with_members

from checkforensics.cli import run
from checkforensics.errors import ExitCode
from tests.commands import argv, samples

from conftest import FIXTURES

SOURCE = FIXTURES / "counters-blog.tar"
ALLOWED = {ExitCode.OK, ExitCode.NOTHING_FOUND, ExitCode.USAGE, ExitCode.BAD_INPUT, ExitCode.UNSUPPORTED}
READERS = ("diff", "triage", "report", "timeline", "iocs")  # the commands that walk the layers' files


def _run(words: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    started = time.process_time()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = run(words)
    return code, out.getvalue(), err.getvalue(), time.process_time() - started


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sparse_checkpoint(SOURCE, tmp_path_factory.mktemp("sparse") / "sparse.tar")


def test_every_command_ends_quickly_and_names_what_was_not_read(huge: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for spec, sample in samples():
        words = argv(spec, sample, huge, out)
        code, _, err, cpu = _run(words)
        said = " ".join(words)
        assert code in ALLOWED and "Traceback" not in err, f"{said}: exit {code}: {err}"
        assert cpu < 10, f"{said}: {cpu:.1f} s of CPU"
        if spec.name in READERS:
            for n in range(3):
                for kind in ("gnu", "pax"):
                    assert (
                        f"var/log/{kind}-{n}.log: sparse file of {TERABYTE} bytes of which the archive stores 7246: "
                        "its holes are not expanded"
                    ) in err, f"{said}: {err}"


def test_diff_lists_the_sparse_files_with_their_size_and_no_hash(huge: Path) -> None:
    code, out, _, _ = _run(["diff", str(huge), "--format", "json"])
    assert code == ExitCode.OK
    changed = {item["path"]: item for item in json.loads(out)["changed"]}
    for kind in ("gnu", "pax"):
        item = changed[f"/var/log/{kind}-0.log"]
        assert (item["size"], item["sha256"]) == (TERABYTE, None)
    assert changed["/home/counter/test-file"]["sha256"] is not None  # the others are hashed as before


def test_extract_writes_no_sparse_file_it_did_not_read(huge: Path, tmp_path: Path) -> None:
    target = tmp_path / "x"
    code, _, err, _ = _run(["diff", str(huge), "--extract", str(target)])
    assert code == ExitCode.OK and "its holes are not expanded" in err
    assert not (target / "var" / "log" / "gnu-0.log").exists()
    assert (target / "home" / "counter" / "test-file").exists()


def test_a_small_sparse_file_is_read_with_its_holes(tmp_path: Path) -> None:
    """256 KiB apparent in 3 KB stored: within the bound, read and hashed as the file it is."""
    from mutants import read_members, write_members

    apparent = 256 << 10
    chunks = [(0, b"a" * 1024), (100_000, b"b" * 1024), (apparent - 1024, b"c" * 1024)]
    whole = bytearray(apparent)
    for offset, data in chunks:
        whole[offset : offset + len(data)] = data
    members = read_members(SOURCE)
    extra = gnu_sparse("var/small-gnu", apparent, chunks) + pax_sparse("var/small-pax", apparent, chunks)
    members = [(info, with_members(data, extra) if info.name == "rootfs-diff.tar" else data) for info, data in members]
    path = write_members(members, tmp_path / "small.tar")
    code, out, err, _ = _run(["diff", str(path), "--format", "json"])
    assert code == ExitCode.OK and "sparse" not in err
    changed = {item["path"]: item for item in json.loads(out)["changed"]}
    for name in ("/var/small-gnu", "/var/small-pax"):
        assert (changed[name]["size"], changed[name]["sha256"]) == (apparent, hashlib.sha256(whole).hexdigest())
