"""``diff``: rootfs changes of one checkpoint, and the difference between two."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode

from conftest import FIXTURES, truth

COUNTERS = FIXTURES / "counters-blog.tar"
LATER = FIXTURES / "counters-blog-later.tar.zst"


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert run([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("counters-blog", COUNTERS),
        ("counters-blog-later", LATER),
        ("busybox-counter-criu41", FIXTURES / "busybox-counter-criu41.tar"),
    ],
)
def test_every_rootfs_member_and_deleted_file(fixture: str, path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(["diff", str(path)], capsys)
    facts = truth(fixture)
    rootfs = [
        [c["path"].lstrip("/"), c["size"]] for c in doc["changed"] if c["layer"] == "rootfs" and c["type"] == "file"
    ]
    assert rootfs == facts["rootfs_diff"]
    assert [d["path"] for d in doc["deleted"]] == facts["deleted_files"]
    # the container wrote nothing else: every entry of CRIU's tmpfs images is the runtime's
    tmpfs = _tmpfs_entries(path)
    assert tmpfs and doc["hidden"] == len(tmpfs)
    assert all(c["layer"] == "rootfs" and c["origin"] == "container" for c in doc["changed"])
    everything = run_json(["diff", str(path), "--all"], capsys)
    runtime = {(c["layer"].split()[-1], c["path"]) for c in everything["changed"] if c["origin"] == "runtime"}
    assert runtime == tmpfs and everything["hidden"] == 0
    null = next(c for c in everything["changed"] if c["path"] == "/dev/null")
    assert (null["type"], null["runtime_reason"]) == ("char", "default device")


def _tmpfs_entries(path: Path) -> set[tuple[str, str]]:
    """(mount point, path) of every entry of the checkpoint's tmpfs-dev-N images, read with tarfile,
    the mount point found by the image's device number in CRIU's own mountpoints image (crit)."""
    import tarfile

    from checkforensics.archive import Checkpoint
    from checkforensics.images.codec import decode_image

    with Checkpoint.open(path) as checkpoint:
        names = checkpoint.image_names()
        mounts = {}
        for name in names:
            if name.startswith("mountpoints-"):
                for entry in decode_image(checkpoint.read(checkpoint.images_prefix + name), name).messages():
                    mounts[entry.root_dev] = entry.mountpoint
        found = set()
        for name in names:
            if name.startswith("tmpfs-dev-"):
                where = mounts[int(name.split("-")[2].split(".")[0])]
                data = checkpoint.read(checkpoint.images_prefix + name)
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    found |= {(where, f"{where}/{m.name.removeprefix('./')}") for m in tar if m.name not in (".", "./")}
    return found


def test_containerd_changes_first_and_the_runtime_files_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    containerd = FIXTURES / "containerd-busybox.tar"
    written = truth("containerd-busybox")["live"]["written"]
    doc = run_json(["diff", str(containerd)], capsys)
    files = {c["path"] for c in doc["changed"] if c["type"] == "file"}
    assert files == set(written)  # not the empty /etc/hosts, /etc/hostname, /etc/resolv.conf runc mounts onto
    everything = run_json(["diff", str(containerd), "--all"], capsys)
    mounted = {c["path"] for c in everything["changed"] if c["layer"] == "rootfs" and c["origin"] == "runtime"}
    assert mounted == {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
    assert run(["diff", str(containerd)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        f"{doc['hidden']} entries made by the container runtime not shown "
        "(rootfs, tmpfs /dev, tmpfs /sys/fs/cgroup); --all lists them"
    )
    assert [line.split()[1] for line in out[1:-2]] == ["dir"] * 2 + ["file", "dir", "dir", "file"] + ["deleted"] * 2
    assert run(["diff", str(containerd), "--all", str(containerd)]) == ExitCode.USAGE


def test_show_prints_content_without_extracting(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", str(COUNTERS), "--show", "/home/counter/test-file"]) == 0
    assert capsys.readouterr().out == "test-file\n"
    assert run(["diff", str(COUNTERS), "--show", "/etc/shadow"]) == ExitCode.BAD_INPUT
    assert "no changed file /etc/shadow" in capsys.readouterr().err


def test_extract_writes_only_inside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    doc = run_json(["diff", str(COUNTERS), "--extract", str(out)], capsys)
    assert (out / "home/counter/test-file").read_bytes() == b"test-file\n"
    logfile = next(e for e in doc["entries"] if e["path"] == "/home/counter/logfile")
    assert logfile["sha256"] == hashlib.sha256((out / "home/counter/logfile").read_bytes()).hexdigest()
    assert not any(p.is_symlink() for p in out.rglob("*"))  # /dev/stdin etc. are listed, not created
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    assert all(name.startswith("out") for name in written)
    assert run(["diff", str(COUNTERS), "--extract", str(out)]) == ExitCode.BAD_INPUT  # not empty any more


def test_extract_follows_diffs_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--extract writes the container's changes only (counters-blog: the two files of its
    rootfs-diff.tar, read with tarfile), and with --all the runtime's entries of CRIU's tmpfs
    images too; every manifest record says whose it is."""
    facts = truth("counters-blog")
    doc = run_json(["diff", str(COUNTERS), "--extract", str(tmp_path / "mine")], capsys)
    assert [[e["path"].lstrip("/"), e["size"]] for e in doc["entries"]] == facts["rootfs_diff"]
    assert {(e["origin"], e["runtime_reason"]) for e in doc["entries"]} == {("container", None)}
    tmpfs = _tmpfs_entries(COUNTERS)
    assert doc["hidden"] == len(tmpfs)
    written = sorted(str(p.relative_to(tmp_path / "mine")) for p in (tmp_path / "mine").rglob("*") if p.is_file())
    assert written == [path for path, _ in facts["rootfs_diff"]]
    assert run(["diff", str(COUNTERS), "--extract", str(tmp_path / "mine2")]) == 0
    assert capsys.readouterr().out.endswith(
        f"; {len(tmpfs)} entries made by the container runtime left out (--all writes them)\n"
    )
    everything = run_json(["diff", str(COUNTERS), "--extract", str(tmp_path / "all"), "--all"], capsys)
    runtime = {(e["layer"].split()[-1], e["path"]) for e in everything["entries"] if e["origin"] == "runtime"}
    assert runtime == tmpfs and everything["hidden"] == 0
    assert all(e["runtime_reason"] for e in everything["entries"] if e["origin"] == "runtime")
    assert (tmp_path / "all" / "_tmpfs__dev" / "pts").is_dir()  # a mount point directory, written with --all
    assert not (tmp_path / "mine" / "_tmpfs__dev").exists()


