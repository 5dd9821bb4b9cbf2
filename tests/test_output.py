"""``checkforensics.output``: the one guard every writing command goes through."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from checkforensics import output
from checkforensics.errors import ExitCode, OutputError
from checkforensics.output import OutputGuard


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A small evidence directory with a file in a subdirectory."""
    root = tmp_path / "evidence"
    (root / "checkpoint").mkdir(parents=True)
    (root / "checkpoint" / "pages-1.img").write_bytes(b"\x01" * 100)
    (root / "config.dump").write_text("{}")
    return root


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "checkpoint.tar"
    path.write_bytes(b"evidence bytes")
    return path


def _listing(root: Path) -> dict[str, bytes | str]:
    return {
        str(p.relative_to(root)): (os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "dir")
        for p in sorted(root.rglob("*"))
    }


def test_output_error_is_bad_input() -> None:
    assert OutputError.exit_code == ExitCode.BAD_INPUT == 3
    assert str(OutputError("cannot write (x)", where="out/a")) == "out/a: cannot write (x)"


def test_inside_the_evidence_directory_is_refused(evidence: Path, tmp_path: Path) -> None:
    guard = OutputGuard(evidence)
    for path in (
        evidence / "x.bin",
        evidence / "checkpoint" / "core.7",
        evidence,
        evidence / "checkpoint" / ".." / "y",
        evidence / "new" / "deeper" / "z",
    ):
        with pytest.raises(OutputError) as caught:
            guard.check(path)
        assert str(caught.value) == f"{path}: refusing to write inside the evidence directory {evidence}"
    assert guard.check(tmp_path / "out.bin") == tmp_path.resolve() / "out.bin"
    assert guard.check(tmp_path) == tmp_path.resolve()  # beside or above the evidence is fine


def test_a_symlinked_parent_into_the_evidence_counts_as_inside(evidence: Path, tmp_path: Path) -> None:
    (tmp_path / "via").symlink_to(evidence / "checkpoint")
    guard = OutputGuard(evidence)
    with pytest.raises(OutputError, match="refusing to write inside the evidence directory"):
        guard.new_file(tmp_path / "via" / "x.bin")
    with pytest.raises(OutputError, match="refusing to write inside the evidence directory"):
        guard.output_directory(tmp_path / "via" / "out")
    assert not (evidence / "checkpoint" / "x.bin").exists() and not (evidence / "checkpoint" / "out").exists()


def test_evidence_given_through_a_symlink_is_still_protected(evidence: Path, tmp_path: Path) -> None:
    (tmp_path / "alias").symlink_to(evidence)
    guard = OutputGuard(tmp_path / "alias")
    with pytest.raises(OutputError, match=f"inside the evidence directory {tmp_path / 'alias'}$"):
        guard.new_file(evidence / "x.bin")


def test_the_input_file_itself_and_its_hard_links_are_refused(archive: Path, tmp_path: Path) -> None:
    os.link(archive, tmp_path / "hardlink.tar")
    guard = OutputGuard(archive)
    for path in (archive, tmp_path / "hardlink.tar", tmp_path / "." / "checkpoint.tar"):
        with pytest.raises(OutputError) as caught:
            guard.new_file(path, force=True)
        assert str(caught.value) == f"{path}: refusing to overwrite the checkpoint {archive}"
    assert archive.read_bytes() == b"evidence bytes"
    with guard.new_file(tmp_path / "beside.json") as handle:  # the archive's directory is not evidence
        handle.write(b"{}")
    assert (tmp_path / "beside.json").read_bytes() == b"{}"


def test_two_inputs_are_both_protected(evidence: Path, archive: Path, tmp_path: Path) -> None:
    guard = OutputGuard(archive, evidence)
    with pytest.raises(OutputError, match="overwrite the checkpoint"):
        guard.new_file(archive, force=True)
    with pytest.raises(OutputError, match="inside the evidence directory"):
        guard.output_directory(evidence / "out")
    OutputGuard(tmp_path / "missing.tar").check(tmp_path / "x")  # nothing there: nothing to protect


