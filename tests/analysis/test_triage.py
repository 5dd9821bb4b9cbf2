"""Triage rules on the real fixtures, and on synthetic cases real dumps rarely show."""

from __future__ import annotations

import json

import pytest

from checkforensics.analysis.rootfs import ChangedFile, Layer, RootfsChanges
from checkforensics.analysis.triage import FINDING, Context, Severity, load_context, triage
from checkforensics.cli import run
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.files import Descriptor, FileTable, ProcessFiles

from conftest import FIXTURES


def _rules(path) -> dict[str, list]:
    with CheckpointModel.open(path) as checkpoint:
        findings = triage(load_context(checkpoint))
    grouped: dict[str, list] = {}
    for finding in findings:
        grouped.setdefault(finding.rule, []).append(finding)
    return grouped


def test_inflight_fixture() -> None:
    rules = _rules(FIXTURES / "inflight.tar.zst")
    (deleted,) = rules["deleted-file-open"]
    assert deleted.severity == Severity.HIGH and deleted.evidence["path"] == "/var/tmp/dropper.sh"
    assert rules["memfd-open"][0].evidence["name"] == "memfd:payload"
    assert rules["listening-socket"][0].evidence["local"] == "127.0.0.1:7070"
    assert rules["unread-network-data"][0].evidence["recv_queue"] == 27


def test_counters_fixture_credentials_are_redacted() -> None:
    rules = _rules(FIXTURES / "counters-blog.tar")
    names = {(f.pid, f.evidence["variable"]) for f in rules["env-credential"]}
    assert names == {(pid, var) for pid in (1, 7, 8) for var in ("AWS_SECRET_ACCESS_KEY", "DB_PASSWORD")}
    assert all("hunter2" not in json.dumps(f.evidence) for f in rules["env-credential"])
    assert rules["sensitive-file-deleted"][0].evidence == {"path": "/etc/motd"}


def _context(exe: str, descriptors: list[Descriptor], changed: list[ChangedFile] | None = None) -> Context:
    process = Process(pid=42, ppid=1, pgid=42, sid=42, tids=[42], comm="sh")
    process.identity = {"cap_eff": f"{(1 << 21) | 1:016x}", "seccomp": "disabled"}
    exe_descriptor = Descriptor("exe", "REG", 1, path=exe, deleted=exe.endswith("(deleted)"))
    table = FileTable([ProcessFiles(42, "sh", [*descriptors, exe_descriptor])])
    layer = Layer("rootfs", "rootfs-diff.tar", changed or [])
    return Context(ProcessTree([process]), table, RootfsChanges([layer], ["/var/log/auth.log"]))


def test_reverse_shell_and_dropped_files() -> None:
    socket = Descriptor(
        3,
        "INETSK",
        5,
        family="INET",
        proto="TCP",
        state="ESTABLISHED",
        local="10.88.0.2:40000",
        remote="203.0.113.9:4444",
    )
    changed = [
        ChangedFile("/etc/ld.so.preload", "file", 20, 0o644, 0, 0, "2026-01-01T00:00:00Z"),
        ChangedFile("/tmp/.x/miner", "file", 9000, 0o755, 0, 0, "2026-01-01T00:00:00Z"),
    ]
    findings = triage(_context("/tmp/.x/sh", [socket], changed))
    by_rule = {f.rule: f for f in findings}
    assert by_rule["shell-network"].severity == Severity.CRITICAL
    assert by_rule["shell-network"].evidence["remote"] == "203.0.113.9:4444"
    assert by_rule["exe-writable-path"].evidence["exe"] == "/tmp/.x/sh"
    preload = by_rule["sensitive-file-changed"]  # issue 16: high, as LD_PRELOAD is
    assert preload.severity == Severity.HIGH and preload.techniques == ("T1574.006",)
    assert by_rule["executable-dropped"].evidence["path"] == "/tmp/.x/miner"
    assert by_rule["sensitive-file-deleted"].evidence["path"] == "/var/log/auth.log"
    assert {"cap-sys-admin", "no-seccomp"} <= set(by_rule)
    assert findings[0].severity == Severity.CRITICAL  # most severe first


