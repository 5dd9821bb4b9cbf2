"""timeline on real checkpoints: the runtime's own times, the CRI log's, the layer files' mtimes
as tarfile reads them, read back by The Sleuth Kit's mactime from the body file; two checkpoints
of one container merged into one timeline; absurd and missing times never a crash."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard
from mutants import read_members, write_members

from checkforensics.analysis.timeline import SOURCES, merge
from checkforensics.analysis.timeline.event import iso_time, parse_rfc3339
from checkforensics.cli import run

from conftest import FIXTURES, SCENARIOS, truth

CONTAINERD = FIXTURES / "containerd-busybox.tar"
CONTAINERD_LATER = FIXTURES / "containerd-busybox-later.tar.zst"
PODMAN = FIXTURES / "counters-blog.tar"
PODMAN_LATER = FIXTURES / "counters-blog-later.tar.zst"


def _timeline(capsys: pytest.CaptureFixture[str], *argv: str, fmt: str = "jsonl") -> tuple[int, str, str]:
    code = run(["timeline", *argv, "--format", fmt])
    out, err = capsys.readouterr()
    return code, out, err


def _events(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    code, out, err = _timeline(capsys, *argv)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _moment(text: str) -> tuple[dt.datetime, int]:
    """An RFC 3339 time read without the code under test: the datetime to the second, and the
    fraction in nanoseconds."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC), int(fraction.ljust(9, "0") or 0)


def _archive_members(path: Path) -> dict[str, bytes]:
    raw = path.read_bytes()
    if path.suffix == ".zst":
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _layer(path: Path, name: str = "rootfs-diff.tar") -> list[tarfile.TarInfo]:
    """A layer archive's entries as tarfile reads them (containerd's rootfs-diff.tar and CRIU's
    tmpfs images gzip-compressed), the archive's root and OCI whiteouts aside."""
    layer = _archive_members(path)[name]
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:*") as tar:
        return [m for m in tar.getmembers() if m.name.strip("./") and ".wh." not in m.name]


def test_every_source_of_the_containerd_checkpoint_in_time_order(capsys: pytest.CaptureFixture[str]) -> None:
    events = _events(capsys, str(CONTAINERD))
    facts = truth("containerd-busybox")
    assert {e["source"] for e in events} == {"runtime", "checkpoint", "log", "files"}  # no deleted file open
    assert list(SOURCES) == ["runtime", "checkpoint", "log", "files", "ghosts", "history"]
    dated = [e for e in events if e["datetime"] is not None]
    assert [_moment(e["datetime"]) for e in dated] == sorted(_moment(e["datetime"]) for e in dated)
    assert [e["timestamp"] for e in dated] == sorted(e["timestamp"] for e in dated)
    assert all(e["datetime"] is None for e in events[len(dated) :])  # undated ones after every dated one
    for e in events:  # Timesketch's three fields on every event
        assert e["message"] and e["timestamp_desc"] and "datetime" in e

    runtime = {(e["member"], e["timestamp_desc"]): e for e in events if e["source"] == "runtime"}
    status = facts["status_dump"]
    created = _moment(runtime[("status.dump", "Container Created")]["datetime"])
    assert int(created[0].timestamp()) * 10**9 + created[1] == status["created_at"]
    assert runtime[("status.dump", "Container Started")]["datetime"] == facts["container"]["started"]
    config = json.loads(_archive_members(CONTAINERD)["config.dump"])
    assert runtime[("config.dump", "Container Created")]["datetime"] == config["createdTime"]
    assert all(e["certainty"] == "exact" for e in runtime.values())

    (checkpointed,) = [e for e in events if e["source"] == "checkpoint"]
    assert checkpointed["datetime"] == config["checkpointedTime"] and checkpointed["certainty"] == "exact"
    stats = {"freezing_time_us": 601, "frozen_time_us": 54743}  # stats-dump, as show --print-stats prints it
    assert checkpointed["details"] == stats

    log = [e for e in events if e["source"] == "log"]
    assert [f"{e['datetime']} {e['message'].partition(': ')[0]}" for e in log] == [
        " ".join(line.split(" ", 2)[:2]) for line in facts["container_log"]
    ]
    deleted = [e["message"] for e in events if e["timestamp_desc"] == "File Deleted"]
    assert deleted == [f"deleted {p} (when is not recorded)" for p in facts["rootfs_diff"]["whiteouts"]]


