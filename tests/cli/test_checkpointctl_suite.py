"""checkpointctl's bats suite (test/checkpointctl.bats, 90 tests) re-asserted on checkforensics.

Each test names the bats test(s) it stands for. Inputs are built as the suite builds them
(tests/checkpointctl_inputs.py) from one real CRIU dump of the suite's test program
(fixtures/checkpointctl-piggie.tar.zst, facts in its truth file); the assertions are the suite's,
in checkforensics' words: where checkpointctl refuses a checkpoint holding only metadata, this
tool shows what is there and warns of what is missing. docs/checkpointctl.md maps every bats test,
with the ones that do not apply and why.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from checkpointctl_inputs import (
    CONFIG,
    LIST_CONFIG,
    NETWORK,
    NETWORK_MULTI,
    SPEC_CRIO,
    SPEC_PODMAN,
    archive,
    list_spec,
    piggie_images,
    podman,
    rootfs_diff,
    sk_diff_archives,
)

from checkforensics.cli import run
from checkforensics.errors import ExitCode

from conftest import truth

FACTS = truth("checkpointctl-piggie")
DIFF_FACTS = {which: truth(f"checkpointctl-piggie-diff-{which}") for which in ("a", "b")}
NO_IMAGES = "checkpoint/ holds no CRIU images"
NO_CHECKPOINT_DIR = "no checkpoint/ directory of CRIU images"
EVERY_IMAGE = ("*.img",)
MEMORY = ("pstree.img", "core-*.img", "pagemap-*.img", "pages-*.img", "mm-*.img")
SEARCH = ("pstree.img", "core-*.img", "pagemap-*.img", "pages-*.img")  # the suite's --search inputs: no mm-*.img
FILES = ("pstree.img", "core-*.img", "files.img", "fs-*.img", "ids-*.img", "fdinfo-*.img")


def _live(comm: str) -> dict:
    return next(p for p in FACTS["processes"] if p["comm"] == comm)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str, code: int = ExitCode.OK) -> tuple[str, str]:
    assert run(list(argv)) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = ExitCode.OK) -> tuple[object, str]:
    out, err = _cli(capsys, *argv, "--format", "json", code=code)
    return json.loads(out), err


# --- the command line -------------------------------------------------------------------------


def test_no_arguments_prints_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl: the usage, exit 0 (the commands on stdout)."""
    out, err = _cli(capsys)
    assert "Commands:" in out and "inspect" in out and "memparse" in out and err == ""


def test_a_wrong_parameter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl with wrong parameter."""
    _, err = _cli(capsys, "--wrong-parameter", code=ExitCode.USAGE)
    assert "No such option '--wrong-parameter'" in err


# --- show ----------------------------------------------------------------------------------------


def test_show_of_a_missing_path(capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show with non existing directory."""
    _, err = _cli(capsys, "show", "/does-not-exist", code=ExitCode.BAD_INPUT)
    assert err == "checkforensics: error: /does-not-exist: no such file or directory\n"


def test_show_of_an_empty_tar_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show with empty tar file."""
    (tmp_path / "empty.tar").touch()
    _, err = _cli(capsys, "show", str(tmp_path / "empty.tar"), code=ExitCode.BAD_INPUT)
    assert err.count("\n") == 1 and "empty.tar: is not a checkpoint archive or directory (an empty file" in err




@pytest.mark.parametrize("command", ["show", "inspect"])
def test_an_empty_config_dump_is_said(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show|inspect with tar file with empty config.dump. checkpointctl
    stops; here the checkpoint is shown (exit 0) with what is wrong said."""
    path = archive(tmp_path / "test.tar", {"config.dump": b""}, {})
    (doc,), err = _json(capsys, command, str(path))
    warnings = doc["warnings"] if command == "show" else doc["metadata"]["warnings"]
    assert "config.dump: empty (no JSON in it)" in warnings
    assert "spec.dump: missing (engine, pod, annotations and mounts unknown)" in warnings
    assert "checkforensics: warning: config.dump: empty (no JSON in it)\n" in err


