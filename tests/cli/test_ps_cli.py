"""``checkforensics ps`` on the real fixtures."""

from __future__ import annotations

import json

import pytest

from checkforensics.cli import run

from conftest import FIXTURES, truth


def test_ps_json_matches_the_truth(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ps", str(FIXTURES / "counters-blog.tar"), "--env", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = truth("counters-blog")["processes"]
    assert [(p["pid"], p["ppid"], p["comm"], p["threads"], p["cmdline"], p["env"]) for p in doc["processes"]] == [
        (p["pid"], p["ppid"], p["comm"], p["threads"], p["cmdline"], p["env"]) for p in expected
    ]
    assert all(p["uid"] == 0 and p["state"] == "Alive" for p in doc["processes"])


def test_ps_table_shows_real_command_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ps", str(FIXTURES / "busybox-counter-criu41.tar")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["PID", "PPID", "PGID", "SID"]
    assert "/bin/sh -c 'SECRET=RANDOM_1432_KEY;" in lines[1]
    assert lines[2].split()[-4:] == ["sleep", "/bin/busybox", "sleep", "1"]  # COMM, EXE, COMMAND
    assert all(line == line.rstrip() for line in lines)


def test_ps_tree_with_env(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ps", str(FIXTURES / "counters-blog.tar"), "--tree", "--env"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("└── 1 bash  /bin/bash -c")
    assert "7 counter.py  /usr/bin/python3 /home/counter/counter.py  threads 7, 9" in out
    assert "DB_PASSWORD=hunter2-blog" in out


def test_ps_without_pages_still_lists_processes(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    images = tmp_path / "images"
    shutil.copytree(FIXTURES / "bare-bash-sleep", images)
    for pages in images.glob("pages-*.img"):
        pages.unlink()
    assert run(["ps", str(images), "--format", "json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [p["comm"] for p in doc["processes"]] == ["bash", "sleep"]
    assert all(p["cmdline"] is None for p in doc["processes"])
    assert "pages-1.img" in captured.err


def test_ps_threads_column_is_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    expected = {p["pid"]: len(p["threads"]) for p in truth("counters-blog")["processes"]}
    assert run(["ps", str(FIXTURES / "counters-blog.tar")]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    column = header.split().index("THREADS")
    assert {int(row.split()[0]): int(row.split()[column]) for row in rows} == expected
    assert 2 in expected.values()  # counter.py's two threads, one cell