def test_files_are_the_layer_entries_at_their_mtimes(capsys: pytest.CaptureFixture[str]) -> None:
    events = _events(capsys, str(CONTAINERD), "--all")
    modified = [e for e in events if e["timestamp_desc"] == "File Modified"]
    files = {e["path"]: e for e in modified if e["member"] == "rootfs-diff.tar"}
    members = _layer(CONTAINERD)
    assert len(members) == len(files) == 9
    for member in members:
        event = files["/" + member.name.strip("./")]
        assert _moment(event["datetime"])[0] == dt.datetime.fromtimestamp(int(member.mtime), dt.UTC)
        assert (event["uid"], event["gid"], event["size"]) == (member.uid, member.gid, member.size)
        assert event["mode"][1:] == stat.filemode(member.mode)[1:] and event["certainty"] == "file-mtime"
    tmpfs = [e for e in events if e["timestamp_desc"] == "File Modified" and e["member"] != "rootfs-diff.tar"]
    images = [f"checkpoint/tmpfs-dev-{n}.tar.gz.img" for n in (52, 54)]  # CRIU's copies of /dev and the cgroups
    assert len(tmpfs) == sum(len(_layer(CONTAINERD, image)) for image in images) == 23
    assert all(e["runtime_made"] for e in tmpfs) and {e["member"] for e in tmpfs} == set(images)
    by_default = {e["path"] for e in _events(capsys, str(CONTAINERD)) if e["timestamp_desc"] == "File Modified"}
    assert by_default == {e["path"] for e in truth("containerd-busybox")["rootfs_diff"]["entries"]} - {
        "/etc/hostname", "/etc/hosts", "/etc/resolv.conf",  # the empty files runc mounts onto
    }  # fmt: skip


