"""``checkforensics crit``: the same bytes crit prints, from files and straight from archives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode

from conftest import FIXTURES, GOLDEN

COUNTERS = FIXTURES / "counters-blog.tar"
BARE = FIXTURES / "bare-bash-sleep"


def golden(fixture: str, mode: str, image: str) -> str:
    return (GOLDEN / fixture / mode / f"{image}.json").read_text()


def test_show_from_archive_prints_crits_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "show", str(COUNTERS), "mm-7.img"]) == 0
    assert capsys.readouterr().out == golden("counters-blog", "show", "mm-7.img").rstrip("\n") + "\n"


def test_decode_file_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "decode", "-i", str(BARE / "pstree.img")]) == 0
    assert capsys.readouterr().out == golden("bare-bash-sleep", "decode", "pstree.img") + "\n"


def test_decode_to_file_has_crits_bytes(tmp_path: Path) -> None:
    out = tmp_path / "core.json"
    assert run(["crit", "decode", "-i", str(COUNTERS), "core-7.img", "-o", str(out)]) == 0
    assert out.read_text() == golden("counters-blog", "decode", "core-7.img")


def test_decode_member_path_and_top_level_stats(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "decode", "-i", str(COUNTERS), "checkpoint/pstree.img"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"][1]["pid"] == 7
    assert run(["crit", "show", str(COUNTERS), "stats-dump"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(golden("counters-blog", "show", "stats-dump"))


def test_encode_round_trip_through_files(tmp_path: Path) -> None:
    source = tmp_path / "pagemap.json"
    source.write_text(golden("bare-bash-sleep", "show", "pagemap-16120.img"))
    out = tmp_path / "pagemap.img"
    assert run(["crit", "encode", "-i", str(source), "-o", str(out)]) == 0
    assert out.read_bytes() == (BARE / "pagemap-16120.img").read_bytes()


def test_info_counts_entries(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "info", str(BARE / "pagemap-16120.img")]) == 0
    decoded = json.loads(golden("bare-bash-sleep", "decode", "pagemap-16120.img"))
    assert json.loads(capsys.readouterr().out) == {"magic": "PAGEMAP", "count": len(decoded["entries"]) - 1}


def test_info_on_payload_image_counts_entries_not_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "info", str(FIXTURES / "inflight.tar.zst"), "pipes-data.img"]) == 0
    assert json.loads(capsys.readouterr().out) == {"magic": "PIPES_DATA", "count": 1}


def test_show_nopl_gives_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "show", str(FIXTURES / "inflight.tar.zst"), "pipes-data.img", "--nopl"]) == 0
    entry = json.loads(capsys.readouterr().out)["entries"][0]
    assert entry["extra"] == "... <29B>"


def test_raw_pages_image_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "decode", "-i", str(BARE / "pages-1.img")]) == ExitCode.UNSUPPORTED
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pages-1.img" in err and "unknown image magic 0x08ec8348" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["crit", "show", "/nonexistent/x.img"], "no such file"),
        (["crit", "show", str(COUNTERS)], "name the image"),
        (["crit", "show", str(BARE)], "name the image"),
        (["crit", "show", str(COUNTERS), "core-99.img"], "no image 'core-99.img'"),
    ],
)
def test_bad_inputs_exit_three_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_encode_rejects_binary_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "encode", "-i", str(BARE / "core-16120.img"), "-o", str(tmp_path / "x")]) == ExitCode.BAD_INPUT
    assert "cannot read JSON" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_decode_refuses_to_overwrite_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "pstree.img"
    original = (BARE / "pstree.img").read_bytes()
    image.write_bytes(original)
    assert run(["crit", "decode", "-i", str(image), "-o", str(image)]) == ExitCode.BAD_INPUT
    assert image.read_bytes() == original


def test_x_ps_draws_the_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "x", str(COUNTERS), "ps"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "    PID   PGID    SID   COMM",
        "      1      1      1   bash",
        "      7      1      1       counter.py",
        "      8      1      1       tee",
    ]


def test_x_fds_names_files_pipes_and_sockets(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crit", "x", str(COUNTERS), "fds"]) == 0
    lines = capsys.readouterr().out.splitlines()
    pid7 = lines[lines.index("7") + 1 : lines.index("8")]
    assert pid7[0] == "\t      0: /dev/null"
    assert pid7[1] == "\t      1: pipe[22204]"
    assert pid7[3].startswith("\t      3: INETSK.")
    assert pid7[-2:] == ["\t    cwd: /", "\t   root: /"]


def test_x_rss_reads_criu41_pagemaps(capsys: pytest.CaptureFixture[str]) -> None:
    # CRIU 4.1 writes compat_nr_pages only; crit 4.2.1 dies with KeyError: 'nr_pages' here.
    assert run(["crit", "x", str(FIXTURES / "busybox-counter-criu41.tar"), "rss"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "1"
    assert " / " in out.splitlines()[1]


def test_piping_into_head_ends_quietly(tmp_path: Path) -> None:
    # Far more output than a pipe buffer holds, so the writer really meets EPIPE.
    from checkforensics.images.codec import encode_image
    from checkforensics.images.crit_json import dict_to_image

    entries = [{"pid": pid, "ppid": 1, "pgid": 1, "sid": 1, "threads": [pid]} for pid in range(2, 20000)]
    big = tmp_path / "pstree.img"
    big.write_bytes(encode_image(dict_to_image({"magic": "PSTREE", "entries": entries})))
    command = [sys.executable, "-m", "checkforensics", "crit", "show", str(big)]
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert producer.stdout is not None
    first = producer.stdout.readline()
    producer.stdout.close()
    err = producer.stderr.read() if producer.stderr else b""
    producer.wait(timeout=60)
    assert first == b"{\n"
    assert err == b""
    assert producer.returncode == 0
