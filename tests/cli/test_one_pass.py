"""Every command decompresses a compressed archive once, and answers as on the same archive
uncompressed.

counters-blog.tar is compressed here (gzip, zstd), so the three forms hold the very same bytes
(the fixtures' .tar.gz and .tar.zst are other dumps of the same container); its pages images are
made to count as big ones (none is kept in memory by the listing pass), as on a real checkpoint
of some size. A pass is one decompression of the archive from its start
(``CompressedTar.stream``); the layers inside (the rootfs and tmpfs archives) are not counted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from checkforensics.archive import compressed, spool
from checkforensics.cli import run
from tests.commands import first_pid, samples

from conftest import FIXTURES

PLAIN = FIXTURES / "counters-blog.tar"
LATER = FIXTURES / "counters-blog-later.tar.zst"

# Every command as it declares itself (tests/commands.py; those taking other arguments than
# checkpoints aside: list, crit, completion), each writing under OUT where its sample says so;
# then what the declarations cannot say: other paths through memgrep, and arguments of this
# checkpoint's own (its pid 7, a later checkpoint of it).
DECLARED = [
    [spec.name, *(str(first_pid(PLAIN)) if word == "PID" else word for word in sample)]
    for spec, sample in samples()
    if spec.takes != "other"
]
EXTRA = [
    ["memgrep", "--regex", r"\bRANDOM_1432_KEY"],  # reads past its match: no screen, the spool
    ["memgrep", "RANDOM_1432_KEY", "-e", "counter"],  # the screen in the listing pass
    ["ps", "--env"],
    ["memparse", "--pid", "7"],
    ["diff", "LATER", "--secrets"],
]
COMMANDS = [*DECLARED, *EXTRA]


@pytest.fixture(scope="module")
def forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import zstandard

    folder = tmp_path_factory.mktemp("forms")
    data = PLAIN.read_bytes()
    paths = {"tar": folder / "cb.tar", "tar.gz": folder / "cb.tar.gz", "tar.zst": folder / "cb.tar.zst"}
    shutil.copy(PLAIN, paths["tar"])
    paths["tar.gz"].write_bytes(gzip.compress(data, compresslevel=1, mtime=0))
    paths["tar.zst"].write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    return paths


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[int, str]]:
    """Each pass over a compressed archive: which one (its id) and its kind; spools go to a directory of the
    test's, whatever room the machine's disk has; pages images count as big."""
    counted: list[tuple[int, str]] = []
    stream = compressed.CompressedTar.stream

    def counting(archive: compressed.CompressedTar, *args: object, **kwargs: object) -> object:
        counted.append((id(archive), archive.kind))
        return stream(archive, *args, **kwargs)

    monkeypatch.setattr(compressed.CompressedTar, "stream", counting)
    monkeypatch.setattr(compressed, "SMALL_PAGES_LIMIT", 0)
    monkeypatch.setattr(spool, "SPOOL_MARGIN", 0)
    monkeypatch.setattr(spool, "SPOOL_MARGIN_SHARE", 0.0)
    (tmp_path / "spool").mkdir()
    monkeypatch.setenv("CHECKFORENSICS_TMPDIR", str(tmp_path / "spool"))
    return counted


def _outcome(command: list[str], path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, ...]:
    """The command's JSON output and every file it wrote, with the archive's name made neutral."""
    out.mkdir()
    argv = [part.replace("OUT", str(out / "written")).replace("LATER", str(LATER)) for part in command]
    code = run([argv[0], str(path), *argv[1:], "--format", "json"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err  # 1: malfind found something
    written = []
    for name in sorted(str(p.relative_to(out)) for p in out.rglob("*")):
        if (out / name).is_file():
            data = (out / name).read_bytes()
            written.append(f"{name}: {_text_or_hex(data)}")
    text = "\n".join([f"exit {code}", captured.out, captured.err, *written]).replace(str(out), "OUT")
    if argv[0] in ("report", "verify"):  # the page, the hash record: the archive's own size, their time
        text = re.sub(r'"size": [0-9]+', '"size": SIZE', text)
        text = re.sub(r'"recorded": "[0-9T:Z-]+"', '"recorded": TIME', text)
        text = re.sub(r"<td>Archive size</td><td>[^<]*</td>", "ARCHIVE SIZE", text)
        text = re.sub(r"Generated [0-9T:Z-]+ ", "Generated ", text)
    return tuple(_neutral(text, path).splitlines())


def _text_or_hex(data: bytes) -> str:
    try:
        return data.decode()  # a page, a manifest, a record
    except UnicodeDecodeError:
        return data.hex()  # a core file, memory


def _neutral(text: str, path: Path) -> str:
    """Without what names the input: its path, its name and its SHA-256 (the report's, show's),
    in plain text and in the hex of the files written."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for name in (str(path), path.name, digest):
        text = text.replace(name, "INPUT").replace(name.encode().hex(), "INPUT")
    text = re.sub(r'"kind": "tar[.a-z]*"', '"kind": KIND', text)  # show's and inspect's archive kind
    return re.sub(r'"archive_size": [0-9]+', '"archive_size": SIZE', text)


