"""``files``, ``sockets`` and ``recover`` on the real fixtures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode

from conftest import FIXTURES, truth

INFLIGHT = FIXTURES / "inflight.tar.zst"


def test_files_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["files", str(INFLIGHT), "--data", "--format", "json"]) == 0
    (process,) = json.loads(capsys.readouterr().out)["processes"]
    fds = {fd["fd"]: fd for fd in process["fds"]}
    # a character device, by the mode CRIU recorded with its reg-files entry (S_IFCHR, 0o20666)
    assert fds[0] == {**fds[0], "type": "CHR", "mode": 0o20666, "path": "/dev/null", "deleted": False}
    assert (fds["cwd"]["type"], fds["root"]["type"], fds["exe"]["type"]) == ("DIR", "DIR", "REG")
    assert fds[10]["deleted"] is True and fds[10]["path"] == "/var/tmp/dropper.sh"
    assert (fds[7]["proto"], fds[7]["state"], fds[7]["local"]) == ("TCP", "LISTEN", "127.0.0.1:7070")
    assert fds[9]["remote"] == "127.0.0.1:43414" and fds[9]["recv_queue"] == 27
    assert {"cwd", "root", "exe"} <= set(fds)
    unread = truth("inflight")["inflight"]["tcp_inq"].encode()
    assert fds[9]["inflight"][0]["sha256"] == hashlib.sha256(unread).hexdigest()


def test_files_table_with_data_and_pid(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["files", str(FIXTURES / "counters-blog.tar"), "--pid", "8", "--data"]) == 0
    out = capsys.readouterr().out
    assert "/home/counter/logfile" in out and "pipe:[22204] (also 7:1, 7:2)" in out
    assert all(line.split()[0] in ("PID", "8") for line in out.splitlines())


def test_files_unknown_pid_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["files", str(INFLIGHT), "--pid", "4242"]) == ExitCode.USAGE
    assert "no process 4242" in capsys.readouterr().err


def test_sockets_only_sockets(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sockets", str(FIXTURES / "counters-blog.tar"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    listed = [(p["pid"], fd["fd"], fd["local"], fd["state"]) for p in doc["processes"] for fd in p["fds"]]
    assert listed == [(7, 3, "0.0.0.0:8088", "LISTEN")]


def test_recover_writes_every_kind_byte_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "recovered"
    assert run(["recover", str(INFLIGHT), "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())["items"]
    expected = truth("inflight")["inflight"]
    wanted = {"pipe": "pipe", "unix-queue": "unix_queue", "tcp-inq": "tcp_inq", "deleted-file": "deleted_file",
              "memfd": "memfd"}
    for kind, key in wanted.items():
        item = next(m for m in manifest if m["kind"] == kind)
        content = (out / item["file"]).read_bytes()
        assert content == expected[key].encode()
        assert item["sha256"] == hashlib.sha256(content).hexdigest() and item["size"] == len(content)
    assert len(list(out.iterdir())) == 6  # one file per distinct payload, and the manifest
    assert run(["recover", str(INFLIGHT), "-o", str(out)]) == ExitCode.BAD_INPUT
    assert "not empty" in capsys.readouterr().err