def test_a_new_file_appears_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with OutputGuard().new_file(target) as handle:
        handle.write(b"a" * 10)
        handle.seek(100)
        handle.write(b"z")
        assert not target.exists()
        (temporary,) = [p for p in tmp_path.iterdir()]
        assert temporary.name.startswith(".checkforensics-") and temporary.name.endswith(".partial")
    assert target.read_bytes() == b"a" * 10 + bytes(90) + b"z"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with OutputGuard().new_file(tmp_path / "synced", fsync=True) as handle:
        handle.write(b"x")
    assert (tmp_path / "synced").read_bytes() == b"x"


def test_an_existing_file_is_replaced_only_with_force(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(OutputError) as caught:
        OutputGuard().new_file(target)
    assert str(caught.value) == f"{target}: exists (use --force to overwrite)"
    assert target.read_bytes() == b"old"
    with OutputGuard().new_file(target, force=True) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"


def test_a_target_created_while_writing_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(OutputError, match="exists"), OutputGuard().new_file(target) as handle:
        handle.write(b"mine")
        target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_without_hard_links_the_file_is_still_put_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(output.os, "link", no_links)
    with OutputGuard().new_file(tmp_path / "out.bin") as handle:
        handle.write(b"data")
    assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("out.bin", b"data")]


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_target_is_never_written_through(tmp_path: Path, dangling: bool) -> None:
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_bytes(b"victim")
    link = tmp_path / "link"
    link.symlink_to(victim)
    for force in (False, True):
        with pytest.raises(OutputError) as caught:
            OutputGuard().new_file(link, force=force)
        assert str(caught.value) == f"{link}: is a symbolic link; refusing to write through it"
    assert victim.exists() is not dangling
    assert dangling or victim.read_bytes() == b"victim"
    assert os.readlink(link) == str(victim)


def test_a_symlink_planted_after_the_check_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    planned = OutputGuard().new_file(tmp_path / "out.bin", force=True)
    (tmp_path / "out.bin").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"), planned as handle:
        handle.write(b"x")
    assert victim.read_bytes() == b"victim"


@pytest.mark.parametrize("failure", [RuntimeError("bug"), KeyboardInterrupt(), OSError(errno.EIO, "I/O error")])
def test_a_failure_while_writing_leaves_nothing(tmp_path: Path, failure: BaseException) -> None:
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"before")
    for target, force in ((tmp_path / "new.bin", False), (kept, True)):
        with pytest.raises(type(failure)), OutputGuard().new_file(target, force=force) as handle:
            handle.write(b"x" * 100_000)
            raise failure
    assert _listing(tmp_path) == {"kept.bin": b"before"}