@pytest.mark.parametrize("kind", ["tar.gz", "tar.zst"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_command_decompresses_once_and_answers_as_on_the_plain_tar(
    command: list[str],
    kind: str,
    forms: dict[str, Path],
    passes: list[tuple[int, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = _outcome(command, forms["tar"], tmp_path / "plain", capsys)
    passes.clear()
    packed = _outcome(command, forms[kind], tmp_path / "packed", capsys)
    archives = {archive for archive, _ in passes}  # diff LATER: two archives, each read once
    assert kind in {kind for _, kind in passes} and len(passes) == len(archives), f"{command}: {passes}"
    assert packed == plain
    assert ("OUT" in command) == (tmp_path / "packed" / "written").exists()  # what it writes, it wrote
    assert os.listdir(tmp_path / "spool") == []  # nothing left behind


def test_without_room_for_a_spool_the_answers_are_the_same_in_more_passes(
    forms: dict[str, Path], passes: list[tuple[int, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The fallback, and the counter seeing a second pass: no spool when it would leave the
    temporary directory's file system short of its margin."""
    monkeypatch.setattr(spool, "SPOOL_MARGIN", 1 << 62)
    plain = _outcome(["triage"], forms["tar"], tmp_path / "plain", capsys)
    passes.clear()
    packed = _outcome(["triage"], forms["tar.zst"], tmp_path / "packed", capsys)
    assert len(passes) > 1
    assert packed == plain


def test_tmpdir_and_debug_say_where_the_spool_went(
    forms: dict[str, Path], passes: list[tuple[int, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run(["--debug", "--tmpdir", str(elsewhere), "ps", str(forms["tar.gz"]), "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert f"read from a spool in {elsewhere}, now freed" in err
    assert json.loads(json.dumps(err.count("debug:"))) == 1
    assert run(["ps", str(forms["tar.gz"])]) == 0  # no --debug: no note
    assert "debug:" not in capsys.readouterr().err
    assert run(["--tmpdir", str(tmp_path / "missing"), "ps", str(forms["tar.gz"])]) == 2
    assert "--tmpdir" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["logs"], ["diff"], ["diff", "--show", "/home/counter/logfile"], ["crit", "show", "IN", "core-1.img"]],
    ids=" ".join,
)
def test_big_container_files_and_images_are_read_in_the_one_pass(
    command: list[str], forms: dict[str, Path], passes: list[tuple[int, str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Every member as a big one (none kept in memory by the pass): the container's log, its
    changed files and a lone image are spooled as the pass goes by them."""
    monkeypatch.setattr(compressed, "SMALL_MEMBER_LIMIT", 0)
    outputs = []
    for kind in ("tar", "tar.zst"):
        passes.clear()
        argv = [part.replace("IN", str(forms[kind])) for part in command]
        argv = argv if "IN" in command else [argv[0], str(forms[kind]), *argv[1:]]
        code = run(argv)
        captured = capsys.readouterr()
        outputs.append((code, _neutral(captured.out, forms[kind]), _neutral(captured.err, forms[kind])))
    assert len(passes) == 1, passes
    assert outputs[0] == outputs[1] and outputs[0][0] == 0
