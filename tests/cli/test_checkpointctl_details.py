"""Details checkpointctl shows that we must show too (issue 15, item 6): process state in trees,
socket buffer sizes, the transport in socket diffs, network interfaces with prefix and gateway,
AMD GPU pages counted apart from process memory. Each on a real dump, checked against what
/proc said before the dump, what CRIU's own crit decoded, or what tar lists."""

from __future__ import annotations

import io
import json
import signal
import tarfile
from pathlib import Path

import pytest

from checkforensics.cli import run

from conftest import FIXTURES, truth

PROC = FIXTURES / "scenarios" / "proc"
SOCKETS = FIXTURES / "scenarios" / "sockets"
SHARING = FIXTURES / "scenarios" / "sharing"
COUNTERS = FIXTURES / "counters-blog.tar"
GOLDEN = FIXTURES / "golden"

# /proc/PID/stat's state letter before the dump -> CRIU's task state
STATES = {"S": "Alive", "R": "Alive", "T": "Stopped", "Z": "Zombie"}


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert run([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert run([*argv, "--no-color"]) == 0
    return capsys.readouterr().out


# --- process state ------------------------------------------------------------------------------


def test_process_state_in_json_is_what_proc_said(capsys: pytest.CaptureFixture[str]) -> None:
    expected = {p["pid"]: p for p in truth("scenarios/proc")["processes"]}
    records = {p["pid"]: p for p in _json(capsys, "ps", str(PROC))["processes"]}
    assert records.keys() == expected.keys()
    for pid, record in records.items():
        assert record["state"] == STATES[expected[pid]["state"]], pid
    stopped = next(p for p in expected.values() if p["state"] == "T")
    zombie = next(p for p in expected.values() if p["state"] == "Z")
    # proc.py stops proc-stopped with SIGSTOP; its zombie child ends with os._exit(3)
    assert records[stopped["pid"]]["stop_signal"] == "SIGSTOP"
    assert (records[zombie["pid"]]["exit_status"], records[zombie["pid"]]["exit_signal"]) == (3, None)
    alive = [r for pid, r in records.items() if pid not in (stopped["pid"], zombie["pid"])]
    assert all(r["stop_signal"] is None and r["exit_status"] is None for r in alive)


def test_how_each_stopped_process_and_zombie_ended_is_what_the_kernel_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """states.py: a process stopped by SIGTSTP (not SIGSTOP), zombies that exited with 7 or were
    killed by SIGTERM and SIGKILL; the truth is the signal sent and /proc/PID/stat's exit_code."""
    facts = truth("scenarios/states")
    records = {p["pid"]: p for p in _json(capsys, "ps", str(FIXTURES / "scenarios" / "states.tar.zst"))["processes"]}
    assert {pid: r["state"] for pid, r in records.items()} == {p["pid"]: STATES[p["state"]] for p in facts["processes"]}
    assert {str(pid): r["stop_signal"] for pid, r in records.items() if r["stop_signal"]} == facts["stopped_by"]
    ended = {}
    for pid, status in facts["zombie_exit_code"].items():  # a wait status, as waitpid(2) gives it
        ended[pid] = (None, signal.Signals(status & 0x7F).name) if status & 0x7F else (status >> 8, None)
    zombies = {str(pid): r for pid, r in records.items() if r["state"] == "Zombie"}
    assert {pid: (r["exit_status"], r["exit_signal"]) for pid, r in zombies.items()} == ended
    assert sorted(ended.values(), key=str) == sorted([(7, None), (None, "SIGTERM"), (None, "SIGKILL")], key=str)
    tree = _text(capsys, "ps", str(FIXTURES / "scenarios" / "states.tar.zst"), "--tree")
    for note in ("(stopped by SIGTSTP)", "(zombie, exit status 7)", "(zombie, killed by SIGTERM)",
                 "(zombie, killed by SIGKILL)"):  # fmt: skip
        assert tree.count(note) == 1


def test_ps_tree_and_inspect_tree_say_which_process_is_stopped_or_a_zombie(
    capsys: pytest.CaptureFixture[str],
) -> None:
    facts = truth("scenarios/proc")["processes"]
    stopped = next(p for p in facts if p["state"] == "T")
    zombie = next(p for p in facts if p["state"] == "Z")
    tree = _text(capsys, "ps", str(PROC), "--tree").splitlines()
    assert any(f"{stopped['pid']} {stopped['comm']} (stopped by SIGSTOP)  " in line for line in tree)
    assert any(f"{zombie['pid']} {zombie['comm']} (zombie, exit status 3)  [{zombie['comm']}]" in line for line in tree)
    assert sum("(" in line and ("stopped" in line or "zombie" in line) for line in tree) == 2
    inspected = _text(capsys, "inspect", str(PROC), "--ps-tree").splitlines()
    assert any(line.endswith(f"[{stopped['pid']}]  {stopped['comm']}  (stopped by SIGSTOP)") for line in inspected)
    assert any(line.endswith(f"[{zombie['pid']}]  {zombie['comm']}  (zombie, exit status 3)") for line in inspected)


def test_state_columns_in_tables(capsys: pytest.CaptureFixture[str]) -> None:
    facts = {p["pid"]: STATES[p["state"]] for p in truth("scenarios/proc")["processes"]}
    table = _text(capsys, "inspect", str(PROC), "--ps-tree", "--format", "table").splitlines()
    assert table[1].split() == ["PID", "PPID", "STATE", "COMM"]
    assert {int(line.split()[0]): line.split()[2] for line in table[3:] if line.strip()} == facts
    rows = _text(capsys, "ps", str(PROC)).splitlines()
    assert "STATE" in rows[0].split()
    assert {int(row.split()[0]) for row in rows[1:] if facts[int(row.split()[0])] in row.split()} == facts.keys()


# --- socket buffer sizes ------------------------------------------------------------------------


def _crit_buffers(name: str) -> dict[int, tuple[int, int]]:
    """File id -> (so_sndbuf, so_rcvbuf) as CRIU 4.2.1's crit decoded files.img."""
    entries = json.loads((GOLDEN / name / "decode" / "files.img.json").read_text())["entries"]
    found = {}
    for entry in entries:
        for kind in ("isk", "usk", "psk", "nlsk"):
            if kind in entry and "opts" in entry[kind]:
                opts = entry[kind]["opts"]
                found[entry["id"]] = (opts["so_sndbuf"], opts["so_rcvbuf"])
    return found


@pytest.mark.parametrize(("golden", "path"), [("scenario-sockets", SOCKETS), ("counters-blog", COUNTERS),
                                              ("inflight", FIXTURES / "inflight.tar.zst")])  # fmt: skip
def test_socket_buffers_are_what_crit_decoded(golden: str, path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = _crit_buffers(golden)
    sockets = [s for p in _json(capsys, "sockets", str(path))["processes"] for s in p["fds"]]
    assert sockets
    for socket in sockets:
        send, receive = expected[socket["id"]]
        assert (socket["send_buffer"], socket["recv_buffer"]) == (send, receive), socket
    # not one default: listening and connected TCP sockets differ, so the fields are not mixed up
    assert len({(s["send_buffer"], s["recv_buffer"]) for s in sockets}) >= (3 if golden == "scenario-sockets" else 1)


def test_socket_buffers_in_the_sockets_table_and_inspect_tree(capsys: pytest.CaptureFixture[str]) -> None:
    (crit,) = _crit_buffers("counters-blog").values()  # the one listening TCP socket
    table = _text(capsys, "sockets", str(COUNTERS)).splitlines()
    header, row = table[0].split(), table[1].split()
    assert header[-2:] == ["RCVBUF", "SNDBUF"]
    assert " ".join(row[-4:]) == f"{crit[1] / 1024:.1f} KiB {crit[0] / 1024:.1f} KiB"
    tree = _text(capsys, "inspect", str(COUNTERS), "--sockets")
    assert f"(buffers: send {crit[0] / 1024:.1f} KiB, receive {crit[1] / 1024:.1f} KiB)" in tree


def test_the_far_end_of_an_external_unix_socket_has_no_buffer_size(capsys: pytest.CaptureFixture[str]) -> None:
    # CRIU writes zeros for a socket it does not hold (crit: so_sndbuf 0): not a size of 0
    zeros = [fid for fid, sizes in _crit_buffers("scenario-sockets").items() if sizes == (0, 0)]
    assert zeros
    sockets = [s for p in _json(capsys, "sockets", str(SOCKETS))["processes"] for s in p["fds"]]
    assert all("send_buffer" not in s for s in sockets if s["id"] in zeros)


# --- the transport in socket diffs --------------------------------------------------------------


def test_socket_diff_names_tcp_and_udp(capsys: pytest.CaptureFixture[str]) -> None:
    inet = [
        (p["pid"], f["fd"], f["socket"])
        for p in truth("scenarios/sockets")["processes"]
        for f in p["fds"]
        if f.get("socket", {}).get("proto") in ("TCP", "UDP") and "local" in f["socket"]  # /proc/net/{tcp,udp}{,6}
    ]
    kinds = {(s["family"], s["proto"]) for _, _, s in inet}
    assert kinds == {(family, proto) for family in ("INET", "INET6") for proto in ("TCP", "UDP")}
    removed = _json(capsys, "diff", str(SOCKETS), str(SHARING))["sockets"]["removed"]
    by_fd = {(r["pid"], r["fd"]): r for r in removed}
    for pid, fd, socket in inet:
        assert (by_fd[pid, fd]["proto"], by_fd[pid, fd]["family"]) == (socket["proto"], socket["family"])
    text = _text(capsys, "diff", str(SOCKETS), str(SHARING))
    for pid, fd, socket in inet:
        host, port = socket["local"]
        local = f"[{host}]:{port}" if socket["family"] == "INET6" else f"{host}:{port}"
        assert f"- [{pid} fd {fd}] {socket['family']} {socket['proto']} " in text
        assert local in text


# --- network interfaces in text ------------------------------------------------------------------


def _podman_interfaces(status: dict) -> list[tuple[str, str, str, str, str]]:
    return [
        (network, name, subnet["ipnet"], subnet["gateway"], iface["mac_address"])
        for network, value in sorted(status.items())
        for name, iface in sorted(value["interfaces"].items())
        for subnet in iface["subnets"]
    ]


def _with_member(tmp_path: Path, name: str, members: dict[str, bytes], source: Path = COUNTERS) -> Path:
    """A copy of a real archive with members added or replaced (tar keeps the last of a name)."""
    copy = tmp_path / name
    copy.write_bytes(source.read_bytes())
    with tarfile.open(copy, "a") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return copy


def test_show_and_inspect_print_each_interface_with_prefix_and_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    ((network, name, ipnet, gateway, mac),) = _podman_interfaces(truth("counters-blog")["network"])
    show = _text(capsys, "show", str(COUNTERS)).splitlines()
    at = show.index("Network interfaces")
    assert show[at + 1].split() == ["NETWORK", "INTERFACE", "ADDRESS", "GATEWAY", "MAC"]
    assert show[at + 2].split() == [network, name, ipnet, gateway, mac]
    tree = _text(capsys, "inspect", str(COUNTERS), "--metadata").splitlines()
    at = next(i for i, line in enumerate(tree) if line.endswith("Network interfaces"))
    assert [line.split("── ", 1)[1] for line in tree[at + 1 : at + 5]] == [
        f"{network} ({name})", f"IP: {ipnet}", f"Gateway: {gateway}", f"MAC: {mac}"
    ]
    table = _text(capsys, "inspect", str(COUNTERS), "--metadata", "--format", "table")
    assert "counters-blog.tar (tar): Network interfaces" in table


def test_several_networks_each_with_its_gateway(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the form Podman writes for a container on two networks (checkpointctl's multi-network case)
    status = {
        "net1": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.89.0.2/24", "gateway": "10.89.0.1"}],
                                         "mac_address": "32:ba:b8:45:bc:84"}}},
        "net2": {"interfaces": {"eth1": {"subnets": [{"ipnet": "10.89.1.2/24", "gateway": "10.89.1.1"}],
                                         "mac_address": "5e:b7:fe:ee:e0:d8"}}},
    }  # fmt: skip
    archive = _with_member(tmp_path, "two-networks.tar", {"network.status": json.dumps(status).encode()})
    show = _text(capsys, "show", str(archive)).splitlines()
    at = show.index("Network interfaces")
    assert [tuple(line.split()) for line in show[at + 2 : at + 4]] == _podman_interfaces(status)
    doc = _json(capsys, "inspect", str(archive))[0]["metadata"]["container"]
    assert [(i["network"], i["name"], i["addresses"], i["gateways"]) for i in doc["interfaces"]] == [
        (n, i, [a], [g]) for n, i, a, g, _ in _podman_interfaces(status)
    ]
    several = _text(capsys, "show", str(archive), str(COUNTERS)).splitlines()
    at = several.index("Network interfaces")
    assert several[at + 1].split()[:2] == ["FILE", "NETWORK"]
    assert [line.split()[0] for line in several[at + 2 : at + 5]] == [str(archive)] * 2 + [str(COUNTERS)]


def test_no_network_status_no_interfaces_table(capsys: pytest.CaptureFixture[str]) -> None:
    # containerd's checkpoint ran on the host network: no network.status in the archive
    assert not any(str(m).startswith("network.status") for m in truth("containerd-busybox")["members"])
    assert "Network interfaces" not in _text(capsys, "show", str(FIXTURES / "containerd-busybox.tar"))


# --- AMD GPU pages --------------------------------------------------------------------------------


def _pages_sizes(archive: Path) -> tuple[int, int]:
    """What tar lists: the process pages images, and the amdgpu plugin's."""
    with tarfile.open(archive) as tar:
        names = {m.name.removeprefix("./"): m.size for m in tar.getmembers() if m.isfile()}
    base = {name.rsplit("/", 1)[-1]: size for name, size in names.items()}
    process = sum(s for n, s in base.items() if n.startswith("pages-") and n.endswith(".img"))
    gpu = sum(s for n, s in base.items() if n.startswith("amdgpu-pages-"))
    return process, gpu


@pytest.mark.parametrize("compressed", [False, True])
def test_amdgpu_pages_are_counted_apart(tmp_path: Path, compressed: bool, capsys: pytest.CaptureFixture[str]) -> None:
    # the plugin's name (amdgpu-pages-<id>-<gpu id>.img) and checkpointctl's test's (amdgpu-pages-1):
    # the second ends like a process's pages-1.img and must not be taken for one
    gpu = {
        "checkpoint/amdgpu-pages-1-3984.img": bytes(range(256)) * 48,
        "checkpoint/amdgpu-pages-1.img": b"\x5a" * 4096,
    }
    archive = _with_member(tmp_path, "gpu.tar", gpu)
    process_pages, gpu_pages = _pages_sizes(archive)
    assert gpu_pages == 12288 + 4096 and process_pages == _pages_sizes(COUNTERS)[0]
    if compressed:
        import gzip

        packed = tmp_path / "gpu.tar.gz"
        packed.write_bytes(gzip.compress(archive.read_bytes()))
        archive = packed
    (record,) = _json(capsys, "show", str(archive), "--no-hash")
    assert record["memory_size"] == process_pages
    assert record["amdgpu_pages_size"] == gpu_pages
    assert sorted(m["member"] for m in record["amdgpu_pages"]) == sorted(gpu)
    show = _text(capsys, "show", str(archive)).splitlines()
    assert show[0].split()[-3:] == ["AMD", "GPU", "PAGES"] and show[1].endswith("16.0 KiB")
    inspected = _text(capsys, "inspect", str(archive))
    assert "AMD GPU memory pages size: 16.0 KiB" in inspected
    assert "Memory pages size: 9.0 MiB" in inspected


def test_no_gpu_no_gpu_column(capsys: pytest.CaptureFixture[str]) -> None:
    (record,) = _json(capsys, "show", str(COUNTERS), "--no-hash")
    assert record["amdgpu_pages_size"] is None and record["amdgpu_pages"] == []
    assert "GPU" not in _text(capsys, "show", str(COUNTERS)) + _text(capsys, "inspect", str(COUNTERS))