@pytest.mark.parametrize("command", ["show", "inspect"])
def test_a_missing_spec_dump_is_said(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show|inspect with tar file with valid config.dump and no spec.dump.
    Without the spec, the engine is not guessed from config.dump."""
    path = archive(tmp_path / "test.tar", {"config.dump": CONFIG}, {})
    out, err = _cli(capsys, command, str(path))
    assert "warning: spec.dump: missing (engine, pod, annotations and mounts unknown)" in err
    assert f"warning: {NO_IMAGES}" in err
    assert "Podman" not in out and "CRI-O" not in out


@pytest.mark.parametrize("command", ["show", "inspect"])
def test_an_empty_spec_dump_is_said(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show|inspect with tar file with valid config.dump and empty spec.dump."""
    path = archive(tmp_path / "test.tar", {"config.dump": CONFIG, "spec.dump": b""}, {})
    _, err = _cli(capsys, command, str(path))
    assert "warning: spec.dump: empty (no JSON in it)" in err


def test_a_bare_criu_dump_has_no_metadata_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The other side of the above: `criu dump -D` images (the suite's test-imgs/) have no
    config.dump or spec.dump, and nothing is said of it."""
    folder = tmp_path / "test-imgs"
    folder.mkdir()
    for name, data in piggie_images().items():
        (folder / name).write_bytes(data)
    (doc,), err = _json(capsys, "show", str(folder))
    assert err == "" and doc["warnings"] == [] and doc["processes"] == len(FACTS["processes"])


@pytest.mark.parametrize(
    ("spec", "engine", "images", "missing"),
    [
        (SPEC_PODMAN, "Podman", None, NO_CHECKPOINT_DIR),
        (SPEC_PODMAN, "Podman", {}, NO_IMAGES),
        (SPEC_CRIO, "CRI-O", None, NO_CHECKPOINT_DIR),
        (SPEC_CRIO, "CRI-O", {}, NO_IMAGES),
    ],
    ids=["podman-no-checkpoint-dir", "podman-checkpoint-dir", "crio-no-checkpoint-dir", "crio-checkpoint-dir"],
)
@pytest.mark.parametrize("command", ["show", "inspect"])
def test_metadata_without_images_is_shown(
    command: str,
    spec: bytes,
    engine: str,
    images: dict | None,
    missing: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """bats: Run checkpointctl show|inspect with tar file with valid config.dump and valid
    spec.dump [(CRI-O)] and [no] checkpoint directory. checkpointctl refuses the archive without
    checkpoint/; here both are shown, with a warning saying the images are missing (exit 0)."""
    path = archive(tmp_path / "test.tar", {"config.dump": CONFIG, "spec.dump": spec}, images)
    out, err = _cli(capsys, command, str(path))
    assert engine in out
    assert err == (
        f"checkforensics: warning: {missing} (no inventory.img / pstree.img): "
        "only the container metadata can be read\n"
    )


def test_a_containerd_status_file_names_the_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file from containerd with valid config.dump and
    valid spec.dump and checkpoint directory: `status` is containerd's own record of the task,
    which no other engine writes. (The show variant has no `status`: docs/checkpointctl.md.)"""
    files = {"config.dump": CONFIG, "status": b"{}\n", "spec.dump": b"{}\n"}
    (doc,), _ = _json(capsys, "inspect", str(archive(tmp_path / "test.tar", files, {})))
    assert doc["metadata"]["engine"] == "containerd"
    files.pop("status")
    (doc,), _ = _json(capsys, "inspect", str(archive(tmp_path / "bare.tar", files, {})))
    assert doc["metadata"]["engine"] is None  # nothing in it says which engine wrote it


def test_show_of_a_compressed_tar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show with tar file compressed."""
    (doc,), _ = _json(capsys, "show", str(podman(tmp_path / "test.tar.gz", compression="gz")))
    assert (doc["kind"], doc["engine"]) == ("tar.gz", "Podman")


def test_show_of_a_corrupted_tar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show with tar file corrupted (10 random bytes at offset 2)."""
    path = podman(tmp_path / "test.tar")
    data = bytearray(path.read_bytes())
    data[2:12] = os.urandom(10)
    path.write_bytes(bytes(data))
    _, err = _cli(capsys, "show", str(path), code=ExitCode.BAD_INPUT)
    assert err.count("\n") == 1 and err.startswith(f"checkforensics: error: {path}: ")


def test_show_of_a_corrupted_compressed_tar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show with tar file compressed and corrupted."""
    path = podman(tmp_path / "test.tar.gz", compression="gz")
    data = bytearray(path.read_bytes())
    # gzip's method, flags, time, ...: the stream no longer inflates. Not os.urandom, as the bats
    # test has it: random flags sometimes made Python's gzip raise zlib.error, sometimes not
    data[2:12] = b"\x63" + random.Random(2026).randbytes(9)  # 0x63: no such compression method
    path.write_bytes(bytes(data))
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(bytes(data))
    _, err = _cli(capsys, "show", str(path), code=ExitCode.BAD_INPUT)
    assert err.count("\n") == 1 and err.startswith(f"checkforensics: error: {path}")


@pytest.mark.parametrize("command", ["show", "inspect"])
def test_the_rootfs_diff_size(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show|inspect with tar file and rootfs-diff tar file."""
    layer = rootfs_diff()
    path = podman(tmp_path / "test.tar", extra={"rootfs-diff.tar": layer})
    out, _ = _cli(capsys, command, str(path))
    assert ("ROOT FS DIFF SIZE" if command == "show" else "Root FS diff size: 10.0 KiB") in out
    (doc,), _ = _json(capsys, "show", str(path))
    assert doc["rootfs_diff_size"] == len(layer) == 10240


@pytest.mark.parametrize("command", ["show", "inspect"])
def test_several_archives(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl show|inspect with multiple tar files."""
    paths = [str(podman(tmp_path / name)) for name in ("test1.tar", "test2.tar")]
    docs, _ = _json(capsys, command, *paths)
    engines = [doc["engine"] if command == "show" else doc["metadata"]["engine"] for doc in docs]
    assert engines == ["Podman", "Podman"]
    out, _ = _cli(capsys, command, *paths)
    assert out.count("Podman") == 2


# --- inspect -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["inspect", "diff"])
def test_an_invalid_format(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect|diff with invalid format."""
    path = str(podman(tmp_path / "test.tar"))
    paths = [path] if command == "inspect" else [path, path]
    _, err = _cli(capsys, command, *paths, "--format=invalid", code=ExitCode.USAGE)
    assert "Invalid value for '--format'" in err


def test_inspect_stats_without_stats_dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --stats and missing stats-dump."""
    path = str(podman(tmp_path / "test.tar"))
    out, _ = _cli(capsys, "inspect", path, "--stats")
    assert "CRIU dump statistics" in out and "(no stats-dump)" in out
    (doc,), _ = _json(capsys, "inspect", path, "--stats")
    assert doc["stats"] is None


def test_inspect_stats_of_a_stats_dump_that_is_not_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --stats and invalid stats-dump."""
    path = str(podman(tmp_path / "test.tar", extra={"stats-dump": SPEC_PODMAN}))
    (doc,), err = _json(capsys, "inspect", path, "--stats")
    assert doc["stats"] is None
    assert "stats-dump: unknown image magic 0x6f6d227b" in err


def test_inspect_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --stats and valid stats-dump."""
    path = str(podman(tmp_path / "test.tar", extra={"stats-dump": piggie_images()["stats-dump"]}))
    out, _ = _cli(capsys, "inspect", path, "--stats")
    assert "CRIU dump statistics" in out and "Memwrite time" in out
    (doc,), _ = _json(capsys, "inspect", path, "--stats")
    assert doc["stats"]["memwrite_time"] > 0
    pages = sum(len(data) for name, data in piggie_images().items() if name.startswith("pages-"))
    assert doc["stats"]["pages_written"] * 4096 == pages  # CRIU counted the pages it wrote


def test_inspect_mounts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --mounts and valid spec.dump."""
    path = str(podman(tmp_path / "test.tar"))
    out, _ = _cli(capsys, "inspect", path, "--mounts")
    assert "Mounts" in out and "/proc" in out and "type: proc" in out
    (doc,), _ = _json(capsys, "inspect", path, "--mounts")
    assert [(m["destination"], m["type"]) for m in doc["mounts"]["spec"]] == [
        ("/proc", "proc"),
        ("/etc/hostname", "bind"),
    ]


def test_inspect_ps_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --ps-tree; ... --ps-tree and valid PID."""
    path = str(podman(tmp_path / "test.tar", "pstree.img", "core-*.img"))
    out, _ = _cli(capsys, "inspect", path, "--ps-tree")
    assert "Process tree" in out and "[1]  piggie" in out
    (doc,), _ = _json(capsys, "inspect", path, "--ps-tree")
    live = {p["dump_pid"]: p["comm"] for p in FACTS["processes"]}
    assert {p["pid"]: p["comm"] for p in doc["processes"]} == live
    (doc,), _ = _json(capsys, "inspect", path, "--ps-tree", "--pid", "1")
    assert [(p["pid"], p["comm"]) for p in doc["processes"]] == [(1, "piggie")]


def test_inspect_ps_tree_without_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --ps-tree and missing pstree.img."""
    path = str(podman(tmp_path / "test.tar"))
    _, err = _cli(capsys, "inspect", path, "--ps-tree", code=ExitCode.BAD_INPUT)
    assert err.endswith(
        f"checkforensics: error: {path}: {NO_IMAGES}: no processes, memory or descriptors to read; its container "
        "metadata is there ('checkforensics show', 'checkforensics inspect')\n"
    )


def test_inspect_ps_tree_with_an_unknown_pid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --ps-tree and invalid PID."""
    path = str(podman(tmp_path / "test.tar", "pstree.img", "core-*.img"))
    _, err = _cli(capsys, "inspect", path, "--ps-tree", "--pid", "99999", code=ExitCode.USAGE)
    assert "no process 99999 in the checkpoint" in err


def test_inspect_ps_tree_cmd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --ps-tree-cmd."""
    path = str(podman(tmp_path / "test.tar", *MEMORY))
    out, _ = _cli(capsys, "inspect", path, "--ps-tree-cmd")
    assert "Process tree" in out and "piggie/piggie -r 200 -n piggie --" in out
    (doc,), _ = _json(capsys, "inspect", path, "--ps-tree-cmd")
    for process in doc["processes"]:
        live = next(p for p in FACTS["processes"] if p["dump_pid"] == process["pid"])
        assert process["cmdline"] == (live["cmdline"] or None)  # the zombie has none


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become nobody")
def test_inspect_ps_tree_cmd_as_nobody() -> None:
    """bats: Run checkpointctl inspect with tar file and --ps-tree-cmd as non-root: a forked
    child turns into nobody and runs the command on an archive it may only read."""
    folder = Path(tempfile.mkdtemp(prefix="cfw-nobody-"))
    try:
        folder.chmod(0o755)
        path = podman(folder / "test.tar", *MEMORY)
        path.chmod(0o444)
        out_r, out_w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover -- runs in the child
            code = 70
            try:
                os.close(out_r)
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                os.dup2(out_w, 1)
                sys.stdout = os.fdopen(1, "w")
                code = run(["inspect", str(path), "--ps-tree-cmd", "--no-color"])
                sys.stdout.flush()
            finally:
                os._exit(code)
        os.close(out_w)
        with os.fdopen(out_r) as reader:
            out = reader.read()
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert "Process tree" in out and "piggie/piggie" in out
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("flag", ["--ps-tree-cmd", "--ps-tree-env"])
def test_inspect_command_lines_without_pages(flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --ps-tree-cmd|--ps-tree-env and missing
    pages-*.img. checkpointctl stops; here the tree is shown and each unreadable command line said."""
    path = str(podman(tmp_path / "test.tar", "pstree.img", "core-*.img", "pagemap-*.img", "mm-*.img"))
    (doc,), err = _json(capsys, "inspect", path, flag)
    assert all(p["cmdline"] is None for p in doc["processes"])
    for process in FACTS["processes"]:
        if process["state"] != "Z":
            assert f"pid {process['dump_pid']}: " in err and "pages-" in err
    out, _ = _cli(capsys, "inspect", path, flag)  # the name the core image records, marked as not argv
    for process in FACTS["processes"]:
        assert f"[{process['dump_pid']}]  [{process['comm']}]" in out
    out, _ = _cli(capsys, "ps", path)
    rows = {int(line.split()[0]): line.split() for line in out.splitlines()[1:]}
    for process in FACTS["processes"]:
        # COMM, EXE (unknown: no files.img), COMMAND
        assert rows[process["dump_pid"]][-3:] == [process["comm"], "-", f"[{process['comm']}]"]


def test_inspect_ps_tree_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --ps-tree-env."""
    path = str(podman(tmp_path / "test.tar", *MEMORY))
    out, _ = _cli(capsys, "inspect", path, "--ps-tree-env")
    assert "Process tree" in out and "TEST_ENV=BAR" in out
    (doc,), _ = _json(capsys, "inspect", path, "--ps-tree-env", "--pid", "1")
    assert doc["processes"][0]["env"] == _live("piggie")["env"]


def test_inspect_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --files: the tree with each process's
    descriptors and state (checkpointctl's `(Dead)` and `(Stopped)`; here the zombie's exit status
    and the stopping signal, piggie.py having sent SIGSTOP)."""
    path = str(podman(tmp_path / "test.tar", *FILES))
    out, err = _cli(capsys, "inspect", path, "--files")
    assert "Open files" in out and "alive-child" in out
    for process in FACTS["processes"]:  # the suite gives no mm-*.img: each process's program is unknown
        said = f"warning: pid {process['dump_pid']}: mm-{process['dump_pid']}.img missing: its program (exe) unknown\n"
        assert (said in err) == (process["state"] != "Z")
    states = {"Z": "(zombie, exit status 0)", "T": "(stopped by SIGSTOP)"}
    lines = out.splitlines()
    for process in FACTS["processes"]:
        (line,) = [line for line in lines if f"[{process['dump_pid']}]  {process['comm']}" in line]
        state = states.get(process["state"])
        assert line.endswith(state) if state else line.endswith(process["comm"]), line
    (doc,), _ = _json(capsys, "inspect", path, "--files")
    for process in doc["processes"]:
        live = next(p for p in FACTS["processes"] if p["dump_pid"] == process["pid"])
        fds = sorted(d["fd"] for d in process["fds"] if isinstance(d["fd"], int))
        assert fds == sorted(f["fd"] for f in live["fds"] if f["type"] != "socket")
        if live["state"] != "Z":
            assert {"cwd", "root"} <= {d["fd"] for d in process["fds"]}


@pytest.mark.parametrize("flag", ["--files", "--sockets"])
def test_inspect_descriptors_without_files_img(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bats: Run checkpointctl inspect with tar file and --files|--sockets and missing files.img."""
    path = str(podman(tmp_path / "test.tar", "pstree.img", "core-*.img"))
    _, err = _cli(capsys, "inspect", path, flag)
    assert "warning: files.img: missing (which file, pipe or socket each descriptor is, unknown)" in err


def test_inspect_sockets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --sockets."""
    path = str(podman(tmp_path / "test.tar", *FILES))
    (doc,), _ = _json(capsys, "inspect", path, "--sockets")
    found = {(p["pid"], s["proto"], s["state"], s["local"]) for p in doc["processes"] for s in p.get("sockets", [])}
    server, client = _live("tcp-server"), _live("tcp-client")
    assert (server["dump_pid"], "TCP", "LISTEN", "0.0.0.0:5000") in found
    assert (server["dump_pid"], "TCP", "ESTABLISHED", "127.0.0.1:5000") in found
    assert any(pid == client["dump_pid"] and state == "ESTABLISHED" for pid, _, state, _ in found)
    assert len(found) == sum(1 for p in FACTS["processes"] for f in p["fds"] if f["type"] == "socket")


def test_inspect_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file and --all and valid spec.dump and valid stats-dump."""
    extra = {"stats-dump": piggie_images()["stats-dump"]}
    path = str(podman(tmp_path / "test.tar", *FILES, *MEMORY, extra=extra))
    out, _ = _cli(capsys, "inspect", path, "--all")
    for expected in ("CRIU dump statistics", "Memwrite time", "[REG 0]", "[REG cwd]", "[REG root]", "Metadata",
                     "Process tree", "piggie", "Mounts", "/proc", "/etc/hostname"):  # fmt: skip
        assert expected in out, expected


def _interface_branch(out: str, network: str, name: str) -> list[str]:
    """The three lines under ``NETWORK (NAME)`` in inspect's tree, without the tree's glyphs."""
    lines = out.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.endswith(f"── {network} ({name})")]
    return [line.split("── ", 1)[1] for line in lines[at + 1 : at + 4]]


@pytest.mark.parametrize("command", ["show", "inspect"])
def test_network_status(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file with valid config.dump and valid spec.dump
    and network.status; ... with json format and network.status: the network, interface,
    address with its prefix, gateway and MAC, in text and JSON."""
    path = str(podman(tmp_path / "test.tar", extra={"network.status": NETWORK}))
    out, _ = _cli(capsys, command, path)
    assert "Podman" in out
    if command == "show":
        assert ["podman", "eth0", "10.88.0.9/16", "10.88.0.1", "f2:99:8d:fb:5a:57"] in [
            line.split() for line in out.splitlines()
        ]
    else:
        assert _interface_branch(out, "podman", "eth0") == ["IP: 10.88.0.9/16", "Gateway: 10.88.0.1",
                                                            "MAC: f2:99:8d:fb:5a:57"]  # fmt: skip
    (doc,), _ = _json(capsys, command, path)
    container = (doc if command == "show" else doc["metadata"])["container"]
    assert (container["ip"], container["mac"]) == ("10.88.0.9", "f2:99:8d:fb:5a:57")
    assert container["interfaces"] == [
        {"network": "podman", "name": "eth0", "addresses": ["10.88.0.9/16"], "gateways": ["10.88.0.1"],
         "mac": "f2:99:8d:fb:5a:57"}
    ]  # fmt: skip


def test_network_status_of_two_networks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with ... multi-network network.status; ... json format and
    multi-network network.status."""
    path = str(podman(tmp_path / "test.tar", extra={"network.status": NETWORK_MULTI}))
    out, _ = _cli(capsys, "inspect", path)
    for network, name, address, gateway, mac in (
        ("net1", "eth0", "10.89.0.2/24", "10.89.0.1", "32:ba:b8:45:bc:84"),
        ("net2", "eth1", "10.89.1.2/24", "10.89.1.1", "5e:b7:fe:ee:e0:d8"),
    ):
        assert _interface_branch(out, network, name) == [f"IP: {address}", f"Gateway: {gateway}", f"MAC: {mac}"]
    out, _ = _cli(capsys, "show", path)
    rows = [line.split() for line in out.splitlines()]
    assert ["net1", "eth0", "10.89.0.2/24", "10.89.0.1", "32:ba:b8:45:bc:84"] in rows
    assert ["net2", "eth1", "10.89.1.2/24", "10.89.1.1", "5e:b7:fe:ee:e0:d8"] in rows
    (doc,), _ = _json(capsys, "inspect", path)
    interfaces = doc["metadata"]["container"]["interfaces"]
    assert [(i["network"], i["name"], i["addresses"], i["gateways"], i["mac"]) for i in interfaces] == [
        ("net1", "eth0", ["10.89.0.2/24"], ["10.89.0.1"], "32:ba:b8:45:bc:84"),
        ("net2", "eth1", ["10.89.1.2/24"], ["10.89.1.1"], "5e:b7:fe:ee:e0:d8"),
    ]


def test_a_broken_network_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file with broken network.status."""
    path = str(podman(tmp_path / "test.tar", extra={"network.status": b"not-valid-json\n"}))
    out, err = _cli(capsys, "inspect", path)
    assert "Engine: Podman" in out
    assert "warning: network.status: not valid JSON" in err


def test_inspect_crio_checkpointed_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with tar file with valid config.dump and valid spec.dump
    (CRI-O) and checkpoint directory (config.dump holds only checkpointedTime)."""
    config = b'{"checkpointedTime": "2024-02-09T11:01:26.186815191Z"}\n'
    path = str(archive(tmp_path / "test.tar", {"config.dump": config, "spec.dump": SPEC_CRIO}, {}))
    out, _ = _cli(capsys, "inspect", path)
    assert "Checkpointed: 2024-02-09T11:01:26.186815191Z" in out and "Engine: CRI-O" in out


def test_inspect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl inspect with json format (every image, stats-dump)."""
    path = str(podman(tmp_path / "test.tar", *EVERY_IMAGE, extra={"stats-dump": piggie_images()["stats-dump"]}))
    (doc,), _ = _json(capsys, "inspect", path, "--all")
    assert doc["metadata"]["engine"] == "Podman"
    processes = {p["pid"]: p for p in doc["processes"]}
    assert processes[1]["comm"] == "piggie"
    children = [p["comm"] for p in doc["processes"] if p["ppid"] == 1]
    assert children[:2] == ["tcp-server", "tcp-client"]
    env = dict(variable.split("=", 1) for variable in processes[1]["env"])
    assert (env["TEST_ENV"], env["TEST_ENV_EMPTY"]) == ("BAR", "")
    sockets = processes[_live("tcp-server")["dump_pid"]]["sockets"]
    assert (sockets[0]["proto"], sockets[0]["local"]) == ("TCP", "0.0.0.0:5000")


# --- memparse and memgrep ----------------------------------------------------------------------


def test_memparse_without_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl memparse with tar file (no pages-*.img: sizes cannot be read)."""
    path = str(podman(tmp_path / "test.tar", "pstree.img", "core-*.img", "pagemap-*.img", "mm-*.img"))
    out, err = _cli(capsys, "memparse", path)
    assert "piggie" in out.splitlines()[1]
    assert "pid 1: memory not readable" in err and "pages-1.img: no such member" in err


def test_memparse_without_pstree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl memparse with tar file and missing pstree.img."""
    path = str(podman(tmp_path / "test.tar", "core-*.img", "pagemap-*.img", "mm-*.img"))
    _, err = _cli(capsys, "memparse", path, code=ExitCode.BAD_INPUT)
    assert err == f"checkforensics: error: {path}: no image 'pstree.img' in this checkpoint\n"


def test_memparse_hexdump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl memparse with tar file and valid PID."""
    import re

    path = str(podman(tmp_path / "test.tar", *MEMORY))
    out, _ = _cli(capsys, "memparse", path, "--pid", "1")
    line = out.splitlines()[3]
    assert re.fullmatch(r"[0-9a-f]{16}  ([0-9a-f]{2} ){8} ([0-9a-f]{2} ){8} \|.{16}\|", line), line


@pytest.mark.parametrize(("command", "pid"), [("memparse", "9999"), ("memgrep", "999")])
def test_memory_of_an_unknown_pid(command: str, pid: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl memparse with tar file and invalid PID; memparse --search=PATH
    with invalid PID (memgrep here)."""
    path = str(podman(tmp_path / "test.tar", *(MEMORY if command == "memparse" else SEARCH)))
    pattern = ["PATH"] if command == "memgrep" else []
    _, err = _cli(capsys, command, path, *pattern, "--pid", pid, code=ExitCode.USAGE)
    assert f"no process {pid} in the checkpoint" in err


def test_memgrep_negative_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl memparse with --search=PATH and --context=-1."""
    path = str(podman(tmp_path / "test.tar", *SEARCH))
    _, err = _cli(capsys, "memgrep", path, "PATH", "--context=-1", "--pid", "1", code=ExitCode.USAGE)
    assert "Invalid value for '--context'" in err


def test_memgrep_no_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl memparse with --search=NON_EXISTING_PATTERN (exit 1 here, as grep)."""
    path = str(podman(tmp_path / "test.tar", *SEARCH))
    doc, _ = _json(capsys, "memgrep", path, "NON_EXISTING_PATTERN", "--pid", "1", code=ExitCode.NOTHING_FOUND)
    assert doc["matches"] == [] and doc["shared_matches"] == []


def test_memgrep_without_mm_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl memparse with --search=PATH and --context=10 flags; ... with
    --search-regex='HOME=([^?]+)'. Their inputs have no mm-*.img: the pages the pagemap lists
    are searched, in mappings said to be unknown."""
    path = str(podman(tmp_path / "test.tar", *SEARCH))
    doc, err = _json(capsys, "memgrep", path, "PATH", "--context", "10", "--pid", "1")
    (match,) = doc["matches"]  # the environment: PATH= once in the stack's pages
    assert match["vma"]["kind"] == "unknown" and match["vma"]["perms"] == "????"
    assert "PATH=" in match["context"]
    assert "pid 1: mm-1.img missing: its mappings are unknown" in err
    others = [p["dump_pid"] for p in FACTS["processes"] if p["dump_pid"] != 1 and p["state"] != "Z"]
    assert others and not any(f"pid {pid}: mm-" in err for pid in others)  # only what was asked about
    _, err = _cli(capsys, "memgrep", path, "PATH", "--format", "json")
    for pid in [1, *others]:  # every process searched: each told once
        assert err.count(f"pid {pid}: mm-{pid}.img missing") == 1
    doc, _ = _json(capsys, "memgrep", path, "--regex", "HOME=([^?]+)", "--pid", "1")
    home = next(v for v in _live("piggie")["env"] if v.startswith("HOME="))
    assert doc["matches"][0]["match"].startswith(home)
    out, _ = _cli(capsys, "memgrep", path, "PATH", "--context", "10", "--pid", "1")
    assert "PATH" in out and "[unknown]" in out


# --- list ----------------------------------------------------------------------------------------


def test_list_of_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl list with empty directory (exit 1 here: nothing found)."""
    (tmp_path / "empty").mkdir()
    out, err = _cli(capsys, "list", str(tmp_path / "empty"), code=ExitCode.NOTHING_FOUND)
    assert out == "" and err == f"checkforensics: nothing found: no checkpoints in {tmp_path / 'empty'}\n"


def test_list_of_a_missing_directory(capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl list with non existing directory (exit 3 here: nothing to look at)."""
    _, err = _cli(capsys, "list", "/does-not-exist", code=ExitCode.BAD_INPUT)
    assert err == (
        "checkforensics: nothing found: no checkpoints in /does-not-exist\n"
        "checkforensics: warning: /does-not-exist: no such directory\n"
    )


def test_list_skips_an_empty_tar_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl list with empty tar file."""
    (tmp_path / "checkpoint-nginx-empty.tar").touch()
    _, err = _cli(capsys, "list", str(tmp_path), code=ExitCode.NOTHING_FOUND)
    assert f"skipped {tmp_path / 'checkpoint-nginx-empty.tar'}: is not a checkpoint archive" in err


@pytest.mark.parametrize(
    ("files", "broken"),
    [
        ({"config.dump": b"", "spec.dump": list_spec()}, "config.dump: empty (no JSON in it)"),
        ({"config.dump": LIST_CONFIG, "spec.dump": b""}, "spec.dump: empty (no JSON in it)"),
    ],
    ids=["empty-config", "empty-spec"],
)
def test_list_warns_of_broken_metadata(
    files: dict[str, bytes], broken: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bats: Run checkpointctl list with tar file with valid spec.dump and empty config.dump;
    ... valid config.dump and empty spec.dump. The row is listed, and what is wrong said."""
    archive(tmp_path / "checkpoints" / "checkpoint-config.tar", files, {})
    doc, err = _json(capsys, "list", str(tmp_path / "checkpoints"))
    (row,) = doc["checkpoints"]
    assert broken in row["warnings"]
    assert f"checkforensics: warning: checkpoint-config.tar: {broken}\n" in err


def test_list_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl list with tar file with valid config.dump and spec.dump."""
    folder = tmp_path / "checkpoints"
    archive(folder / "checkpoint-valid-config.tar", {"config.dump": LIST_CONFIG, "spec.dump": list_spec()}, {})
    modified = {"config.dump": LIST_CONFIG, "spec.dump": list_spec("modified-pod-name")}
    archive(folder / "checkpoint-valid-config-modified.tar", modified, {})
    out, _ = _cli(capsys, "list", str(folder))
    rows = out.splitlines()[1:]
    names = ("checkpoint-valid-config-modified.tar", "checkpoint-valid-config.tar")
    for row, pod, name in zip(rows, ("modified-pod-name", "pod-name"), names, strict=True):
        assert row.split() == ["default", pod, "container-name", "CRI-O", "2024-01-28T00:10:45+05:30", "10.0", "KiB",
                               name]  # fmt: skip


# --- diff of two checkpoints ---------------------------------------------------------------------


def test_diff_without_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with no arguments."""
    _, err = _cli(capsys, "diff", code=ExitCode.USAGE)
    assert "Missing argument" in err


def test_diff_of_missing_checkpoints(capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with non-existing checkpoint."""
    _, err = _cli(capsys, "diff", "/does-not-exist1.tar", "/does-not-exist2.tar", code=ExitCode.BAD_INPUT)
    assert err == "checkforensics: error: /does-not-exist1.tar: no such file or directory\n"


@pytest.mark.parametrize("compression", ["", "gz"])
def test_diff_of_identical_metadata_only_checkpoints(
    compression: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bats: Run checkpointctl diff with two identical checkpoints (tree format); (json format);
    json output validation; compressed checkpoints; output contains expected sections. No
    images: files on disk are compared, processes and memory are not (and that is said)."""
    suffix = ".tar.gz" if compression else ".tar"
    a, b = (str(podman(tmp_path / f"test{n}{suffix}", compression=compression)) for n in (1, 2))
    out, err = _cli(capsys, "diff", a, b, code=ExitCode.NOTHING_FOUND)
    assert out == "" and "checkforensics: nothing found: no differences\n" in err
    assert "processes, descriptors, sockets and memory not compared: A and B hold no CRIU images" in err
    doc, _ = _json(capsys, "diff", a, b, code=ExitCode.NOTHING_FOUND)
    assert (doc["a"], doc["b"]) == (a, b)
    # bats 72 and 80 (json output validation): the container's identity and a summary; its
    # config.dump is {}, so the identity is unknown: null, not "" (docs/json.md)
    assert (doc["container_id"], doc["container_name"], doc["image"]) == (None, None, None)
    assert doc["summary"] == "no differences"
    for section in ("processes", "descriptors", "sockets", "files", "deleted", "memory"):
        assert doc[section] == {"added": [], "removed": [], "changed": []}


def test_diff_of_identical_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with --ps-tree-cmd flag; ... with --files flag (the same
    images twice: nothing changed, processes, descriptors and memory compared)."""
    a, b = (str(podman(tmp_path / name, *FILES, *MEMORY)) for name in ("test1.tar", "test2.tar"))
    doc, err = _json(capsys, "diff", a, b, code=ExitCode.NOTHING_FOUND)
    assert err == "checkforensics: nothing found: no differences\n"
    assert not any(doc[s][k] for s in ("processes", "descriptors", "memory") for k in doc[s])


def test_diff_of_checkpoints_whose_metadata_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with checkpoints from different containers (pstree and core
    images; the second's config.dump has another annotation): it completes."""
    a = podman(tmp_path / "test1.tar", "pstree.img", "core-*.img")
    config = json.dumps({"annotations": {"io.container.manager": "different-runtime"}}).encode()
    b = archive(tmp_path / "test2.tar", {"config.dump": config, "spec.dump": SPEC_PODMAN},
                {n: d for n, d in piggie_images().items() if n == "pstree.img" or n.startswith("core-")})  # fmt: skip
    doc, _ = _json(capsys, "diff", str(a), str(b), code=ExitCode.NOTHING_FOUND)
    assert doc["processes"] == {"added": [], "removed": [], "changed": []}


# --- diff of two dumps with sockets added and removed between them (test-imgs-diff.sh) -------------


def _live_sockets(which: str) -> dict[tuple[int, int], dict]:
    """(pid in the images, fd) -> what /proc said of each TCP or UDP socket just before dump A (B)."""
    return {
        (p["dump_pid"], f["fd"]): {"comm": p["comm"], **f["socket"]}
        for p in DIFF_FACTS[which]["processes"]
        for f in p["fds"]
        if f["type"] == "socket"
    }


def _live_processes(which: str) -> dict[int, str]:
    return {p["dump_pid"]: p["comm"] for p in DIFF_FACTS[which]["processes"]}


def _ends(live: dict) -> tuple[str, str]:
    return tuple(f"{host}:{port}" for host, port in (live["local"], live["remote"]))


def test_diff_show_unchanged_processes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with --show-unchanged (process tree): the processes alike in
    both (=), new in B (+) and gone (-), as /proc listed them before each dump."""
    a, b = (str(path) for path in sk_diff_archives(tmp_path))
    before, after = _live_processes("a"), _live_processes("b")
    out, err = _cli(capsys, "diff", a, b, "--show-unchanged")
    assert err == ""
    kept, added, removed = before.keys() & after.keys(), after.keys() - before.keys(), before.keys() - after.keys()
    assert kept and added and removed
    assert f"Processes: +{len(added)} -{len(removed)} ={len(kept)}" in out
    lines = out.splitlines()
    for marks, pids, comms in (("=", kept, after), ("+", added, after), ("-", removed, before)):
        for pid in pids:
            assert any(f"{marks} [{pid}] {comms[pid]} piggie/piggie" in line for line in lines), (marks, pid)
    out, _ = _cli(capsys, "diff", a, b)  # without the option, only what changed
    assert "= [" not in out and f"Processes: +{len(added)} -{len(removed)}\n" in out


def test_diff_sockets_added_removed_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with --sockets flag (added, removed, unchanged): each socket
    with its transport, state and ends; the counts (checkpointctl: `Sockets: +3 -6`)."""
    a, b = (str(path) for path in sk_diff_archives(tmp_path))
    before, after = _live_sockets("a"), _live_sockets("b")
    out, _ = _cli(capsys, "diff", a, b, "--show-unchanged")
    lines = out.splitlines()
    kept, added, removed = before.keys() & after.keys(), after.keys() - before.keys(), before.keys() - after.keys()
    assert f"Sockets: +{len(added)} -{len(removed)} ={len(kept)}" in out
    for mark, keys, live in (("=", kept, after), ("+", added, after), ("-", removed, before)):
        for pid, fd in keys:
            facts = live[(pid, fd)]
            local, remote = _ends(facts)
            state = facts.get("state", "CONNECTED")  # UDP: connected, as ss's ESTAB (our word: CONNECTED)
            ends = local if facts.get("state") == "LISTEN" else f"{local} -> {remote}"
            expected = f"{mark} [{pid} fd {fd}] INET {facts['proto']} {state} {ends}"
            assert any(line.endswith(expected) for line in lines), expected
    # the suite's own lines: TCP and UDP clients gone and new, the listener and first connection kept
    assert any("+ [" in line and " TCP ESTABLISHED " in line and "127.0.0.1:5000" in line for line in lines)
    assert any("- [" in line and " UDP CONNECTED " in line and "127.0.0.1:5001" in line for line in lines)
    assert any("= [" in line and " TCP LISTEN 0.0.0.0:5000" in line for line in lines)


def test_diff_sockets_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with --sockets flag (json format): added, removed and
    unchanged sockets counted by transport and state, as /proc showed them."""
    a, b = (str(path) for path in sk_diff_archives(tmp_path))
    before, after = _live_sockets("a"), _live_sockets("b")
    doc, _ = _json(capsys, "diff", "--show-unchanged", a, b)
    sockets = doc["sockets"]
    expected = {
        "added": {k: after[k] for k in after.keys() - before.keys()},
        "removed": {k: before[k] for k in before.keys() - after.keys()},
        "unchanged": {k: after[k] for k in after.keys() & before.keys()},
    }
    assert sockets["changed"] == []
    for kind, live in expected.items():
        assert sorted((r["pid"], r["fd"]) for r in sockets[kind]) == sorted(live)
        for record in sockets[kind]:
            facts = live[(record["pid"], record["fd"])]
            assert (record["comm"], record["proto"]) == (facts["comm"], facts["proto"])
            assert (record["local"], record["remote"]) == _ends(facts)
        for proto in ("TCP", "UDP"):
            assert sum(r["proto"] == proto for r in sockets[kind]) == sum(f["proto"] == proto for f in live.values())
    listening = [r for r in sockets["unchanged"] if r["state"] == "LISTEN"]
    assert [r["local"] for r in listening] == ["0.0.0.0:5000"]
    established = sum(f.get("state") == "ESTABLISHED" for f in expected["unchanged"].values())
    assert sum(r["state"] == "ESTABLISHED" for r in sockets["unchanged"]) == established == 2
    assert "unchanged" not in _json(capsys, "diff", a, b)[0]["sockets"]  # asked for only


def test_diff_descriptors_and_sockets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bats: Run checkpointctl diff with --files and --sockets flags: descriptor changes and
    socket changes in one answer (here every diff shows both)."""
    a, b = (str(path) for path in sk_diff_archives(tmp_path))
    before, after = _live_sockets("a"), _live_sockets("b")
    out, _ = _cli(capsys, "diff", a, b)
    added, removed = len(after.keys() - before.keys()), len(before.keys() - after.keys())
    assert f"Sockets: +{added} -{removed}\n" in out
    # bats 82 (output contains expected sections): the container above, a summary below
    assert out.startswith("Container: -\nImage:     -\nID:        -\n\n")  # its config.dump is {}
    summary = out.splitlines()[-1]
    assert summary.startswith("Summary: processes +") and f", sockets +{added} -{removed}," in summary
    assert "Descriptors: +" in out and "fd cwd] DIR /tmp/cfw-scenarios/piggie-diff" in out
    rows, _ = _cli(capsys, "diff", a, b, "--format", "table")
    lines = rows.splitlines()  # the container above the table, the summary below it
    first = next(n for n, line in enumerate(lines) if line.startswith("SECTION")) + 2
    sections = {line.split()[0] for line in lines[first : lines.index("", first)]}
    assert {"Descriptors", "Sockets", "Processes"} <= sections


# --- checkpointctl's Go unit tests of metadata (lib/metadata_test.go) ---------------------------


def test_network_status_with_two_subnets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """TestReadContainerCheckpointNetworkStatus, "multiple subnets": IPv4 and IPv6 on one interface."""
    status = {"podman": {"interfaces": {"eth0": {
        "subnets": [{"ipnet": "10.88.0.5/16", "gateway": "10.88.0.1"}, {"ipnet": "fd00::5/64", "gateway": "fd00::1"}],
        "mac_address": "aa:bb:cc:dd:ee:ff"}}}}  # fmt: skip
    path = str(podman(tmp_path / "test.tar", extra={"network.status": json.dumps(status).encode()}))
    (doc,), _ = _json(capsys, "show", path)
    (interface,) = doc["container"]["interfaces"]
    assert interface["addresses"] == ["10.88.0.5/16", "fd00::5/64"]
    assert (interface["gateways"], interface["mac"]) == (["10.88.0.1", "fd00::1"], "aa:bb:cc:dd:ee:ff")
    assert doc["container"]["ip"] == "10.88.0.5"
