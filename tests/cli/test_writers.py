"""Every command that writes goes through the one output guard: the same refusals, exit codes and
one-line errors, and nothing changed in the evidence or left half-written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from checkforensics import output
from checkforensics.cli import run
from checkforensics.errors import ExitCode

from conftest import FIXTURES, SCENARIOS

OUT = "{out}"  # where each command is told to write
# command line, whether -o names a file (else a directory), whether the command has --force for it
WRITERS = {
    "memdump": (["memdump", "{evidence}", "--pid", "1", "-o", OUT], "file", True),
    "memparse": (["memparse", "{evidence}", "--pid", "1", "-o", OUT], "file", True),
    "coredump": (["coredump", "{evidence}", "--pid", "1", "-o", OUT], "directory", True),
    "recover": (["recover", "{evidence}", "-o", OUT], "directory", True),
    "report": (["report", "{evidence}", "-o", OUT], "file", True),
    "diff --extract": (["diff", "{evidence}", "--extract", OUT], "directory", False),
    "verify --record": (["verify", "{evidence}", "--record", OUT], "file", True),
    # crit replaces an existing file, as CRIU's crit does: no --force
    "crit decode -o": (["crit", "decode", "-i", "{evidence}", "pstree.img", "-o", OUT], "file", False),
}
FILE_WRITERS = [name for name, (_, kind, force) in WRITERS.items() if kind == "file" and force]
BESIDE = {"memdump": ".index.json", "memparse": ".index.json"}  # a file written beside the output (its index)
DIRECTORY_WRITERS = [name for name, (_, kind, _) in WRITERS.items() if kind == "directory"]


@pytest.fixture(scope="session")
def extracted_counters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """counters-blog.tar extracted: a checkpoint directory with rootfs-diff.tar, config.dump and images."""
    root = tmp_path_factory.mktemp("extracted") / "counters-blog"
    with tarfile.open(FIXTURES / "counters-blog.tar") as tar:
        tar.extractall(root, filter="data")
    return root


@pytest.fixture(params=["counters-blog", "scenario-ns"])
def evidence(request: pytest.FixtureRequest, tmp_path: Path, extracted_counters: Path) -> Path:
    """A copy of a real checkpoint directory, for the commands to be pointed into."""
    source = extracted_counters if request.param == "counters-blog" else SCENARIOS / "ns"
    return Path(shutil.copytree(source, tmp_path / "evidence", symlinks=True))


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: the SHA-256 of each file, the target of each link, mode of all."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            what = "-> " + os.readlink(path)
        elif path.is_file():
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = "dir"
        state[str(path.relative_to(root))] = f"{oct(info.st_mode)} {what}"
    return state


def argv(name: str, evidence: Path, out: Path, *extra: str) -> list[str]:
    words, _, _ = WRITERS[name]
    return [w.replace("{evidence}", str(evidence)).replace(OUT, str(out)) for w in words] + list(extra)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("checkforensics: error: "), err
    return err.removeprefix("checkforensics: error: ").rstrip("\n")


@pytest.mark.parametrize("name", WRITERS)
def test_writing_inside_the_evidence_directory_is_refused(
    name: str, evidence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "via").symlink_to(evidence / "checkpoint" if (evidence / "checkpoint").is_dir() else evidence)
    before = snapshot(evidence)
    force = ["--force"] if WRITERS[name][2] else []
    for out in (evidence / "out", evidence / "pstree.img", evidence / "sub" / "deeper", tmp_path / "via" / "out",
                evidence):  # fmt: skip
        for extra in ([], force):
            assert run(argv(name, evidence, out, *extra)) == ExitCode.BAD_INPUT, (out, extra)
            message = one_error_line(capsys)
            assert message == f"{out}: refusing to write inside the evidence directory {evidence}"
            assert snapshot(evidence) == before


@pytest.mark.parametrize("name", WRITERS)
def test_writing_onto_the_input_archive_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "evidence.tar"
    shutil.copy(FIXTURES / "counters-blog.tar", archive)
    os.link(archive, tmp_path / "hardlink.tar")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    force = ["--force"] if WRITERS[name][2] else []
    for out in (archive, tmp_path / "hardlink.tar"):
        assert run(argv(name, archive, out, *force)) == ExitCode.BAD_INPUT
        assert one_error_line(capsys) == f"{out}: refusing to overwrite the checkpoint {archive}"
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.tar", "hardlink.tar"]


@pytest.mark.parametrize("name", FILE_WRITERS)
def test_an_existing_file_needs_force(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "existing"
    out.write_bytes(b"keep me")
    assert run(argv(name, FIXTURES / "counters-blog.tar", out)) == ExitCode.BAD_INPUT
    assert one_error_line(capsys) == f"{out}: exists (use --force to overwrite)"
    assert out.read_bytes() == b"keep me"
    assert run(argv(name, FIXTURES / "counters-blog.tar", out, "--force")) == 0
    capsys.readouterr()
    assert out.read_bytes() != b"keep me" and out.stat().st_size > 0
    beside = [f"existing{BESIDE[name]}"] if name in BESIDE else []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", *beside]  # no temporary file left beside it


@pytest.mark.parametrize("name", DIRECTORY_WRITERS)
def test_an_existing_output_in_a_directory_needs_force(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    kept = out / ("core.1" if name == "coredump" else "someone-elses")
    kept.write_bytes(b"keep me")
    assert run(argv(name, FIXTURES / "counters-blog.tar", out)) == ExitCode.BAD_INPUT
    expected = {
        "coredump": f"{kept}: exists (use --force to overwrite)",
        "recover": f"{out}: is not empty (use --force to add to it)",
        "diff --extract": f"{out}: is not empty (give a new or empty directory)",  # diff's --force is not this
    }[name]
    assert one_error_line(capsys) == expected
    assert [p.name for p in out.iterdir()] == [kept.name] and kept.read_bytes() == b"keep me"


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize("name", WRITERS)
def test_a_symlink_target_is_never_written_through(
    name: str, dangling: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim"
    directory = WRITERS[name][1] == "directory"
    if not dangling:
        victim.mkdir() if directory else victim.write_bytes(b"victim")
    link = tmp_path / "link"
    link.symlink_to(victim)
    force = ["--force"] if WRITERS[name][2] else []
    assert run(argv(name, FIXTURES / "counters-blog.tar", link, *force)) == ExitCode.BAD_INPUT
    assert one_error_line(capsys) == f"{link}: is a symbolic link; refusing to write through it"
    assert os.readlink(link) == str(victim)
    if dangling:
        assert not victim.exists() and not victim.is_symlink()
    elif directory:
        assert list(victim.iterdir()) == []
    else:
        assert victim.read_bytes() == b"victim"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"] + ([] if dangling else ["victim"])


@pytest.mark.parametrize(
    ("command", "planted"),
    [
        (["coredump", str(FIXTURES / "counters-blog.tar"), "--pid", "7"], "core.7"),
        (["recover", str(FIXTURES / "inflight.tar.zst")], "pipe-143260.bin"),
        (["recover", str(FIXTURES / "inflight.tar.zst")], "manifest.json"),
    ],
)
def test_a_link_planted_in_the_output_directory_is_not_followed(
    command: list[str], planted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    out = tmp_path / "out"
    out.mkdir()
    (out / planted).symlink_to(victim)
    (out / "dangling").symlink_to(tmp_path / "created-through-a-link")
    assert run([*command, "-o", str(out), "--force"]) == ExitCode.BAD_INPUT
    assert one_error_line(capsys) == f"{out / planted}: is a symbolic link; refusing to write through it"
    assert victim.read_bytes() == b"victim"
    assert os.readlink(out / planted) == str(victim)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "victim"]
    assert not any(p.name.endswith(".partial") for p in out.iterdir())


def test_recover_and_coredump_write_through_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same files as before, the data byte for byte, nothing else in the directory."""
    out = tmp_path / "recovered"
    assert run(["recover", str(FIXTURES / "inflight.tar.zst"), "-o", str(out), "--format", "json"]) == 0
    capsys.readouterr()
    manifest = json.loads((out / "manifest.json").read_text())["items"]
    files = {item["file"]: item["sha256"] for item in manifest}
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, "manifest.json"])
    assert all(hashlib.sha256((out / name).read_bytes()).hexdigest() == sha for name, sha in files.items())
    assert run(["recover", str(FIXTURES / "inflight.tar.zst"), "-o", str(out), "--force"]) == 0  # replaced
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, "manifest.json"])
    cores = tmp_path / "new" / "cores"
    assert run(["coredump", str(FIXTURES / "counters-blog.tar"), "-o", str(cores), "--pid", "7"]) == 0
    assert [p.name for p in cores.iterdir()] == ["core.7"]
    assert (cores / "core.7").read_bytes()[:4] == b"\x7fELF"