def test_a_full_disk_is_an_output_error_naming_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: object, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = tmp_path / "out.bin"
    with pytest.raises(OutputError) as caught, OutputGuard().new_file(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # from whatever the body called
    assert str(caught.value) == f"{target}: cannot write (No space left on device)"
    monkeypatch.setattr(output._OutputRaw, "write", full)
    with pytest.raises(OutputError) as caught, OutputGuard().new_file(target) as handle:
        handle.write(b"x")  # buffered: fails when flushed at the end
    assert str(caught.value) == f"{target}: cannot write (No space left on device)"
    assert list(tmp_path.iterdir()) == []


def test_a_real_write_error_from_the_kernel(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes write(2) fail with EFBIG for real, in a child process."""
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from checkforensics.errors import OutputError
        from checkforensics.output import OutputGuard
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            with OutputGuard().new_file({str(tmp_path / "big.bin")!r}) as handle:
                for _ in range(64):
                    handle.write(b"x" * 65536)
        except OutputError as error:
            print(error)
            sys.exit(3)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(output.__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stdout == f"{tmp_path / 'big.bin'}: cannot write (File too large)\n"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_parent_directory_is_not_created_for_a_file(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught, OutputGuard().new_file(tmp_path / "no" / "x.bin"):
        pass
    assert str(caught.value) == f"{tmp_path / 'no' / 'x.bin'}: cannot write (No such file or directory)"
    assert list(tmp_path.iterdir()) == []


def test_a_directory_target_or_a_fifo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OutputError, match=r"dir: is a directory$"):
        OutputGuard().new_file(tmp_path / "dir", force=True)
    with pytest.raises(OutputError, match=r"fifo: exists and is not a regular file$"):
        OutputGuard().new_file(tmp_path / "fifo", force=True)


def test_an_output_directory_is_created_with_its_parents(tmp_path: Path) -> None:
    with OutputGuard().output_directory(tmp_path / "a" / "b") as directory:
        with directory.new_file("one.bin") as handle:
            handle.write(b"1")
        with directory.subdirectories(["x", "y"]) as deeper, deeper.new_file("two.bin") as handle:
            handle.write(b"2")
    assert _listing(tmp_path) == {"a": "dir", "a/b": "dir", "a/b/one.bin": b"1", "a/b/x": "dir", "a/b/x/y": "dir",
                                  "a/b/x/y/two.bin": b"2"}  # fmt: skip


def test_a_directory_created_for_nothing_is_removed_on_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), OutputGuard().output_directory(tmp_path / "out"):
        raise RuntimeError("the checkpoint could not be read")
    assert not (tmp_path / "out").exists()
    (tmp_path / "mine").mkdir()
    with pytest.raises(RuntimeError), OutputGuard().output_directory(tmp_path / "mine"):
        raise RuntimeError("the checkpoint could not be read")
    assert (tmp_path / "mine").is_dir()  # not ours to remove


def test_a_non_empty_directory_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_bytes(b"old")
    with pytest.raises(OutputError) as caught:
        OutputGuard().output_directory(out)
    assert str(caught.value) == f"{out}: is not empty (use --force to add to it)"
    with pytest.raises(OutputError, match=r"is not empty \(give a new or empty directory\)$"):
        OutputGuard().output_directory(out, force_hint=False)
    with OutputGuard().output_directory(out, must_be_empty=False) as directory:
        with pytest.raises(OutputError, match="old: exists"):
            directory.new_file("old")
        with directory.new_file("new") as handle:
            handle.write(b"new")
    with OutputGuard().output_directory(out, force=True) as directory, directory.new_file("old") as handle:
        handle.write(b"replaced")
    assert _listing(out) == {"new": b"new", "old": b"replaced"}
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OutputError, match=r"file: exists and is not a directory$"):
        OutputGuard().output_directory(tmp_path / "file", force=True)


@pytest.mark.parametrize("dangling", [False, True])
def test_an_output_directory_that_is_a_symlink_is_refused(tmp_path: Path, dangling: bool) -> None:
    elsewhere = tmp_path / "elsewhere"
    if not dangling:
        elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    with pytest.raises(OutputError) as caught:
        OutputGuard().output_directory(tmp_path / "out", force=True)
    assert str(caught.value) == f"{tmp_path / 'out'}: is a symbolic link; refusing to write through it"
    assert elsewhere.exists() is not dangling
    assert dangling or list(elsewhere.iterdir()) == []


def test_links_planted_inside_an_output_directory_are_never_followed(tmp_path: Path) -> None:
    victim_dir, victim = tmp_path / "victim-dir", tmp_path / "victim"
    victim_dir.mkdir()
    victim.write_bytes(b"victim")
    out = tmp_path / "out"
    out.mkdir()
    (out / "core.7").symlink_to(victim)
    (out / "core.8").symlink_to(tmp_path / "dangling")
    (out / "sub").symlink_to(victim_dir)
    with OutputGuard().output_directory(out, force=True) as directory:
        for name in ("core.7", "core.8"):
            with pytest.raises(OutputError, match=f"{name}: is a symbolic link; refusing to write through it$"):
                directory.new_file(name)
        with pytest.raises(OutputError, match=r"sub: is a symbolic link; refusing to write through it$"):
            directory.subdirectory("sub")
        with pytest.raises(OutputError, match="symbolic link"):
            directory.subdirectories(["sub", "etc"])
        planned = directory.new_file("core.9")
        (out / "core.9").symlink_to(victim)  # planted between the check and the write
        with pytest.raises(OutputError, match="symbolic link"), planned as handle:
            handle.write(b"core")
    assert victim.read_bytes() == b"victim" and list(victim_dir.iterdir()) == []
    assert not (tmp_path / "dangling").exists()
    assert sorted(p.name for p in out.iterdir()) == ["core.7", "core.8", "core.9", "sub"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/etc", "nul\0byte"])
def test_names_inside_a_directory_are_plain_names(tmp_path: Path, name: str) -> None:
    with OutputGuard().output_directory(tmp_path / "out") as directory:
        with pytest.raises(OutputError, match="not a plain file name"):
            directory.new_file(name)
        with pytest.raises(OutputError, match="not a plain file name"):
            directory.subdirectory(name)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_forced_directory_above_the_evidence_never_reaches_into_it(evidence: Path, tmp_path: Path) -> None:
    guard = OutputGuard(evidence)
    before = _listing(evidence)
    with guard.output_directory(tmp_path, force=True) as directory:
        with pytest.raises(OutputError, match="inside the evidence directory"):
            directory.subdirectory("evidence")
        with pytest.raises(OutputError, match="inside the evidence directory"):
            directory.subdirectories(["evidence", "checkpoint"])
    assert _listing(evidence) == before


def test_a_failure_inside_a_directory_leaves_the_finished_files_only(tmp_path: Path) -> None:
    with OutputGuard().output_directory(tmp_path / "out") as directory:
        with directory.new_file("done.bin") as handle:
            handle.write(b"done")
        with pytest.raises(OSError), directory.new_file("half.bin") as handle:
            handle.write(b"half")
            raise OSError(errno.EIO, "I/O error")
    assert _listing(tmp_path / "out") == {"done.bin": b"done"}


def test_a_bind_mount_of_the_evidence_counts_as_inside(evidence: Path, tmp_path: Path) -> None:
    """The same directory under another name that no symlink explains: recognised by its inode."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    script = textwrap.dedent(
        f"""
        import subprocess, sys
        from checkforensics.errors import OutputError
        from checkforensics.output import OutputGuard
        subprocess.run(["mount", "--bind", {str(evidence)!r}, {str(mirror)!r}], check=True)
        refused = []
        for attempt in (
            lambda: OutputGuard({str(evidence)!r}).new_file({str(mirror / "x.bin")!r}),
            lambda: OutputGuard({str(evidence)!r}).output_directory({str(mirror / "checkpoint")!r}, force=True),
        ):
            try:
                attempt()
            except OutputError as error:
                refused.append(str(error))
        print("\\n".join(refused))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(output.__file__).resolve().parent.parent)}
    try:
        done = subprocess.run(["unshare", "-rm", sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, timeout=60)  # fmt: skip
    except FileNotFoundError:
        pytest.skip("no unshare here")
    if done.returncode != 0 and ("unshare" in done.stderr or "mount" in done.stderr):
        pytest.skip(f"no user namespaces here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{mirror / 'x.bin'}: refusing to write inside the evidence directory {evidence}",
        f"{mirror / 'checkpoint'}: refusing to write inside the evidence directory {evidence}",
    ]
    assert not (evidence / "x.bin").exists()


def test_a_temporary_name_already_taken_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = iter(["taken", "free"])
    monkeypatch.setattr(output.secrets, "token_hex", lambda size: next(names))
    planted = tmp_path / ".checkforensics-taken.partial"
    planted.write_bytes(b"planted")
    with OutputGuard().new_file(tmp_path / "out.bin") as handle:
        handle.write(b"out")
    assert _listing(tmp_path) == {".checkforensics-taken.partial": b"planted", "out.bin": b"out"}


def test_a_symlink_planted_while_writing_is_not_replaced_even_with_force(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    target = tmp_path / "out.bin"
    with pytest.raises(OutputError, match="symbolic link"), OutputGuard().new_file(target, force=True) as handle:
        handle.write(b"x")
        target.symlink_to(victim)
    assert os.readlink(target) == str(victim) and victim.read_bytes() == b"victim"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "victim"]