def test_extract_of_hostile_rootfs_diff_stays_inside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import tarfile

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        for name in ("../../escape.txt", "/etc/abs.txt", "ok/../../x.txt"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(link)
        inside = tarfile.TarInfo("link/passwd")
        inside.size = 3
        tar.addfile(inside, io.BytesIO(b"bad"))
    images = tmp_path / "ckpt"
    (images / "checkpoint").mkdir(parents=True)
    for name in os.listdir(FIXTURES / "bare-bash-sleep"):
        (images / "checkpoint" / name).write_bytes((FIXTURES / "bare-bash-sleep" / name).read_bytes())
    (images / "rootfs-diff.tar").write_bytes(inner.getvalue())
    out = tmp_path / "out"
    assert run(["diff", str(images), "--extract", str(out)]) == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["escape.txt", "etc/abs.txt", "link/passwd", "x.txt"]
    assert not (tmp_path / "escape.txt").exists() and not Path("/etc/abs.txt").exists()


def test_two_checkpoints_of_one_container(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(["diff", str(COUNTERS), str(LATER)], capsys)
    added = doc["files"]["added"]
    assert [(f["path"], f["size"]) for f in added] == [("/home/counter/second-file", 12)]
    (logfile,) = doc["files"]["changed"]
    assert logfile["changes"]["size"] == {"before": 402, "after": 564}
    assert doc["processes"] == {"added": [], "removed": [], "changed": []}
    assert {m["pid"] for m in doc["memory"]["changed"]} <= {1, 7, 8}
    facts = truth("counters-blog")["container"]
    assert (doc["container_id"], doc["container_name"], doc["image"]) == (facts["id"], facts["name"], facts["image"])
    delta = sum(m["delta"] for m in doc["memory"]["changed"])
    assert doc["summary"] == f"container counters: files +1 ~1, memory dumped {delta:+d} bytes"
    assert list(doc)[-2:] == ["summary", "warnings"]  # as checkpointctl's diff ends
    assert run(["diff", str(COUNTERS), str(LATER)]) == 0
    out = capsys.readouterr().out
    assert "+ /home/counter/second-file (file, 12 B)" in out and "size: 402 -> 564" in out
    lines = out.splitlines()
    assert lines[:3] == [f"Container: {facts['name']}", f"Image:     {facts['image']}", f"ID:        {facts['id']}"]
    assert lines[-1] == f"Summary: {doc['summary']}"


def test_different_containers_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", str(COUNTERS), str(FIXTURES / "inflight.tar.zst")]) == ExitCode.BAD_INPUT
    assert "different containers" in capsys.readouterr().err
    doc = run_json(["diff", str(COUNTERS), str(FIXTURES / "inflight.tar.zst"), "--force"], capsys)
    assert {p["pid"] for p in doc["processes"]["removed"]} == {7, 8}


def test_secrets_new_in_b(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        ["diff", str(FIXTURES / "busybox-counter-criu41.tar"), str(COUNTERS), "--force", "--secrets"], capsys
    )
    added = {(s["rule"], s["pid"]) for s in doc["secrets"]["added"]}
    assert ("github-pat", 7) in added and ("aws-secret-access-key", 1) in added
    assert [s["rule"] for s in doc["secrets"]["removed"]] == ["env-secret"]  # SECRET=RANDOM_1432_KEY
    assert all("…" in s["value"] for s in doc["secrets"]["added"])  # redacted
    same = run_json(["diff", str(COUNTERS), str(LATER), "--secrets"], capsys)
    assert same["secrets"]["added"] == []


CONTAINERD = FIXTURES / "containerd-busybox.tar"
CONTAINERD_LATER = FIXTURES / "containerd-busybox-later.tar.zst"


def test_containerd_diff_lists_the_writes_and_the_whiteouts(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(["diff", str(CONTAINERD)], capsys)
    assert doc["warnings"] == []
    rootfs = {c["path"]: c for c in doc["changed"] if c["layer"] == "rootfs"}
    live = truth("containerd-busybox")["live"]
    for path, written in live["written"].items():
        assert rootfs[path]["sha256"] == written["sha256"] and rootfs[path]["size"] == written["size"]
    assert [d["path"] for d in doc["deleted"]] == ["/etc/cfw-motd", "/srv/cfw-old"]
    assert not any(".wh." in c["path"] for c in doc["changed"])
    assert doc["opaque"] == []
    assert run(["diff", str(CONTAINERD)]) == 0
    captured = capsys.readouterr()
    assert "damaged" not in captured.err
    lines = captured.out.splitlines()
    assert any(line.startswith("rootfs") and line.endswith("/etc/cron.d/cfw-job") for line in lines)
    assert any(line.split()[:2] == ["rootfs", "deleted"] and line.endswith("/etc/cfw-motd") for line in lines)


def test_containerd_diff_show_prints_the_written_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", str(CONTAINERD), "--show", "/tmp/cfw-drop.sh"]) == 0
    assert capsys.readouterr().out == truth("containerd-busybox")["live"]["written"]["/tmp/cfw-drop.sh"]["content"]
    assert run(["diff", str(CONTAINERD), "--show", "/srv/cfw-old"]) == ExitCode.BAD_INPUT
    assert "deleted by the container" in capsys.readouterr().err


def test_two_containerd_checkpoints_show_the_new_whiteout(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(["diff", str(CONTAINERD), str(CONTAINERD_LATER)], capsys)
    assert [d["path"] for d in doc["deleted"]["added"]] == ["/etc/group"]
    assert doc["deleted"]["removed"] == []
    added = {f["path"] for f in doc["files"]["added"]}
    assert added == {"/root", "/root/cfw-later.txt"}
    assert run(["diff", str(CONTAINERD), str(CONTAINERD_LATER)]) == 0
    out = capsys.readouterr().out
    assert "+ /etc/group" in out and "+ /root/cfw-later.txt (file, 29 B)" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--secrets"], "--secrets compares the secrets of two checkpoints"),
        (["B", "--show", "/etc/passwd"], "--show and --extract read one checkpoint"),
        (["B", "--extract", "out"], "--show and --extract read one checkpoint"),
    ],
)
def test_options_that_need_one_or_two_checkpoints_say_so(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    later = str(FIXTURES / "counters-blog-later.tar.zst")
    argv = ["diff", str(FIXTURES / "counters-blog.tar"), *[later if word == "B" else word for word in extra]]
    assert run(argv) == 2
    assert message in capsys.readouterr().err


def test_command_lines_are_shell_quoted_in_the_tree_and_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """A command line is shown as ps shows it: ``bash -c 'a | b'`` is one argument, not three words."""
    quoted = "[1] bash /bin/bash -c '/home/counter/counter.py 2>&1 | tee /home/counter/logfile'"
    for fmt in ("text", "table"):
        assert run(["diff", str(COUNTERS), str(LATER), "--show-unchanged", "--format", fmt]) == 0
        assert quoted in capsys.readouterr().out


def test_no_change_and_no_difference_are_nothing_found(capsys: pytest.CaptureFixture[str]) -> None:
    """No change of the container's: nothing on stdout, the one line on stderr with the entries
    of the runtime's left out, exit 1; JSON still gives the document. Two same checkpoints: the same."""
    inflight = str(FIXTURES / "inflight.tar.zst")
    assert run(["diff", inflight]) == ExitCode.NOTHING_FOUND
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "checkforensics: nothing found: no changes by the container; 23 entries made by the container runtime "
        "not shown (tmpfs /dev, tmpfs /sys/fs/cgroup); --all lists them\n"
    )
    assert run(["diff", inflight, "--format", "json"]) == ExitCode.NOTHING_FOUND
    doc = json.loads(capsys.readouterr().out)
    assert (doc["changed"], doc["deleted"], doc["hidden"], doc["warnings"]) == ([], [], 23, [])
    assert run(["diff", inflight, "--all", "--format", "jsonl"]) == 0
    assert {json.loads(line)["origin"] for line in capsys.readouterr().out.splitlines()} == {"runtime"}
    assert run(["diff", str(COUNTERS), str(COUNTERS)]) == ExitCode.NOTHING_FOUND
    assert capsys.readouterr() == ("", "checkforensics: nothing found: no differences\n")


def test_show_gives_the_files_record_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(["diff", str(COUNTERS), "--show", "/home/counter/test-file"], capsys)
    (record,) = doc["changed"]
    assert (record["layer"], record["path"], record["size"]) == ("rootfs", "/home/counter/test-file", 10)
    assert doc["warnings"] == []
    assert record["sha256"] == hashlib.sha256(b"test-file\n").hexdigest()
    assert run(["diff", str(COUNTERS), "--show", "/home/counter/test-file", "--format", "table"]) == 0
    assert capsys.readouterr().out == "test-file\n"


def test_extract_table_sizes_and_json_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(["diff", str(COUNTERS), "--extract", str(tmp_path / "json")], capsys)
    assert doc["warnings"] == [] and doc["output"] == str(tmp_path / "json")
    assert run(["diff", str(COUNTERS), "--extract", str(tmp_path / "table"), "--format", "table"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["LAYER", "TYPE", "SIZE", "WRITTEN", "PATH"]
    assert rows[2].split()[:4] == ["rootfs", "file", "402", "B"]


def test_extract_keeps_force_for_comparing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """diff's --force compares containers; it never lets --extract write into a directory that is not empty."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "there").write_text("x")
    assert run(["diff", str(COUNTERS), "--extract", str(out), "--force"]) == ExitCode.BAD_INPUT
    assert "--force" not in capsys.readouterr().err.split("error:")[1]
    assert (out / "there").read_text() == "x" and len(list(out.iterdir())) == 1