def test_fileless_process() -> None:
    findings = triage(_context("memfd:payload (deleted)", []))
    assert {"exe-memfd", "exe-deleted"} <= {f.rule for f in findings}


def test_loopback_connections_are_not_outbound() -> None:
    socket = Descriptor(
        3, "INETSK", 5, family="INET", proto="TCP", state="ESTABLISHED", local="127.0.0.1:1", remote="127.0.0.1:2"
    )
    rules = {f.rule for f in triage(_context("/usr/bin/python3", [socket]))}
    assert "shell-network" not in rules and "outbound-connection" not in rules


def test_triage_command_json_and_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["triage", str(FIXTURES / "inflight.tar.zst"), "--min-severity", "medium", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {f["rule"] for f in doc["findings"]} == {"deleted-file-open", "memfd-open"}
    assert all(f["severity"] in ("medium", "high", "critical") for f in doc["findings"])


def test_secret_findings_from_memory_are_redacted() -> None:
    rules = _rules(FIXTURES / "counters-blog.tar")
    in_file = [f for f in rules["secret:github-pat"] if f.title == "secret in a file"]
    assert [(f.pid, f.evidence["path"]) for f in in_file] == [(None, "/home/counter/logfile")]  # logged by counter.py
    token = [f for f in rules["secret:github-pat"] if f.title == "secret in memory"]
    assert [(f.pid, f.severity) for f in token] == [(7, Severity.CRITICAL)]
    assert token[0].evidence["value"].startswith("ghp_…") and token[0].evidence["count"] == 2
    assert token[0].evidence["address"] in truth_addresses("ghp_R3alLookingGitHubTokenValue0123456789")
    assert {f.pid for f in rules["secret:aws-secret-access-key"]} == {1, 7, 8}


def truth_addresses(secret: str) -> set[int]:
    from conftest import truth

    return {a for p in truth("counters-blog")["processes"] for a in p["secret_addresses"].get(secret, [])}


def test_env_credentials_follow_the_redaction_policy() -> None:
    """By name (MYSQL_PWD, REDISCLI_AUTH) or by value (a Stripe key under a plain name); PWD, the
    working directory, is none. With a revealing policy the evidence holds the value itself."""
    from checkforensics.analysis.redaction import Redaction

    stripe = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    context = _context("/usr/bin/app", [])
    context.tree.processes[0].env = ["MYSQL_PWD=pw-1234", "REDISCLI_AUTH=r3dis", f"BILLING={stripe}", "PWD=/tmp"]
    found = [f.evidence for f in triage(context) if f.rule == "env-credential"]
    assert found == [
        {"variable": "MYSQL_PWD", "value": "p…(7 chars)"},
        {"variable": "REDISCLI_AUTH", "value": "r…(5 chars)"},
        {"variable": "BILLING", "value": "sk_l…(32 chars)"},
    ]
    context.redaction = Redaction(reveal=True)
    assert [f.evidence["value"] for f in triage(context) if f.rule == "env-credential"] == ["pw-1234", "r3dis", stripe]


def test_containerd_writes_and_whiteouts_are_seen() -> None:
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model:
        context = load_context(model, scan_secrets=False)
    found = {(f.rule, f.evidence.get("path")) for f in triage(context)}
    assert ("sensitive-file-changed", "/etc/cron.d/cfw-job") in found
    assert ("executable-dropped", "/tmp/cfw-drop.sh") in found
    assert ("sensitive-file-deleted", "/etc/cfw-motd") in found  # a whiteout in the gzip layer
    # the empty files runc creates to bind-mount /etc/hosts, /etc/hostname, /etc/resolv.conf onto
    assert not {path for _, path in found} & {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}


def test_an_opaque_directory_under_etc_is_a_deletion() -> None:
    context = _context("/bin/sh", [])
    context.changes.opaque = ["/etc/ssh", "/srv/data"]
    found = [f for f in triage(context) if f.rule == "sensitive-file-deleted" and f.evidence.get("opaque")]
    assert [f.evidence["path"] for f in found] == ["/etc/ssh"]


# --- issue 16: the intrusion scenario, a real CRIU dump, and every rule's ATT&CK techniques ----


def test_addresses_are_integers_in_json_and_hex_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    """One form of an address in every command's JSON (malfind's, memgrep's: an integer); the
    triage table shows it in hexadecimal, as before."""
    from conftest import SCENARIOS

    intrusion = str(SCENARIOS / "intrusion.tar.zst")
    assert run(["triage", intrusion, "--no-secrets", "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert run(["malfind", intrusion, "--format", "json"]) in (0, 1)
    regions = {(r["pid"], r["start"], r["end"]) for r in json.loads(capsys.readouterr().out)["regions"]}
    code = [f for f in findings if f["rule"] in ("injected-code", "reflective-code", "memfd-code", "deleted-code")]
    assert code and all(isinstance(f["evidence"]["start"], int) for f in code)
    assert {(f["pid"], f["evidence"]["start"], f["evidence"]["end"]) for f in code} <= regions
    assert run(["triage", intrusion, "--no-secrets", "--no-color"]) == 0
    text = capsys.readouterr().out
    for finding in code:
        assert f"start={finding['evidence']['start']:#x}, end={finding['evidence']['end']:#x}" in text
    assert run(["triage", str(FIXTURES / "counters-blog.tar"), "--format", "jsonl"]) == 0
    secrets = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    evidence = [f["evidence"] for f in secrets if f["rule"].startswith("secret:")]
    addresses = [e["offset"] if "path" in e else e["address"] for e in evidence]  # in a file: its offset
    assert addresses and all(isinstance(a, int) for a in addresses)


def _intrusion() -> tuple[list, dict]:
    from conftest import SCENARIOS, truth

    with CheckpointModel.open(SCENARIOS / "intrusion.tar.zst") as model:
        findings = triage(load_context(model, scan_secrets=False))
    return findings, truth("scenarios/intrusion")


def test_intrusion_names_each_case_with_its_technique() -> None:
    findings, facts = _intrusion()
    pids = {p["dump_pid"]: p for p in facts["processes"]}
    comm_pid = {p["comm"]: p["dump_pid"] for p in facts["processes"] if p["comm"] != "bash"}

    def one(rule: str, pid: int):
        (found,) = [f for f in findings if f.rule == rule and f.pid == pid]
        return found

    shellcode = one("injected-code", comm_pid["inj-shellcode"])
    assert shellcode.severity == Severity.HIGH and shellcode.techniques == ("T1055",)
    assert shellcode.evidence["start"] == int(facts["implants"]["inj-shellcode"]["address"], 16)
    reflect = one("reflective-code", comm_pid["inj-reflect"])
    assert reflect.severity == Severity.CRITICAL and "T1620" in reflect.techniques
    fileless = one("exe-memfd", comm_pid["inj-fileless"])
    assert fileless.severity == Severity.CRITICAL and fileless.techniques == ("T1620",)
    assert fileless.evidence["exe"] == "memfd:cfw-payload"
    deleted = one("exe-deleted", comm_pid["inj-deleted"])
    assert deleted.techniques == ("T1070.004",)
    preload = one("ld-preload", comm_pid["inj-preload"])
    assert preload.severity == Severity.HIGH and preload.techniques == ("T1574.006",)
    truth_env = next(e for e in pids[comm_pid["inj-preload"]]["env"] if e.startswith("LD_PRELOAD="))
    assert f"LD_PRELOAD={preload.evidence['value']}" == truth_env

    shells = {f.pid: f for f in findings if f.rule == "reverse-shell"}
    bashes = [p for p in facts["processes"] if p["comm"] == "bash"]
    assert set(shells) == {p["dump_pid"] for p in bashes}
    direct = next(f for f in shells.values() if f.evidence["relay_pid"] is None)
    relayed = next(f for f in shells.values() if f.evidence["relay_pid"] is not None)
    # over the socket itself, to this machine's eth0 address: not local, so critical
    assert direct.evidence["remote"] == facts["reverse_shell_peer"] and direct.severity == Severity.CRITICAL
    assert direct.techniques == ("T1059.004",)
    assert (direct.evidence["stdin"], direct.evidence["stdout"]) == ("socket", "socket")
    # through pipes to the relay, which holds a connection to 127.0.0.1: high
    assert relayed.evidence["relay_pid"] == comm_pid["inj-relay"] and relayed.severity == Severity.HIGH
    assert relayed.evidence["remote"] == facts["relay_peer"]
    assert relayed.evidence["stdin"] == f"pipe to {comm_pid['inj-relay']}"
    # the reverse shell's socket is told once, not again as shell-network for each of its fds
    assert not [f for f in findings if f.rule == "shell-network" and f.pid == direct.pid]
    # nothing of malfind's is told twice: the memfd and deleted programs only by rule_exe
    assert not [f for f in findings if f.rule in ("memfd-code", "deleted-code")]


CONTEXT_RULES = {"listening-socket", "unread-network-data"}  # context, no technique in themselves


@pytest.mark.parametrize(
    "path",
    ["inflight.tar.zst", "counters-blog.tar", "containerd-busybox.tar", "scenarios/intrusion.tar.zst"],
)
def test_every_finding_names_its_techniques(path: str) -> None:
    from checkforensics.analysis.attack import TECHNIQUES

    with CheckpointModel.open(FIXTURES / path) as model:
        findings = triage(load_context(model))
    assert findings
    for finding in findings:
        assert all(t in TECHNIQUES for t in finding.techniques), finding
        assert bool(finding.techniques) != (finding.rule in CONTEXT_RULES), finding.rule
        assert [t["id"] for t in FINDING.json(finding)["techniques"]] == list(finding.techniques)


def test_cron_on_a_real_containerd_checkpoint_is_t1053() -> None:
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model:
        findings = triage(load_context(model, scan_secrets=False))
    (cron,) = [f for f in findings if f.evidence.get("path") == "/etc/cron.d/cfw-job"]
    assert cron.techniques == ("T1053.003",)


def test_rootfs_persistence_techniques() -> None:
    changed = [
        ChangedFile(path, "file", 20, 0o644, 0, 0, "2026-01-01T00:00:00Z")
        for path in ("/root/.ssh/authorized_keys", "/etc/ld.so.preload", "/var/spool/cron/crontabs/root")
    ]
    found = {f.evidence["path"]: f for f in triage(_context("/bin/sh", [], changed)) if "path" in f.evidence}
    assert found["/root/.ssh/authorized_keys"].techniques == ("T1098.004",)
    assert found["/etc/ld.so.preload"].techniques == ("T1574.006",)
    assert found["/var/spool/cron/crontabs/root"].techniques == ("T1053.003",)
    assert found["/var/log/auth.log"].techniques == ("T1070.002",)


def _stream(fd: int, **kwargs) -> Descriptor:
    return Descriptor(fd, "INETSK", 5, family="INET", proto="TCP", state="ESTABLISHED", ino=77, **kwargs)


def test_reverse_shell_severity_follows_its_peer() -> None:
    """Synthetic, for the address kinds the dump does not hold: a loopback peer is high, a
    public one critical; a shell with only stdout on a socket is no reverse shell."""
    local = [_stream(fd, local="127.0.0.1:5", remote="127.0.0.1:4444") for fd in (0, 1, 2)]
    (found,) = [f for f in triage(_context("/bin/bash", local)) if f.rule == "reverse-shell"]
    assert found.severity == Severity.HIGH
    public = [_stream(fd, local="10.0.0.2:5", remote="203.0.113.9:4444") for fd in (0, 1, 2)]
    (found,) = [f for f in triage(_context("/bin/bash", public)) if f.rule == "reverse-shell"]
    assert found.severity == Severity.CRITICAL and found.evidence["remote"] == "203.0.113.9:4444"
    only_out = [_stream(1, local="10.0.0.2:5", remote="203.0.113.9:4444")]
    assert not [f for f in triage(_context("/bin/bash", only_out)) if f.rule == "reverse-shell"]
    not_a_shell = [_stream(fd, local="10.0.0.2:5", remote="203.0.113.9:4444") for fd in (0, 1, 2)]
    assert not [f for f in triage(_context("/usr/sbin/nginx", not_a_shell)) if f.rule == "reverse-shell"]
