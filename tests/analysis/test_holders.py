"""Who holds what, against what /proc and ss said before the dump: each process's program
(``ps``'s EXE, and the bytes the checkpoint holds of it, ``model.contents``), each socket's own
inode and who holds its other end (``sockets``' PEER), and the reverse shell's relay."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checkforensics.images.codec import decode_image
from checkforensics.model import CheckpointModel
from checkforensics.model.descriptions import what

from conftest import FIXTURES, SCENARIOS, truth

PAGE = 4096
# the dumps whose truth files hold every socket with its ss/proc view (and the intrusion's relay)
PEER_SCENARIOS = ("sockets", "sharing", "weird", "ns", "intrusion")


def _scenario(name: str) -> Path:
    directory = SCENARIOS / name
    return directory if directory.is_dir() else SCENARIOS / f"{name}.tar.zst"


def _truth(name: str) -> dict[str, Any]:
    return json.loads((SCENARIOS / f"{name}.truth.json").read_text())


@cache
def _extracted_intrusion(tmp: str) -> Path:
    """The intrusion images unpacked by tar and zstd themselves (not by our archive layer)."""
    target = Path(tmp) / "intrusion"
    target.mkdir()
    packed = subprocess.run(["zstd", "-dc", str(SCENARIOS / "intrusion.tar.zst")], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=packed.stdout, check=True)
    return target


@pytest.fixture(scope="module")
def intrusion_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _extracted_intrusion(str(tmp_path_factory.mktemp("holders")))


# -- ps: each process's program --------------------------------------------------------------


def _proc_exe(exe: str | None) -> tuple[str | None, bool]:
    """What /proc/PID/exe read, as (path, deleted): ``/memfd:NAME (deleted)`` is a memfd."""
    if exe is None:
        return None, False
    if exe.startswith("/memfd:"):
        return exe[1:].removesuffix(" (deleted)"), False
    if exe.endswith(" (deleted)"):
        return exe.removesuffix(" (deleted)"), True
    return exe, False


@pytest.mark.parametrize("name", ["intrusion", "sharing", "sockets", "proc", "files", "states"])
def test_every_program_is_what_proc_pid_exe_read(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    assert run(["ps", str(_scenario(name)), "--format", "json"]) == 0
    ours = {p["pid"]: p for p in json.loads(capsys.readouterr().out)["processes"]}
    checked = 0
    for process in _truth(name)["processes"]:
        mine = ours[process["dump_pid"]]
        if process.get("exe") is None:  # a zombie: /proc gave none, nor does the checkpoint
            assert mine["exe"] is None, (name, process["pid"])
            continue
        assert (mine["exe"], mine["exe_deleted"]) == _proc_exe(process["exe"]), (name, process["pid"])
        checked += 1
    assert checked >= 2


def test_intrusion_memfd_and_deleted_programs_are_marked(capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    implants = _truth("intrusion")["implants"]
    assert run(["ps", str(SCENARIOS / "intrusion.tar.zst"), "--no-color"]) == 0
    rows = {int(line.split()[0]): line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "  memfd:cfw-payload  " in rows[implants["inj-fileless"]["pid"]]
    assert "  /tmp/cfw-scenarios/intrusion/kworker-upd (deleted)  " in rows[implants["inj-deleted"]["pid"]]


def _memfd_bytes(images: Path, shmid: int, size: int) -> bytes:
    """A memfd's content read as crit would: its pagemap's runs, their pages in the pages image
    one after the other, holes as zeros."""
    pagemap = decode_image((images / f"pagemap-shmem-{shmid}.img").read_bytes(), "pagemap").entries
    pages = (images / f"pages-{pagemap[0].message.pages_id}.img").read_bytes()
    content, offset = bytearray(size), 0
    for entry in pagemap[1:]:
        run = entry.message
        count = run.nr_pages if run.HasField("nr_pages") else run.compat_nr_pages
        chunk = pages[offset : offset + count * PAGE]
        offset += count * PAGE
        end = min(size, run.vaddr + len(chunk))
        if run.vaddr < size:
            content[run.vaddr : end] = chunk[: end - run.vaddr]
    return bytes(content)


def test_ps_hash_is_the_sha256_of_the_images_own_bytes(
    intrusion_images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from checkforensics.cli import run

    implants = _truth("intrusion")["implants"]
    memfd = decode_image((intrusion_images / "memfd.img").read_bytes(), "memfd.img").entries[0].message
    assert memfd.name == "cfw-payload"
    ghost_image = decode_image((intrusion_images / "ghost-file-1.img").read_bytes(), "ghost-file-1.img").entries
    assert ghost_image[0].message.chunks  # dumped in chunks (holes left out): laid out here by offset
    deleted = bytearray(ghost_image[0].message.size)
    for chunk in ghost_image[1:]:
        deleted[chunk.message.off : chunk.message.off + chunk.message.len] = chunk.extra
    expected = {
        implants["inj-fileless"]["pid"]: (
            hashlib.sha256(_memfd_bytes(intrusion_images, memfd.shmid, memfd.size)).hexdigest(),
            f"pagemap-shmem-{memfd.shmid}.img",
        ),
        implants["inj-deleted"]["pid"]: (hashlib.sha256(deleted).hexdigest(), "ghost-file-1.img"),
    }
    assert run(["ps", str(SCENARIOS / "intrusion.tar.zst"), "--hash", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    found = {p["pid"]: (p["exe_sha256"], p["exe_in"]) for p in doc["processes"] if p["exe_sha256"]}
    assert found == expected
    assert len(deleted) == memfd.size == 17472
    assert run(["ps", str(SCENARIOS / "intrusion.tar.zst"), "--no-color", "--hash"]) == 0
    text = capsys.readouterr().out
    assert all(sha in text for sha, _ in expected.values())


def test_plain_ps_reads_no_program(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run
    from checkforensics.model import contents

    def refuse(self: Any) -> bytes:
        raise AssertionError("a program's bytes were read without --hash")

    monkeypatch.setattr(contents.Contents, "read", refuse)
    assert run(["ps", str(SCENARIOS / "intrusion.tar.zst"), "--format", "json"]) == 0
    assert all("exe_sha256" not in p for p in json.loads(capsys.readouterr().out)["processes"])


def test_contents_of_inflight_deleted_file_and_memfd() -> None:
    expected = truth("inflight")["inflight"]
    with CheckpointModel.open(FIXTURES / "inflight.tar.zst") as model:
        fds = {d.fd: d for d in model.files().processes[0].descriptors}
        ghost, memfd = model.contents(fds[10]), model.contents(fds[11])
        assert model.contents(fds[0]) is None  # /dev/null: not in the checkpoint
        assert ghost is not None and ghost.kind == "ghost-file"
        assert ghost.read() == expected["deleted_file"].encode()
        assert ghost.sha256 == hashlib.sha256(expected["deleted_file"].encode()).hexdigest()
        assert memfd is not None and memfd.kind == "memfd" and memfd.complete
        assert memfd.read().startswith(expected["memfd"].encode())


def test_recover_writes_what_contents_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    assert run(["recover", str(SCENARIOS / "sharing"), "-o", str(tmp_path / "out"), "--format", "json"]) == 0
    items = {item["kind"]: item for item in json.loads(capsys.readouterr().out)["items"]}
    with CheckpointModel.open(SCENARIOS / "sharing") as model:
        root = {d.fd: d for d in model.files().processes[0].descriptors}
        held = _truth("sharing")["inflight"]["held_by"]["31417"]
        for kind, fd in (("deleted-file", held["ghost"][0]), ("memfd", held["memfd"][0])):
            found = model.contents(root[fd])
            assert found is not None
            assert items[kind]["sha256"] == found.sha256
            assert (tmp_path / "out" / items[kind]["file"]).read_bytes() == found.read()


def test_contents_of_a_file_the_container_wrote() -> None:
    written = truth("containerd-busybox")["live"]["written"]
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model:
        for path, facts in written.items():
            found = model.contents(path)
            assert found is not None and found.kind == "layer", path
            assert (found.size, found.sha256) == (facts["size"], facts["sha256"])
            assert found.read().decode() == facts["content"]
            assert found.where == f"rootfs-diff.tar:{path}"
        assert model.contents("/etc/cfw-motd") is None  # deleted (a whiteout), not held
        assert model.contents("/etc/../tmp/./cfw-drop.sh").sha256 == written["/tmp/cfw-drop.sh"]["sha256"]


# -- sockets: own inode and the other end's holders --------------------------------------------


def _inode(target: str) -> int | None:
    return int(target[len("socket:[") : -1]) if target.startswith("socket:[") else None


def _endpoint(pair: list[Any]) -> tuple[str, int]:
    address = ipaddress.ip_address(pair[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address), pair[1]


def _expected_peers(name: str) -> dict[tuple[int, int], set[tuple[int, int]]]:
    """Each socket's other end as /proc and ss saw it: a UNIX socket's ``peer_ino`` (ss), a
    TCP/UDP socket's by its swapped addresses (/proc/net), or for a connected UDP socket the
    socket bound to its destination; the (pid, fd) holding that inode."""
    sockets = [
        (p["dump_pid"], fd["fd"], _inode(fd["target"]), fd["socket"])
        for p in _truth(name)["processes"] for fd in p.get("fds", [])
        if fd["type"] == "socket" and "socket" in fd and "from" not in fd["socket"]
    ]  # fmt: skip
    holders: dict[int, set[tuple[int, int]]] = {}
    for pid, fd, ino, _ in sockets:
        holders.setdefault(ino, set()).add((pid, fd))
    by_ends, bound = {}, {}
    for _, _, ino, s in sockets:
        if s.get("family") in ("INET", "INET6") and s.get("proto") in ("TCP", "UDP"):
            local, remote = _endpoint(s["local"]), _endpoint(s["remote"])
            if remote[1] and s.get("state") != "LISTEN":
                by_ends[(s["proto"], local, remote)] = ino
            elif s["proto"] == "UDP":
                bound[local] = ino
    expected = {}
    for pid, fd, ino, s in sockets:
        if s.get("family") == "UNIX" and s.get("peer_ino"):
            expected[(pid, fd)] = holders.get(s["peer_ino"], set())
        elif s.get("family") in ("INET", "INET6") and s.get("proto") in ("TCP", "UDP") and s["remote"][1]:
            if s.get("state") == "LISTEN":
                continue
            local, remote = _endpoint(s["local"]), _endpoint(s["remote"])
            other = by_ends.get((s["proto"], remote, local))
            if other is None and s["proto"] == "UDP":
                other = bound.get(remote)
            expected[(pid, fd)] = holders.get(other, set()) if other != ino else set()
    return expected


@pytest.mark.parametrize("name", PEER_SCENARIOS)
def test_every_socket_peer_is_what_ss_saw(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    assert run(["sockets", str(_scenario(name)), "--format", "jsonl"]) == 0
    ours = {(line["pid"], line["fd"]): line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    expected = _expected_peers(name)
    for p in _truth(name)["processes"]:
        for fd in p.get("fds", []):
            if fd["type"] == "socket" and fd["socket"].get("family") != "PACKET":  # CRIU keeps no packet inode
                assert ours[(p["dump_pid"], fd["fd"])]["ino"] == _inode(fd["target"]), (name, p["pid"], fd["fd"])
    for key, holders in expected.items():
        found = {(h["pid"], h["fd"]) for h in ours[key].get("peer_holders") or []}
        assert found == holders, (name, key)
    with_peer = {key for key, line in ours.items() if line.get("peer_holders")}
    assert with_peer <= set(expected), name  # no other socket was given a peer


def test_sockets_fixture_peers_cover_every_kind() -> None:
    expected = _expected_peers("sockets")
    in_checkpoint = [key for key, holders in expected.items() if holders]
    # 7 UNIX pairs, the connected datagram socket's server end has no peer; TCP v4 and v6 both ways; UDP's senders
    assert len(in_checkpoint) == 6 + 7 + 4 + 2
    assert expected[(17452, 26)] == set()  # connected to a socket outside the tree (--ext-unix-sk)


def test_a_peer_held_by_several_descriptors_lists_them_all(capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    held = _truth("sharing")["inflight"]["held_by"]
    assert run(["sockets", str(SCENARIOS / "sharing"), "--no-color"]) == 0
    rows = {(int(line.split()[0]), int(line.split()[2])): line for line in capsys.readouterr().out.splitlines()[1:]}
    # the root's TCP fd 13 connects to the accepted end, which the root and sh-child1 hold by fd 14
    assert [held["31417"]["tcp"][1]] == held["31418"]["tcp"] == [14]
    assert "  31417:14 (sh-root), 31418:14 (sh-child1)  " in rows[(31417, 13)]
    assert "  31417:11 (sh-root), 31418:11 (sh-child1)  " in rows[(31417, 10)]


def test_files_names_unix_ends_by_inode_and_holder() -> None:
    with CheckpointModel.open(SCENARIOS / "sockets") as model:
        client = {d.fd: d for d in model.files().processes[1].descriptors}
    assert what(client[16]) == "UNIX STREAM CONNECTED ino 205376 -> ino 205375 (peer 17452:15 (sk-root))"
    assert "peer ino" not in what(client[16])


# -- files: a pidfd's target no longer overwrites its holder ---------------------------------


def test_pidfd_target_does_not_hide_its_holder(capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    pidfds = {
        (p["dump_pid"], fd["fd"]): int(next(m for m in fd["fdinfo"]["more"] if m.startswith("Pid:")).split()[1])
        for p in _truth("proc")["processes"] for fd in p.get("fds", []) if fd["type"] == "pidfd"
    }  # fmt: skip
    assert len(pidfds) == 2
    assert run(["files", str(SCENARIOS / "proc"), "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    found = {(line["pid"], line["fd"]): line["target_pid"] for line in lines if line["type"] == "PIDFD"}
    assert found == pidfds


# -- triage: the reverse shell's other end -----------------------------------------------------


def test_reverse_shell_names_the_relay_and_the_peer(capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    facts = _truth("intrusion")
    relay = next(p for p in facts["processes"] if p["comm"] == "inj-relay")
    shell = next(p for p in facts["processes"] if p["ppid"] == relay["pid"])
    shell_pipes = {fd["target"] for fd in shell["fds"] if fd["fd"] in (0, 1, 2)}
    relay_socket = next(fd for fd in relay["fds"] if fd["type"] == "socket")
    every_local = {tuple(fd["socket"]["local"]) for p in facts["processes"] for fd in p["fds"] if "socket" in fd}
    host, port = facts["relay_peer"].rsplit(":", 1)
    assert (host, int(port)) not in every_local  # the listening end was not in the dumped tree
    assert run(["triage", str(SCENARIOS / "intrusion.tar.zst"), "--no-secrets", "--format", "json"]) == 0
    findings = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "reverse-shell"]
    relayed = next(f for f in findings if f["pid"] == shell["dump_pid"])
    assert relayed["evidence"]["relay_pid"] == relay["dump_pid"]
    assert relayed["evidence"]["relay_comm"] == "inj-relay"
    assert relayed["evidence"]["relay_fds"] == sorted(fd["fd"] for fd in relay["fds"] if fd["target"] in shell_pipes)
    assert relayed["evidence"]["connection_fd"] == relay_socket["fd"]
    assert relayed["evidence"]["remote"] == facts["relay_peer"]
    assert relayed["evidence"]["peer"] == "outside the checkpoint"
    assert f"pipes to process {relay['dump_pid']} (inj-relay, fd 5, 6)" in relayed["title"]
    direct = next(f for f in findings if f["pid"] != shell["dump_pid"])
    assert direct["evidence"]["remote"] == facts["reverse_shell_peer"]
    assert direct["evidence"]["peer"] == "outside the checkpoint"
    assert direct["evidence"]["relay_pid"] is None


# -- hostile images ------------------------------------------------------------------------------


def test_a_ghost_claiming_a_huge_size_is_refused_not_allocated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from checkforensics.cli import run
    from checkforensics.errors import CheckforensicsError
    from checkforensics.images.codec import encode_image

    images = tmp_path / "files"
    shutil.copytree(SCENARIOS / "files", images)
    ghost = decode_image((images / "ghost-file-2.img").read_bytes(), "ghost-file-2.img")
    assert ghost.entries[0].message.chunks  # the sparse one, laid out from its chunks
    ghost.entries[0].message.size = 1 << 60
    (images / "ghost-file-2.img").write_bytes(encode_image(ghost))
    with CheckpointModel.open(images) as model:
        held = [
            (p.pid, d) for p in model.files().processes for d in p.descriptors
            if d.details.get("remap") == "ghost" and d.details.get("remap_id") == 2
        ]  # fmt: skip
        assert held
        found = model.contents(held[0][1])
        assert found is not None and found.where == "ghost-file-2.img"
        with pytest.raises(CheckforensicsError, match="not laid out"):
            found.read()
    assert run(["recover", str(images), "-o", str(tmp_path / "out"), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "ghost-file-2.img" in captured.err and "not laid out" in captured.err
    kinds = [item["kind"] for item in json.loads(captured.out)["items"]]
    assert kinds.count("deleted-file") == 2  # the other two ghosts still recovered


def test_tree_names_programs_run_from_no_file(capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    implants = _truth("intrusion")["implants"]
    assert run(["ps", str(SCENARIOS / "intrusion.tar.zst"), "--tree", "--no-color"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = {int(line.split()[1]): line for line in lines[1:] if "(exe " in line}
    assert set(marked) == {implants["inj-fileless"]["pid"], implants["inj-deleted"]["pid"]}
    assert marked[implants["inj-fileless"]["pid"]].endswith("(exe memfd:cfw-payload)")
    assert marked[implants["inj-deleted"]["pid"]].endswith("(exe /tmp/cfw-scenarios/intrusion/kworker-upd (deleted))")


def test_inflight_sockets_name_their_other_end(capsys: pytest.CaptureFixture[str]) -> None:
    from checkforensics.cli import run

    (process,) = truth("inflight")["processes"]
    fds = process["fds"]
    by_ino = {fd["ino"]: fd["fd"] for fd in fds if fd["type"] == "UNIXSK"}
    expected = {fd["fd"]: {by_ino[fd["peer"]]} for fd in fds if fd["type"] == "UNIXSK" and fd.get("peer")}
    inet = [fd for fd in fds if fd["type"] == "INETSK"]
    tcp = {(tuple(fd["src"]), fd["sport"], tuple(fd["dst"]), fd["dport"]): fd["fd"] for fd in inet}
    for (src, sport, dst, dport), fd in tcp.items():
        if dport:
            expected[fd] = {tcp[(dst, dport, src, sport)]}
    assert expected == {5: {6}, 6: {5}, 8: {9}, 9: {8}}
    assert run(["sockets", str(FIXTURES / "inflight.tar.zst"), "--format", "json"]) == 0
    (ours,) = json.loads(capsys.readouterr().out)["processes"]
    found = {d["fd"]: {h["fd"] for h in d["peer_holders"]} for d in ours["fds"] if d.get("peer_holders")}
    assert found == expected
    holders = [h for d in ours["fds"] for h in d.get("peer_holders") or []]
    assert holders and all((h["pid"], h["comm"]) == (process["pid"], process["comm"]) for h in holders)
    listening = next(d for d in ours["fds"] if d["fd"] == 7)
    assert listening["state"] == "LISTEN" and "peer_holders" not in listening