def _enospc(*args: object, **kwargs: object) -> int:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("name", WRITERS)
def test_a_full_disk_leaves_nothing_behind(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(output._OutputRaw, "write", _enospc)  # every write(2) of every output fails
    out = tmp_path / "out"
    assert run(argv(name, FIXTURES / "counters-blog.tar", out)) == ExitCode.BAD_INPUT
    message = one_error_line(capsys)
    assert message.endswith(": cannot write (No space left on device)") and message.startswith(str(out))
    assert not any(p.is_file() for p in tmp_path.rglob("*")), list(tmp_path.rglob("*"))
    if name != "diff --extract":  # the extracted tree's directories may stay; never a file
        assert list(tmp_path.iterdir()) == []


FAILURES = [OSError(errno.EIO, "Input/output error"), KeyboardInterrupt(), RuntimeError("bug")]


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize(
    ("name", "patched"),
    [
        ("memdump", "checkforensics.analysis.memsearch.dumps.dump_memory"),
        ("coredump", "checkforensics.analysis.coredump.write_core"),
    ],
)
def test_a_failure_half_way_leaves_no_file(
    name: str, patched: str, failure: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_fail(*args: object, **kwargs: object) -> object:
        for value in args:
            if hasattr(value, "write") and hasattr(value, "seek"):
                value.write(b"half of it" * 1000)
        raise failure

    monkeypatch.setattr(patched, half_then_fail)
    out = tmp_path / "out"
    code = run(argv(name, FIXTURES / "counters-blog.tar", out))
    assert code == {OSError: ExitCode.BAD_INPUT, KeyboardInterrupt: ExitCode.INTERRUPTED}.get(
        type(failure), ExitCode.INTERNAL
    )
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file, no empty directory


def test_a_real_write_error_in_a_real_process(tmp_path: Path) -> None:
    """A file size limit makes write(2) fail for real (EFBIG): one line, exit 3, no file left."""

    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    env = {**os.environ, "PYTHONPATH": str(Path(output.__file__).resolve().parent.parent)}
    out = tmp_path / "pid7.mem"
    done = subprocess.run(
        [sys.executable, "-m", "checkforensics", "memdump", str(FIXTURES / "counters-blog.tar"), "--pid", "7",
         "-o", str(out)],
        capture_output=True, text=True, env=env, preexec_fn=limit, timeout=120,
    )  # fmt: skip
    assert done.returncode == ExitCode.BAD_INPUT
    assert done.stderr == f"checkforensics: error: {out}: cannot write (File too large)\n"
    assert list(tmp_path.iterdir()) == []


def test_verify_record_inside_the_evidence_then_beside_it(
    evidence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recording into the checkpoint directory would change the digest it records."""
    before = snapshot(evidence)
    assert run(["verify", str(evidence), "--record", str(evidence / "rec.json")]) == ExitCode.BAD_INPUT
    assert "refusing to write inside the evidence directory" in one_error_line(capsys)
    record = tmp_path / "rec.json"
    assert run(["verify", str(evidence), "--record", str(record)]) == 0
    assert run(["verify", str(evidence), "--against", str(record)]) == 0
    assert "OK" in capsys.readouterr().out
    assert run(["verify", str(evidence), "--record", str(record)]) == ExitCode.BAD_INPUT
    assert one_error_line(capsys) == f"{record}: exists (use --force to overwrite)"
    assert run(["verify", str(evidence), "--record", str(record), "--force"]) == 0
    assert snapshot(evidence) == before



def test_crit_replaces_an_existing_file_as_crit_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pstree.json"
    out.write_bytes(b"old")
    assert run(["crit", "decode", "-i", str(SCENARIOS / "proc" / "pstree.img"), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["magic"] == "PSTREE"
    assert [p.name for p in tmp_path.iterdir()] == ["pstree.json"]
    pretty = tmp_path / "pstree.img"
    assert run(["crit", "encode", "-i", str(out), "-o", str(pretty)]) == 0
    assert pretty.read_bytes() == (SCENARIOS / "proc" / "pstree.img").read_bytes()
    capsys.readouterr()
