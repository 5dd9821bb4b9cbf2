"""``show``, ``inspect`` and ``list`` on the real fixtures."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.errors import ExitCode

from conftest import FIXTURES, truth

COUNTERS = FIXTURES / "counters-blog.tar"
BUSYBOX = FIXTURES / "busybox-counter-criu41.tar"
BARE = FIXTURES / "bare-bash-sleep"
INFLIGHT = FIXTURES / "inflight.tar.zst"


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    assert run([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_show_json_has_every_recorded_field(capsys: pytest.CaptureFixture[str]) -> None:
    (doc,) = run_json(["show", str(COUNTERS), "--print-stats"], capsys)
    facts = truth("counters-blog")
    assert doc["sha256"] == hashlib.sha256(COUNTERS.read_bytes()).hexdigest()
    assert doc["engine"] == "Podman"
    container = doc["container"]
    assert container["name"] == facts["container"]["name"]
    assert container["image"] == facts["container"]["image"]
    assert container["id"] == facts["container"]["id"]
    assert container["runtime"] == facts["container"]["runtime"]
    assert (container["ip"], container["mac"]) == ("10.88.0.2", "6e:15:b6:02:58:b0")
    assert doc["stats"] == facts["stats"]
    assert doc["archive_size"] == facts["archive_size"] == COUNTERS.stat().st_size
    with tarfile.open(COUNTERS) as tar:  # checkpointctl's CHKPT SIZE: the CRIU images
        images = sum(m.size for m in tar.getmembers() if m.isfile() and m.name.startswith("checkpoint/"))
    assert doc["checkpoint_size"] == images
    assert doc["rootfs_diff_size"] == 3072
    assert doc["memory_size"] == sum(p["memory_pages"] for p in facts["processes"]) * 4096
    assert doc["processes"] == len(facts["processes"])
    assert doc["hostname"] == facts["hostname"]


def test_show_table_has_checkpointctls_columns_and_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show", str(COUNTERS), "--print-stats"]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[0:2]
    for column in ("CONTAINER", "IMAGE", "ID", "RUNTIME", "CREATED", "CHECKPOINTED", "ENGINE", "IP", "MAC",
                   "CHKPT SIZE", "ROOT FS DIFF SIZE"):
        assert column in header
    for value in ("counters", "localhost/adrianreber/counter:blog", "e4ec5ab9b095", "runc", "2026-11-22T23:19:30Z",
                  "Podman", "10.88.0.2", "6e:15:b6:02:58:b0", "9.1 MiB", "3.0 KiB"):
        assert value in row
    assert "CRIU dump statistics" in out
    assert "100.78 ms" in out and "113.43 ms" in out and "5.084 ms" in out and "2314" in out  # 100785 µs...
    stats = truth("counters-blog")["stats"]  # the durations in JSON are CRIU's microseconds
    (doc,) = run_json(["show", str(COUNTERS), "--print-stats"], capsys)
    assert {key: doc["stats"][key] for key in ("freezing_time", "memdump_time")} == {
        key: stats[key] for key in ("freezing_time", "memdump_time")
    }


@pytest.mark.parametrize(
    ("microseconds", "shown"),
    [(0, "0 µs"), (601, "601 µs"), (1000, "1 ms"), (5084, "5.084 ms"), (171995, "172 ms"), (1_500_000, "1.5 s")],
)
def test_durations_are_scaled_as_checkpointctl_scales_them(microseconds: int, shown: str) -> None:
    from checkforensics.analysis.overview import DUMP_STATS

    assert DUMP_STATS.field("freezing_time").hint.text(microseconds) == shown


def test_show_several_archives_and_plain_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show", str(COUNTERS), str(BUSYBOX), str(INFLIGHT), "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("---")  # tabulate's plain header rule
    first_table = lines[2 : lines.index("")] if "" in lines else lines[2:]
    assert [line.split()[:2] for line in first_table] == [
        [str(COUNTERS), "counters"],
        [str(BUSYBOX), "counter"],
        [str(INFLIGHT), "inflight-shared"],
    ]


def test_show_bare_images_directory(capsys: pytest.CaptureFixture[str]) -> None:
    (doc,) = run_json(["show", str(BARE), "--print-stats"], capsys)
    facts = truth("bare-bash-sleep")
    assert doc["engine"] is None and doc["container"]["name"] is None
    assert doc["processes"] == len(facts["processes"])
    assert doc["stats"] == facts["stats"]
    assert doc["rootfs_diff_size"] is None
    assert run(["show", str(BARE)]) == 0
    out = capsys.readouterr().out
    assert "HOSTNAME" in out and "PROCESSES" in out


def test_show_damaged_archive_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "evidence.tar"
    garbage.write_bytes(b"not a checkpoint" * 100)
    assert run(["show", str(garbage)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "evidence.tar" in err and err.count("\n") == 1


def test_inspect_tree_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inspect", str(COUNTERS), "--all"]) == 0
    out = capsys.readouterr().out
    assert "io.container.manager: libpod" in out
    assert "/etc/resolv.conf" in out and "Mounts at checkpoint time" in out
    assert "Freezing time: 100.78 ms" in out  # 100785 µs, scaled as checkpointctl scales it
    (doc,) = run_json(["inspect", str(COUNTERS), "--mounts", "--stats"], capsys)
    destinations = [m["destination"] for m in doc["mounts"]["spec"]]
    assert "/proc" in destinations and "/etc/hosts" in destinations
    assert any(m["mountpoint"] == "/" and m["type"] == "overlay" for m in doc["mounts"]["checkpoint"])
    assert doc["stats"]["pages_written"] == 2314


def test_list_directory_skips_damaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(BUSYBOX, tmp_path / "checkpoint-counter_default-counter-2026-11-22T23:17:19Z.tar")
    (tmp_path / "broken.tar").write_bytes(b"\0" * 10)
    assert run(["list", str(tmp_path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    (entry,) = json.loads(captured.out)["checkpoints"]
    assert (entry["container"], entry["engine"], entry["pod"], entry["namespace"]) == (
        "counter", "Podman", "counter", "default"
    )
    assert entry["size"] == BUSYBOX.stat().st_size
    assert "broken.tar" in captured.err
    assert any("broken.tar" in warning for warning in json.loads(captured.out)["warnings"])  # the document's own


def test_show_of_a_directory_shows_the_checkpoints_in_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(BUSYBOX, tmp_path / "a.tar")
    shutil.copy(COUNTERS, tmp_path / "b.tar")
    (tmp_path / "c.tar").write_bytes(b"\0" * 10)  # named in a warning and skipped: exit 3 once the others are shown
    assert run(["show", str(tmp_path), "--format", "json", "--no-hash"]) == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    assert [(d["archive"], d["container"]["name"], d["sha256"]) for d in json.loads(captured.out)] == [
        (str(tmp_path / "a.tar"), "counter", None), (str(tmp_path / "b.tar"), "counters", None)
    ]  # fmt: skip
    assert "skipped" in captured.err and "c.tar" in captured.err
    (tmp_path / "c.tar").unlink()
    assert run(["show", str(tmp_path), "--print-stats"]) == 0
    out = capsys.readouterr().out.splitlines()  # one table for all, each row naming its FILE
    assert out[0].split()[:2] == ["FILE", "CONTAINER"] and out[1].split()[:2] == [str(tmp_path / "a.tar"), "counter"]
    assert out[2].split()[:2] == [str(tmp_path / "b.tar"), "counters"]
    assert "CRIU dump statistics" in out


def test_list_empty_directory_finds_nothing(tmp_path: Path) -> None:
    assert run(["list", str(tmp_path)]) == ExitCode.NOTHING_FOUND


def test_inspect_process_views(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inspect", str(BUSYBOX), "--ps-tree-cmd", "--files", "--sockets"]) == 0
    out = capsys.readouterr().out
    assert "Process tree" in out and "[1]  /bin/sh -c 'SECRET=RANDOM_1432_KEY;" in out
    assert "[21]  sleep 1" in out
    assert "[PIPE 1]  pipe:[10092] (also 21:1)" in out
    assert "Open sockets" not in out  # busybox has none: no empty branch
    assert run(["inspect", str(INFLIGHT), "--ps-tree", "--files", "--sockets"]) == 0
    out = capsys.readouterr().out
    assert "[REG 10]  /var/tmp/dropper.sh (deleted)" in out
    assert "[INETSK 7]  INET TCP LISTEN 127.0.0.1:7070" in out


def test_inspect_all_json_has_processes_with_identity(capsys: pytest.CaptureFixture[str]) -> None:
    (doc,) = run_json(["inspect", str(COUNTERS), "--all", "--pid", "7"], capsys)
    (process,) = doc["processes"]
    assert process["pid"] == 7 and process["cmdline"] == ["/usr/bin/python3", "/home/counter/counter.py"]
    assert "DB_PASSWORD=hunter2-blog" in process["env"]
    assert [s["local"] for s in process["sockets"]] == ["0.0.0.0:8088"]
    identity = process["identity"]
    assert identity["seccomp"] == "filter" and identity["cap_eff"] == "00000000800405fb"
    assert identity["cgroups"]["memory"].startswith("/libpod_parent/libpod-e4ec5ab9b095")


CONTAINERD = FIXTURES / "containerd-busybox.tar"


def test_show_names_the_pod_of_a_containerd_checkpoint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = truth("containerd-busybox")
    monkeypatch.setenv("COLUMNS", "300")
    assert run(["show", str(CONTAINERD), str(COUNTERS)]) == 0
    header, containerd, podman = capsys.readouterr().out.splitlines()[:3]  # then the network interfaces
    assert header.endswith("POD      NAMESPACE  POD UID                               SANDBOX")
    cells = containerd.split()
    assert cells[:2] == [str(CONTAINERD), "cfw-writer"] and "containerd" in cells
    assert cells[-4:] == ["cfw-pod", "cfw-ns", facts["pod"]["uid"], facts["pod"]["sandbox_id"][:12]]
    assert podman.split()[-4:] == ["-", "-", "-", "-"]
    assert run(["show", str(COUNTERS)]) == 0
    assert "POD" not in capsys.readouterr().out  # no pod, no pod columns


def test_show_and_inspect_json_carry_the_cri_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    facts = truth("containerd-busybox")
    (doc,) = run_json(["show", str(CONTAINERD), "--no-hash"], capsys)
    container = doc["container"]
    assert doc["engine"] == "containerd"
    assert (container["pod"], container["namespace"]) == ("cfw-pod", "cfw-ns")
    assert (container["pod_uid"], container["sandbox_id"]) == (facts["pod"]["uid"], facts["pod"]["sandbox_id"])
    assert container["labels"] == facts["container"]["labels"]
    assert container["cri_annotations"] == facts["container"]["annotations"]
    assert container["log_path"] == facts["container"]["log_path"]
    assert container["started"] == facts["container"]["started"]
    assert container["host_pid"] == facts["container"]["pid_on_host"]
    (inspected,) = run_json(["inspect", str(CONTAINERD), "--metadata"], capsys)
    assert inspected["metadata"]["container"] == container
    assert inspected["metadata"]["annotations"] == facts["spec_annotations"]
    (podman,) = run_json(["show", str(COUNTERS), "--no-hash"], capsys)
    assert podman["container"]["pod_uid"] is None and podman["container"]["labels"] == {}


def test_inspect_tree_shows_pod_uid_sandbox_and_labels(capsys: pytest.CaptureFixture[str]) -> None:
    facts = truth("containerd-busybox")
    assert run(["inspect", str(CONTAINERD), "--metadata", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert f"Pod UID: {facts['pod']['uid']}" in out
    assert f"Sandbox: {facts['pod']['sandbox_id']}" in out
    assert "Labels (CRI)" in out and "cfw.example/role: writer" in out
    assert "Annotations (CRI)" in out and "io.kubernetes.container.restartCount: 0" in out


def test_show_of_several_names_each_file_and_when_it_was_taken(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    containerd = FIXTURES / "containerd-busybox.tar"
    monkeypatch.setenv("COLUMNS", "400")
    assert run(["show", str(COUNTERS), str(containerd), "--print-stats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, podman, kubernetes = lines[0].split(), lines[1].split(), lines[2].split()
    assert header[0] == "FILE" and (podman[0], kubernetes[0]) == (str(COUNTERS), str(containerd))
    column = header.index("CHECKPOINTED")
    # Podman records no time: the one tar gives inventory.img (read here with tarfile)
    with tarfile.open(COUNTERS) as tar:
        mtime = tar.getmember("checkpoint/inventory.img").mtime
    archived = dt.datetime.fromtimestamp(mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert podman[column] == archived
    with tarfile.open(containerd) as tar:
        recorded = json.load(tar.extractfile("config.dump"))["checkpointedTime"]
    assert kubernetes[column] == recorded[:19] + "Z"
    stats = lines[lines.index("CRIU dump statistics") + 1 :]
    assert stats[0].split()[0] == "FILE" and stats[1].split()[0] == str(COUNTERS)
    docs = run_json(["show", str(COUNTERS), str(containerd)], capsys)
    assert [(d["checkpointed"], d["checkpointed_from"]) for d in docs] == [
        (archived, "inventory.img mtime"),
        (recorded, "config.dump"),
    ]
    assert docs[0]["container"]["checkpointed"] is None  # what the engine recorded, still
    assert run(["show", str(COUNTERS)]) == 0
    assert capsys.readouterr().out.split()[0] == "CONTAINER"  # one file: no FILE column


def test_inspect_of_several_checkpoints_skips_one_that_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each checkpoint inspected in turn; one that cannot be read is named in a warning and
    skipped (exit 3 once the others are written); each warning names its checkpoint."""
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar at all" * 64)
    config = tmp_path / "config.tar"
    with tarfile.open(config, "w") as archive:
        info = tarfile.TarInfo("config.dump")
        archive.addfile(info)  # empty: a warning, not an error
    assert run(["inspect", str(COUNTERS), str(broken), str(config), "--format", "json"]) == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    assert [doc["archive"] for doc in json.loads(captured.out)] == [str(COUNTERS), str(config)]
    assert f"checkforensics: warning: skipped {broken}" in captured.err
    assert f"checkforensics: warning: {config}: config.dump: empty (no JSON in it)\n" in captured.err
    assert run(["inspect", str(COUNTERS), str(broken), "--ps-tree"]) == ExitCode.BAD_INPUT
    out = capsys.readouterr().out
    assert out.startswith("counters-blog.tar (tar)") and "[7]  counter.py" in out


def test_inspect_process_records_read_command_lines_only_for_json(capsys: pytest.CaptureFixture[str]) -> None:
    """The tree names processes by comm unless asked for command lines; JSON's records carry
    them always, and its metadata the evidence hash."""
    (doc,) = run_json(["inspect", str(COUNTERS), "--ps-tree", "--metadata"], capsys)
    assert {p["pid"]: p["cmdline"] for p in doc["processes"]}[8] == ["tee", "/home/counter/logfile"]
    assert doc["metadata"]["sha256"] == hashlib.sha256(COUNTERS.read_bytes()).hexdigest()
    assert run(["inspect", str(COUNTERS), "--ps-tree"]) == 0
    assert "[8]  tee\n" in capsys.readouterr().out
