"""When a checkpoint was taken: one answer from show, list, inspect and the report, in text and
in JSON, on every fixture; where it is not the engine's own record, the text says where it was
found, and a modification time says it is a guess."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
import re
import shutil
import tarfile
from pathlib import Path

import pytest
import zstandard

from checkforensics.cli import run

from conftest import FIXTURES, SCENARIOS

CHECKPOINTS = sorted(
    path for folder in (FIXTURES, SCENARIOS) for path in folder.iterdir()
    if path.name.endswith((".tar", ".tar.gz", ".tar.zst")) or (path.is_dir() and (path / "inventory.img").exists())
)  # fmt: skip
KEYS = ("checkpointed", "checkpointed_from", "checkpointed_certainty")


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    assert run([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _listed(capsys: pytest.CaptureFixture[str]) -> dict[str, dict]:
    """list's JSON record of every checkpoint, by its path."""
    found = {}
    for folder in (FIXTURES, SCENARIOS):
        for record in _json(["list", str(folder)], capsys)["checkpoints"]:
            found[record["file"]] = record
    return found


def _expected(path: Path) -> tuple[str, str]:
    """Where the fixture's time is: config.dump's checkpointedTime, else inventory.img's mtime,
    read here with tarfile and os.stat."""
    if path.is_dir():
        mtime = (path / "inventory.img").stat().st_mtime
        return _iso(mtime), "inventory.img mtime"
    if path.name.endswith(".zst"):
        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
            return _recorded(tarfile.open(fileobj=io.BytesIO(stream.read())))
    with tarfile.open(path) as tar:
        return _recorded(tar)


def _recorded(tar: tarfile.TarFile) -> tuple[str, str]:
    names = tar.getnames()
    if "config.dump" in names:
        recorded = json.load(tar.extractfile("config.dump")).get("checkpointedTime")
        if recorded:
            return recorded, "config.dump"
    (inventory,) = [name for name in names if name.removeprefix("./") in ("checkpoint/inventory.img", "inventory.img")]
    return _iso(tar.getmember(inventory).mtime), "inventory.img mtime"


def _iso(mtime: float) -> str:
    return dt.datetime.fromtimestamp(mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_show_list_inspect_and_report_give_one_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = _listed(capsys)
    assert len(CHECKPOINTS) >= 20
    for path in CHECKPOINTS:
        time, found_in = _expected(path)
        certainty = "exact" if found_in == "config.dump" else "file-mtime"
        (shown,) = _json(["show", str(path)], capsys)
        assert tuple(shown[key] for key in KEYS) == (time, found_in, certainty), path
        assert tuple(listed[str(path)][key] for key in KEYS) == (time, found_in, certainty), path
        (inspected,) = _json(["inspect", str(path)], capsys)
        assert tuple(inspected["metadata"][key] for key in KEYS) == (time, found_in, certainty), path
        # in text: the same time, and where it was found unless the engine recorded it
        # (a table without the fraction of a second, inspect's tree and the report as recorded)
        said = time[:19] + "Z" if found_in == "config.dump" else f"{time} (inventory.img mtime, a guess)"
        whole = time if found_in == "config.dump" else said
        assert run(["show", str(path)]) == 0
        assert said in capsys.readouterr().out, path
        assert run(["inspect", str(path)]) == 0
        assert f"Checkpointed: {whole}\n" in capsys.readouterr().out, path
        page = tmp_path / f"{path.name}.html"
        assert run(["report", str(path), "-o", str(page)]) == 0
        capsys.readouterr()
        row = re.search(r"<td>Checkpointed</td><td>([^<]*)</td>", page.read_text())
        assert row is not None and html.unescape(row.group(1)) == whole, path
    assert run(["list", str(FIXTURES)]) == 0
    assert f"{_expected(FIXTURES / 'counters-blog.tar')[0]} (inventory.img mtime, a guess)" in capsys.readouterr().out


def test_a_touched_copy_says_its_time_is_a_file_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "bare-bash-sleep"
    shutil.copytree(FIXTURES / "bare-bash-sleep", copy)
    later = 1_900_000_000  # 2030-03-17T17:46:40Z
    os.utime(copy / "inventory.img", (later, later))
    (shown,) = _json(["show", str(copy)], capsys)
    assert (shown["checkpointed"], shown["checkpointed_from"]) == ("2030-03-17T17:46:40Z", "inventory.img mtime")
    assert shown["checkpointed_certainty"] == "file-mtime"
    assert run(["show", str(copy)]) == 0
    assert "2030-03-17T17:46:40Z (inventory.img mtime, a guess)" in capsys.readouterr().out
    # with no inventory.img to date it, the directory's own mtime, a guess as well
    (copy / "inventory.img").unlink()
    os.utime(copy, (later, later))
    (events,) = [_json(["timeline", str(copy)], capsys)]
    (event,) = [e for e in events["events"] if e["source"] == "checkpoint"]
    assert (event["certainty"], event["member"]) == ("file-mtime", "file mtime")