@pytest.mark.skipif(shutil.which("mactime") is None, reason="The Sleuth Kit's mactime is not installed")
@pytest.mark.parametrize("fixture", [CONTAINERD, PODMAN])
def test_mactime_reads_the_body_file(fixture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """mactime -b takes the body file without a complaint; its rows of files are the layer's
    members with their mode, owner, size and mtime as tarfile reads them; the undated deleted
    files are listed at mactime's "no time" (0), the other events at their second."""
    code, body, err = _timeline(capsys, str(fixture), "--all", fmt="bodyfile")
    assert code == 0, err
    (tmp_path / "body").write_text(body)
    done = subprocess.run(["mactime", "-b", str(tmp_path / "body"), "-d", "-y"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == len(body.splitlines())  # each line once: one time each
    name = f" ({fixture.name})"
    shown = {row["File Name"].removesuffix(name): row for row in rows if not row["File Name"].startswith("[")}
    events = _events(capsys, str(fixture), "--all")
    assert len(shown) == sum(e["timestamp_desc"] == "File Modified" for e in events)
    members = _layer(fixture)
    assert members and {"/" + m.name.strip("./") for m in members} <= set(shown)
    for member in members:
        row = shown["/" + member.name.strip("./")]
        when = dt.datetime.fromtimestamp(int(member.mtime), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert (row["Date"], row["Type"]) == (when, "m...")
        assert (int(row["UID"]), int(row["GID"]), int(row["Size"])) == (member.uid, member.gid, member.size)
        assert row["Mode"][1:] == stat.filemode(member.mode)[1:]
    undated = [row for row in rows if row["Date"] == "0000-00-00T00:00:00Z"]
    assert len(undated) == sum(e["datetime"] is None for e in events) >= 1
    assert all("File Deleted" in row["File Name"] for row in undated)


def test_two_checkpoints_of_one_container_are_one_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    first = _events(capsys, str(CONTAINERD))
    later = _events(capsys, str(CONTAINERD_LATER))
    both = _events(capsys, str(CONTAINERD), str(CONTAINERD_LATER))
    names = [str(CONTAINERD), str(CONTAINERD_LATER)]

    def fact(e: dict) -> tuple:
        return (e["datetime"], e["source"], e["timestamp_desc"], e["member"], e["message"])

    assert {fact(e) for e in both} == {fact(e) for e in first} | {fact(e) for e in later}
    assert len(both) == len({fact(e) for e in both})  # each fact once
    in_both = {fact(e) for e in first} & {fact(e) for e in later}
    for e in both:
        assert e["checkpoints"] == ([n for n in names if fact(e) in {fact(x) for x in (first, later)[names.index(n)]}])
        assert (e["checkpoints"] == names) == (fact(e) in in_both)
    shared = {e["message"] for e in both if e["checkpoints"] == names}
    assert {"file /etc/cron.d/cfw-job", "stdout: cfw: marker-containerd-log-5a7f"} <= shared
    checkpoints = [e for e in both if e["source"] == "checkpoint"]
    assert [e["checkpoints"] for e in checkpoints] == [[names[0]], [names[1]]]  # each its own, in time order
    assert "file /root/cfw-later.txt" in {e["message"] for e in both if e["checkpoints"] == [names[1]]}
    dated = [e["timestamp"] for e in both if e["datetime"] is not None]
    assert dated == sorted(dated)


def test_podman_checkpoints_merge_and_say_where_their_times_come_from(capsys: pytest.CaptureFixture[str]) -> None:
    both = _events(capsys, str(PODMAN), str(PODMAN_LATER))
    checkpointed = [e for e in both if e["source"] == "checkpoint"]
    assert [e["member"] for e in checkpointed] == ["inventory.img mtime"] * 2  # Podman records no time
    assert {e["certainty"] for e in checkpointed} == {"file-mtime"}
    created = [e for e in both if e["timestamp_desc"] == "Container Created"]
    assert {e["datetime"] for e in created} == {"2026-11-22T23:19:30.674255279Z"}  # config.dump and the spec agree
    assert all(len(e["checkpoints"]) == 2 for e in created)
    logfile = [e for e in both if e.get("path") == "/home/counter/logfile"]
    assert len(logfile) == 2 and [len(e["checkpoints"]) for e in logfile] == [1, 1]  # written again later


def test_csv_carries_timesketch_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _timeline(capsys, str(CONTAINERD), "--dated", fmt="csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0])[:4] == ["datetime", "timestamp", "timestamp_desc", "message"]
    events = _events(capsys, str(CONTAINERD), "--dated")
    assert [row["datetime"] for row in rows] == [e["datetime"] for e in events]
    assert all(row["datetime"] and row["message"] and row["timestamp_desc"] for row in rows)
    assert len(events) == len([e for e in _events(capsys, str(CONTAINERD)) if e["datetime"]])


def test_iso_times_are_kept_to_the_nanosecond() -> None:
    for text in ("2026-12-01T07:11:18.347875581Z", "2026-12-01T07:11:18Z", "1969-07-20T20:17:40Z"):
        assert iso_time(parse_rfc3339(text)) == text
    assert parse_rfc3339("2026-12-01T08:11:18.5+01:00") == parse_rfc3339("2026-12-01T07:11:18.5Z")
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None  # Go's zero time: never
    assert iso_time(10**30) is None  # no calendar holds it: the event is kept, its time not shown


def test_merge_keeps_two_like_lines_of_one_log(capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.analysis.timeline import Event

    line = Event(5, "log", "Log Line", "exact", "stdout: again", "ctr.log", "stdout F again")
    twice = [line, Event(5, "log", "Log Line", "exact", "stdout: again", "ctr.log", "stdout F again")]
    merged = merge([("a", twice), ("b", [Event(5, "log", "Log Line", "exact", "stdout: again", "ctr.log",
                                                  "stdout F again")])])  # fmt: skip
    assert [e.checkpoints for e in merged] == [["a", "b"], ["a"]]


def _hostile(tmp_path: Path) -> Path:
    """containerd's checkpoint with times no calendar or parser takes: a year 9999 creation,
    a negative and a textual nanosecond count, a year-99999 and an undated log line, a layer
    whose members are dated before 1970 and far past 9999."""
    members = read_members(CONTAINERD)
    out = []
    for info, data in members:
        if info.name == "config.dump" and data is not None:
            config = json.loads(data)
            config["createdTime"], config["checkpointedTime"] = "9999-12-31T23:59:59.999999999Z", "yesterday"
            config["restoredTime"] = 17
            data = json.dumps(config).encode()
        elif info.name == "status.dump" and data is not None:
            status = json.loads(data)
            status["created_at"], status["started_at"], status["finished_at"] = -5, "soon", 10**40
            data = json.dumps(status).encode()
        elif info.name == "status" and data is not None:
            status = json.loads(data)
            status["CreatedAt"], status["StartedAt"] = [1], {"a": 1}
            data = json.dumps(status).encode()
        elif info.name == "container.log":
            data = (
                b"99999-01-01T00:00:00Z stdout F far\n2026-02-30T00:00:00Z stdout F no such day\n"
                b"no time at all\n1969-12-31T23:59:59.5Z stderr F before the epoch\n"
                b"2026-12-01T07:11:19Z stdout F a|b|c\n"
            )
        elif info.name == "rootfs-diff.tar":
            data = _layer_with_times([-86_400 * 365 * 3000, -1, 0, 10**11, 2**62])
        out.append((info, data))
    return write_members(out, tmp_path / "hostile-times.tar")


def _layer_with_times(times: list[int]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for index, mtime in enumerate(times):
            info = tarfile.TarInfo(f"file{index}")
            info.mtime, info.size = mtime, 1
            tar.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["text", "table", "json", "jsonl", "csv", "bodyfile"])
def test_absurd_and_missing_times_do_not_crash(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _hostile(tmp_path)
    code, out, err = _timeline(capsys, str(path), fmt=fmt)
    assert code == 0 and "Traceback" not in err and "internal error" not in err
    assert out.strip()
    if fmt == "bodyfile" and shutil.which("mactime"):
        (tmp_path / "body").write_text(out)
        done = subprocess.run(["mactime", "-b", str(tmp_path / "body"), "-d"], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stderr


def test_absurd_times_are_said_and_their_events_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _events(capsys, str(_hostile(tmp_path)))
    _, _, err = _timeline(capsys, str(_hostile(tmp_path)), fmt="json")
    by = {(e["member"], e["message"]): e for e in events}
    assert by[("config.dump", "the engine created the container (createdTime)")]["datetime"] == (
        "9999-12-31T23:59:59.999999999Z"
    )
    assert by[("config.dump", "restored from a checkpoint (restoredTime)")]["datetime"] is None  # 17: no text time
    assert by[("status.dump", "containerd's CRI status: container started (started_at)")]["datetime"] is None
    assert by[("status.dump", "containerd's CRI status: container created (created_at)")]["datetime"] == (
        "1969-12-31T23:59:59.999999995Z"  # -5 ns: before the epoch, and said as such
    )
    assert by[("status.dump", "containerd's CRI status: container exited (finished_at)")]["datetime"] is None
    assert [e["datetime"] for e in events][-9:] == [None] * 9  # what has no time comes last
    log = [e for e in events if e["source"] == "log"]
    assert [e["datetime"] for e in log if e["datetime"]] == ["1969-12-31T23:59:59.5Z", "2026-12-01T07:11:19Z"]
    assert len(log) == 5  # none dropped
    files = sorted((e["path"], e["datetime"]) for e in events if e.get("path", "").startswith("/file"))
    assert [path for path, _ in files] == [f"/file{i}" for i in range(5)]
    assert [when for _, when in files] == [None, "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
                                           "5138-11-16T09:46:40Z", None]  # fmt: skip
    assert "not an RFC 3339 time: 'yesterday'" in err and "not a number of nanoseconds: 'soon'" in err
    assert "out of the calendar (years 1 to 9999): '10000000000000000000000000000000000000000'" in err
    assert "not a date: '2026-02-30T00:00:00Z'" in err and "2 of 5 lines are not in the CRI log format" in err


def test_hostile_names_stay_one_body_file_line_of_eleven_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Member names with newlines, escape sequences and bytes that are not UTF-8, a ``|``
    spelled \\x7c: each event one line of the body file, with its eleven fields."""
    from hostile import hostile_container

    path = hostile_container(tmp_path)
    events = _events(capsys, str(path), "--all")
    code, body, _ = _timeline(capsys, str(path), "--all", fmt="bodyfile")
    assert code == 0
    lines = body.splitlines()
    assert len(lines) == len(events) and all(line.count("|") == 10 for line in lines)
    assert any("\\x0a" in line for line in lines)  # a newline in a name, spelled out
    code, body, _ = _timeline(capsys, str(_hostile(tmp_path)), fmt="bodyfile")
    assert code == 0 and all(line.count("|") == 10 for line in body.splitlines())
    assert "[log] Log Line: stdout: a\\x7cb\\x7cc" in body


def test_the_kubelet_file_name_dates_a_checkpoint_that_records_no_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Podman records no checkpoint time: named as the kubelet names its archives, the name
    is where the time comes from (certainty file-name), else inventory.img's mtime."""
    named = tmp_path / "checkpoint-cfw-pod_cfw-ns-counters-2026-11-22T23:20:05Z.tar"
    named.symlink_to(PODMAN)
    (checkpointed,) = [e for e in _events(capsys, str(named)) if e["source"] == "checkpoint"]
    assert (checkpointed["datetime"], checkpointed["member"], checkpointed["certainty"]) == (
        "2026-11-22T23:20:05Z", "file name", "file-name",
    )  # fmt: skip
    (plain,) = [e for e in _events(capsys, str(PODMAN)) if e["source"] == "checkpoint"]
    with tarfile.open(PODMAN) as tar:
        inventory = tar.getmember("checkpoint/inventory.img")
    assert plain["datetime"] == dt.datetime.fromtimestamp(inventory.mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert plain["certainty"] == "file-mtime"


def test_a_directory_of_checkpoints_is_one_timeline_and_an_unreadable_one_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for path in (CONTAINERD, CONTAINERD_LATER):
        shutil.copy(path, folder / path.name)  # discovery follows no link
    events = _events(capsys, str(folder))
    names = {name for e in events for name in e["checkpoints"]}
    assert {Path(name).name for name in names} == {CONTAINERD.name, CONTAINERD_LATER.name}
    assert len([e for e in events if e["source"] == "checkpoint"]) == 2
    assert any(len(e["checkpoints"]) == 2 for e in events)
    (folder / "broken.tar").write_bytes(b"not a checkpoint" * 64)
    code, out, err = _timeline(capsys, str(folder))
    assert code == 3 and "skipped" in err and "broken.tar" in err  # the others still merged, the bad one named
    assert len(out.splitlines()) == len(events)


def test_deleted_files_still_open_are_dated_as_crit_decodes_their_ghost_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The files scenario holds three deleted-but-open files (CRIU's ghost files): each is an
    event at its modification time and one at its access time, to the microsecond CRIU kept, as
    crit 4.2.1 decoded the same images (the goldens), with the path and holder files shows; in
    the body file one line each, which mactime reads as one "ma.." row."""
    scenario = FIXTURES / "scenarios" / "files"
    events = [e for e in _events(capsys, str(scenario)) if e["source"] == "ghosts"]
    held: dict[int, tuple[str, int, list[str]]] = {}
    assert run(["files", str(scenario), "--format", "jsonl"]) == 0
    for line in capsys.readouterr().out.splitlines():
        d = json.loads(line)
        if d.get("remap") == "ghost":
            held.setdefault(d["remap_id"], (d["path"], d["size"], []))[2].append(f"{d['pid']}:{d['fd']}")
    assert len(held) == 3 and len(events) == 6
    for remap_id, (path, size, holders) in held.items():
        golden = json.loads((FIXTURES / "golden" / "scenario-files" / "decode" / f"ghost-file-{remap_id}.img.json")
                            .read_text())["entries"][0]  # fmt: skip
        mine = {e["certainty"]: e for e in events if e["member"] == f"ghost-file-{remap_id}.img"}
        for certainty, stamp in (("file-mtime", "mtim"), ("file-atime", "atim")):
            event = mine[certainty]
            whole, nanos = _moment(event["datetime"])
            assert (int(whole.timestamp()), nanos) == (golden[stamp]["tv_sec"], golden[stamp]["tv_usec"] * 1000)
            assert (event["path"], event["size"], event["uid"], event["gid"]) == (path, size, golden["uid"],
                                                                                  golden["gid"])  # fmt: skip
            assert event["mode"] == "-" + stat.filemode(golden["mode"])[1:]
            assert event["message"] == f"deleted file {path}, open as pid:fd {' '.join(holders)}"
    if shutil.which("mactime"):
        code, body, _ = _timeline(capsys, str(scenario), fmt="bodyfile")
        assert code == 0
        (tmp_path / "body").write_text(body)
        done = subprocess.run(["mactime", "-b", str(tmp_path / "body"), "-d", "-y"], capture_output=True, text=True)
        rows = [row for row in csv.DictReader(io.StringIO(done.stdout)) if "(deleted)" in row["File Name"]]
        assert done.returncode == 0 and len(rows) == 3 and {row["Type"] for row in rows} == {"ma.."}


_opened: list[str] | None = None


def _record_opens(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_record_opens)


def test_no_memory_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --no-memory, timeline reads no memory: on an extracted checkpoint, no pages image is
    opened (and every member it reads, once: tests/test_member_opens.py)."""
    global _opened
    with tarfile.open(PODMAN) as tar:
        tar.extractall(tmp_path, filter="data")
    _opened = []
    try:
        events = _events(capsys, str(tmp_path), "--no-memory")
    finally:
        opened, _opened = _opened, None
    names = [Path(path).name for path in opened if path.startswith(str(tmp_path))]
    assert events and "ctr.log" in names and "rootfs-diff.tar" in names
    assert not [name for name in names if name.startswith("pages-")]


def test_what_was_typed_at_the_time_the_shell_stored(capsys: pytest.CaptureFixture[str]) -> None:
    """The history source: each line still in a live history list is an event at the second the
    driver typed it (readline stores seconds), in the order typed, after the checkpoint's own
    events it does not precede; remnants are listed undated; --no-memory leaves them all out."""
    typed = truth("scenarios/history")["typed"]
    live = [t for t in typed if t["program"] == "python3" or t["after_clear"]]
    events = _events(capsys, str(SCENARIOS / "history.tar.zst"))
    entered = [e for e in events if e["source"] == "history" and e["timestamp_desc"] == "Command Entered"]
    assert [e["message"].partition(": ")[2] for e in entered] == [t["line"] for t in live]
    for event, line in zip(entered, live, strict=True):
        assert event["certainty"] == "shell" and abs(event["timestamp"] / 1e6 - line["time"]) < 1.0
    remnants = [e for e in events if e["timestamp_desc"] == "Command Remnant"]
    assert remnants and all(e["datetime"] is None and e["certainty"] == "none" for e in remnants)
    assert not [e for e in _events(capsys, str(SCENARIOS / "history.tar.zst"), "--no-memory")
                if e["source"] == "history"]  # fmt: skip
