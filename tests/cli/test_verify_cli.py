"""``verify``, and that no command changes the evidence it reads."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode
from tests.commands import argv, samples

from conftest import FIXTURES


def test_record_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evidence = tmp_path / "evidence.tar"
    shutil.copy(FIXTURES / "busybox-counter-criu41.tar", evidence)
    record = tmp_path / "evidence.sha256.json"
    assert run(["verify", str(evidence), "--record", str(record)]) == 0
    assert json.loads(record.read_text())["sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert run(["verify", str(evidence), "--against", str(record)]) == 0
    assert "OK" in capsys.readouterr().out
    with evidence.open("r+b") as handle:  # one flipped bit deep inside
        handle.seek(100_000)
        byte = handle.read(1)
        handle.seek(100_000)
        handle.write(bytes([byte[0] ^ 1]))
    assert run(["verify", str(evidence), "--against", str(record)]) == ExitCode.NOTHING_FOUND
    assert "MISMATCH" in capsys.readouterr().out
    assert run(["verify", str(evidence), "--record", str(record)]) == ExitCode.BAD_INPUT  # never overwritten


def test_directory_digest_is_sha256sum_listing(capsys: pytest.CaptureFixture[str]) -> None:
    root = FIXTURES / "bare-bash-sleep"
    listing = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n"
        for p in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix())
        if p.is_file()
    )
    assert run(["verify", str(root), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == hashlib.sha256(listing.encode()).hexdigest()


def test_no_command_changes_the_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evidence = tmp_path / "evidence.tar"
    shutil.copy(FIXTURES / "counters-blog.tar", evidence)
    evidence.chmod(0o444)
    before = (hashlib.sha256(evidence.read_bytes()).hexdigest(), evidence.stat().st_mtime_ns)
    out = tmp_path / "out"
    out.mkdir()
    for spec, sample in samples():  # every command, as it declares it is run
        assert run(argv(spec, sample, evidence, out)) in (0, 1), sample
    capsys.readouterr()
    assert (hashlib.sha256(evidence.read_bytes()).hexdigest(), evidence.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.tar", "out"]


@pytest.mark.parametrize("expect", ["00", "3f1c...e9", "g" * 64, "a" * 63])
def test_a_malformed_expected_hash_is_a_usage_error_before_hashing(
    expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["verify", str(FIXTURES / "counters-blog.tar"), "--expect", expect]) == 2
    assert "is not a SHA-256 (64 hexadecimal digits)" in capsys.readouterr().err


def test_a_mismatch_is_said_on_stderr_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    evidence = FIXTURES / "busybox-counter-criu41.tar"
    digest = hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert run(["verify", str(evidence), "--expect", "0" * 64]) == ExitCode.NOTHING_FOUND
    out, err = capsys.readouterr()
    assert out == f"{evidence}: MISMATCH (sha256 {digest}, expected {'0' * 64})\n"
    assert err == f"checkforensics: mismatch: {evidence}: sha256 {digest}, expected {'0' * 64}\n"
    assert run(["verify", str(evidence), "--expect", digest.upper(), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert (document["match"], document["warnings"], err) == (True, [], "")
    assert list(document)[:8] == ["path", "kind", "size", "sha256", "recorded", "tool", "expected", "match"]


def test_a_mismatch_against_a_record_says_what_was_expected_for_which_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record of one archive checked against another: the expected hash, and the archive the
    record was made for, in every format and on stderr."""
    recorded, other = FIXTURES / "counters-blog.tar", FIXTURES / "counters-blog.tar.gz"
    record = tmp_path / "counters-blog.sha256.json"
    assert run(["verify", str(recorded), "--record", str(record)]) == 0
    capsys.readouterr()
    expected, digest = (hashlib.sha256(path.read_bytes()).hexdigest() for path in (recorded, other))
    said = f"sha256 {digest}, expected {expected}, recorded for {recorded.resolve()}"
    assert run(["verify", str(other), "--against", str(record)]) == ExitCode.NOTHING_FOUND
    assert capsys.readouterr() == (f"{other}: MISMATCH ({said})\n", f"checkforensics: mismatch: {other}: {said}\n")
    assert run(["verify", str(other), "--against", str(record), "--format", "json"]) == ExitCode.NOTHING_FOUND
    document = json.loads(capsys.readouterr().out)
    made_for = str(recorded.resolve())
    assert (document["expected"], document["expected_for"], document["match"]) == (expected, made_for, False)
    assert run(["verify", str(other), "--against", str(record), "--format", "table"]) == ExitCode.NOTHING_FOUND
    header, _, row = capsys.readouterr().out.splitlines()
    assert header.split()[-3:] == ["MATCH", "RECORDED", "FOR"] and row.split()[-2:] == ["MISMATCH", made_for]
    assert run(["verify", str(recorded), "--against", str(record), "--format", "json"]) == 0  # the right one: OK
    assert json.loads(capsys.readouterr().out)["expected_for"] == made_for


def test_a_bad_sha256_is_refused_before_anything_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["verify", "/does-not-exist.tar", "--expect", "abc"]) == ExitCode.USAGE
    assert "is not a SHA-256" in capsys.readouterr().err


def test_the_record_is_the_hash_without_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "r.json"
    assert run(["verify", str(FIXTURES / "counters-blog.tar.zst"), "--record", str(record), "--format", "jsonl"]) == 0
    line = json.loads(capsys.readouterr().out)
    written = json.loads(record.read_text())
    assert list(written) == ["path", "kind", "size", "sha256", "recorded", "tool"]
    assert written == {key: line[key] for key in written}
