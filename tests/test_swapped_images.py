"""An image whose content is another image type (pstree.img holding a core image, files.img
holding the inventory, ...): refused with one line naming the file and the type its magic
says, never taken for what its name says; every command exits 0-4.

The copies are made here from real fixtures, one for every image kind each holds.
"""

from __future__ import annotations

import contextlib
import functools
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from mutants import read_members, write_members

from checkforensics.archive import Checkpoint
from checkforensics.cli import run
from checkforensics.errors import ExitCode
from checkforensics.images.framing import read_header
from checkforensics.images.magic import kind_by_file_name
from tests.commands import argv, samples

from conftest import FIXTURES, SCENARIOS

SOURCES = [FIXTURES / "counters-blog.tar", SCENARIOS / "files", SCENARIOS / "sockets"]
ALLOWED = {ExitCode.OK, ExitCode.NOTHING_FOUND, ExitCode.BAD_INPUT, ExitCode.UNSUPPORTED}


def _kinds(source: Path) -> list[tuple[Path, str, str, str]]:
    """For each image kind of ``source``, its first member, that kind, and the member whose
    content goes in its place (a core image; the inventory in a core image's place)."""
    with Checkpoint.open(source) as checkpoint:
        members = [m.name for m in checkpoint.members() if m.kind == "file" and kind_by_file_name(m.name)]
        seen: dict[str, str] = {}
        for name in members:
            seen.setdefault(kind_by_file_name(name) or "", name)
    core = next(name for name in members if kind_by_file_name(name) == "CORE")
    inventory = next(name for name in members if kind_by_file_name(name) == "INVENTORY")
    return [(source, member, kind, inventory if kind == "CORE" else core) for kind, member in sorted(seen.items())]


CASES = [case for source in SOURCES for case in _kinds(source)]


def _swapped(source: Path, member: str, donor: str, folder: Path) -> Path:
    if source.is_dir():
        copy = folder / source.name
        shutil.copytree(source, copy)
        (copy / member).write_bytes((source / donor).read_bytes())
        return copy
    members = read_members(source)
    content = dict((info.name, data) for info, data in members)[donor]
    members = [(info, content if info.name == member else data) for info, data in members]
    return write_members(members, folder / source.name)


def _run(words: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = run(words)
    return code, err.getvalue()


@pytest.mark.parametrize(("source", "member", "kind", "donor"), CASES, ids=lambda v: getattr(v, "name", v))
def test_every_command_refuses_the_swapped_image(
    source: Path, member: str, kind: str, donor: str, tmp_path: Path
) -> None:
    swapped = _swapped(source, member, donor, tmp_path)
    with Checkpoint.open(swapped) as checkpoint:
        held = read_header(checkpoint.read(member)[:8], member).name
    assert held != kind  # the copy holds another kind than its name says
    refusal = f"{member}: holds a {held} image (so its magic says), not the {kind} image its name says; refused"
    out = tmp_path / "out"
    out.mkdir()
    said = 0
    codes: list[int] = []
    for spec, sample in samples():
        words = argv(spec, sample, swapped, out)
        code, err = _run(words)
        line = " ".join(words)
        assert code in ALLOWED, f"{line}: exit {code}: {err}"
        assert "Traceback" not in err and "internal error" not in err, f"{line}: {err}"
        errors = [text for text in err.splitlines() if text.startswith("checkforensics: error:")]
        assert len(errors) == (0 if code in (ExitCode.OK, ExitCode.NOTHING_FOUND) else 1), f"{line}: {err}"
        said += refusal in err
        if errors and "its name says" in errors[0]:
            assert refusal in errors[0], f"{line}: {err}"
        codes.append(code)
    if not said:  # no command reads this kind (timens, seccomp, ...): nothing may have changed
        assert codes == _codes(source), f"{member}: {codes}"


@functools.cache
def _codes(source: Path) -> list[int]:
    """Every command's exit code on the real fixture itself."""
    with tempfile.TemporaryDirectory() as folder:
        return [_run(argv(spec, sample, source, Path(folder)))[0] for spec, sample in samples()]
