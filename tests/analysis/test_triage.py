"""Triage rules on the real fixtures, and on synthetic cases real dumps rarely show."""

from __future__ import annotations

import json

import pytest

from checkforensics.analysis.rootfs import ChangedFile, Layer, RootfsChanges
from checkforensics.analysis.triage import FINDING, Context, Severity, load_context, triage
from checkforensics.cli import run
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.files import Descriptor, FileTable, ProcessFiles

from conftest import FIXTURES, SCENARIOS


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
    # one finding per value, naming the three processes whose environment holds it
    found = rules["env-credential"]
    assert sorted(f.evidence["variables"] for f in found) == [["AWS_SECRET_ACCESS_KEY"], ["DB_PASSWORD"]]
    assert all([h["pid"] for h in f.holders] == [1, 7, 8] and f.count == 3 for f in found)
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
    """A memfd has no name on disk: CRIU's "(deleted)" on it is no second finding."""
    (found,) = [f for f in triage(_context("memfd:payload (deleted)", [])) if f.rule.startswith("exe-")]
    assert found.rule == "exe-memfd" and found.evidence["reasons"] == "memfd"


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
    # a credential in memory ranks medium (exposure, not intrusion); the rule's own rating stays
    assert [(f.pid, f.severity) for f in token] == [(7, Severity.MEDIUM)]
    assert token[0].evidence["rule_severity"] == "critical"
    addresses = truth_addresses("ghp_R3alLookingGitHubTokenValue0123456789")
    assert token[0].evidence["value"].startswith("ghp_…") and token[0].count == len(addresses) == 2
    assert token[0].evidence["address"] in addresses
    (aws,) = rules["secret:aws-secret-access-key"]  # one value, in three processes: one finding
    assert [h["pid"] for h in aws.holders] == [1, 7, 8]


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
        {"variables": ["MYSQL_PWD"], "value": "p…(7 chars)"},
        {"variables": ["REDISCLI_AUTH"], "value": "r…(5 chars)"},
        {"variables": ["BILLING"], "value": "sk_l…(32 chars)"},
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
    deleted = one("exe-deleted", comm_pid["inj-deleted"])  # under /tmp too: one finding, both reasons
    assert deleted.techniques == ("T1070.004", "T1105") and deleted.evidence["reasons"] == "deleted,writable-path"
    assert not [f for f in findings if f.rule == "exe-writable-path" and f.pid == comm_pid["inj-deleted"]]
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
    # through pipes to the relay, which holds a connection to 127.0.0.1: critical all the same
    assert relayed.evidence["relay_pid"] == comm_pid["inj-relay"] and relayed.severity == Severity.CRITICAL
    assert "(the peer is a local address)" in relayed.title
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


def test_reverse_shell_is_critical_wherever_its_peer_is() -> None:
    """Synthetic, for the address kinds the dump does not hold: a loopback peer (a relay, a
    tunnel) and a public one are both critical, the title naming the local one; a shell with
    only stdout on a socket is no reverse shell."""
    local = [_stream(fd, local="127.0.0.1:5", remote="127.0.0.1:4444") for fd in (0, 1, 2)]
    (found,) = [f for f in triage(_context("/bin/bash", local)) if f.rule == "reverse-shell"]
    assert found.severity == Severity.CRITICAL and "the peer is a local address" in found.title
    public = [_stream(fd, local="10.0.0.2:5", remote="203.0.113.9:4444") for fd in (0, 1, 2)]
    (found,) = [f for f in triage(_context("/bin/bash", public)) if f.rule == "reverse-shell"]
    assert found.severity == Severity.CRITICAL and found.evidence["remote"] == "203.0.113.9:4444"
    only_out = [_stream(1, local="10.0.0.2:5", remote="203.0.113.9:4444")]
    assert not [f for f in triage(_context("/bin/bash", only_out)) if f.rule == "reverse-shell"]
    not_a_shell = [_stream(fd, local="10.0.0.2:5", remote="203.0.113.9:4444") for fd in (0, 1, 2)]
    assert not [f for f in triage(_context("/usr/sbin/nginx", not_a_shell)) if f.rule == "reverse-shell"]


# The severity model (docs/commands/triage.md, "How findings are ranked"): code execution, access
# and persistence first; a credential sitting in memory is exposure and ranks below all of them.
INTRUSION_RULES = {
    "reverse-shell", "shell-network", "shell-listening", "reflective-code", "injected-code", "memfd-code",
    "exe-memfd", "exe-deleted", "exe-writable-path", "ld-preload", "executable-dropped", "sensitive-file-changed",
    "history-download-exec",
}  # fmt: skip


def _is_credential(rule: str) -> bool:
    return rule.startswith("secret:") or rule in ("env-credential", "history-credential")


@pytest.mark.parametrize(
    ("path", "cases", "holds_credentials"),
    [
        ("scenarios/intrusion.tar.zst",
         {"reverse-shell", "reflective-code", "injected-code", "exe-memfd", "exe-deleted", "ld-preload"}, True),
        ("containerd-intrusion.tar.zst", {"sensitive-file-changed", "executable-dropped", "exe-deleted"}, False),
    ],
)  # fmt: skip
def test_the_intrusion_comes_first_and_no_credential_outranks_it(
    path: str, cases: set[str], holds_credentials: bool
) -> None:
    with CheckpointModel.open(FIXTURES / path) as model:
        findings = triage(load_context(model))  # the secrets scan included
    intrusion = [f for f in findings if f.rule in INTRUSION_RULES]
    assert cases <= {f.rule for f in intrusion}
    assert findings[: len(intrusion)] == intrusion  # the first rows are the intrusion, all of it
    lowest = min(f.severity for f in intrusion)
    credentials = [f for f in findings if _is_credential(f.rule)]
    assert bool(credentials) == holds_credentials and all(f.severity < lowest for f in credentials)


@pytest.mark.parametrize("name", ["creds", "nginx", "postgres", "redis"])
def test_servers_holding_credentials_show_no_critical_finding(name: str) -> None:
    """Harmless processes holding tokens and passwords (the shell farm, real servers): their
    credentials are listed, at medium or below; nothing is critical."""
    with CheckpointModel.open(SCENARIOS / f"{name}.tar.zst") as model:
        findings = triage(load_context(model))
    credentials = [f for f in findings if _is_credential(f.rule)]
    assert credentials and max(f.severity for f in credentials) == Severity.MEDIUM
    assert not [f for f in findings if f.severity == Severity.CRITICAL]


# One fact, one finding: a finding names every process sharing its fact and counts every occurrence.


def _revealed(name: str) -> list:
    from checkforensics.analysis.redaction import Redaction

    with CheckpointModel.open(SCENARIOS / f"{name}.tar.zst") as model:
        context = load_context(model)
        context.redaction = Redaction(reveal=True)
        return triage(context)


def _truth_copies(facts: dict, value: str) -> tuple[set[int], int]:
    """The processes whose private memory holds ``value`` and how many copies lie anywhere
    (shared memory objects counted once), as /proc saw them before the dump."""
    pids = {p["dump_pid"] for p in facts["processes"] if value in p["markers_in_memory"]}
    private = sum(p["markers_in_memory"][value]["count"] for p in facts["processes"] if value in p["markers_in_memory"])
    shared = sum(o[value]["count"] for o in facts.get("markers_in_shared_memory", {}).values() if value in o)
    return pids, private + shared


def test_nginx_one_socket_one_value_one_finding(capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import truth

    facts = truth("scenarios/nginx")
    findings = _revealed("nginx")
    listening_fds = [(p["dump_pid"], f["fd"]) for p in facts["processes"] for f in p["fds"]
                     if f.get("socket", {}).get("state") == "LISTEN"]  # fmt: skip
    (listening,) = [f for f in findings if f.rule == "listening-socket"]  # master and workers share one
    assert [(h["pid"], h["fd"]) for h in listening.holders] == sorted(listening_fds)
    assert listening.count == len(listening_fds) == 3 and listening.pid == facts["root"]
    (secret,) = [f for f in findings if f.rule == "secret:env-secret"]
    pids, copies = _truth_copies(facts, secret.evidence["value"])
    assert {h["pid"] for h in secret.holders} == pids and secret.count == copies == 3
    # memgrep counts the same copies of the value
    assert run(["memgrep", str(SCENARIOS / "nginx.tar.zst"), secret.evidence["value"], "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert len(found["matches"]) + len(found["shared_matches"]) == secret.count
    shown = " ".join(f"{pid}:{fd}" for pid, fd in sorted(listening_fds))  # the table's PID column
    assert shown in FINDING.row(listening)


def test_postgres_one_password_one_finding(capsys: pytest.CaptureFixture[str]) -> None:
    """20 rows for two environment values became one each; a token in the shared segment and in
    private memory is one finding naming the processes with a copy and those mapping the segment,
    its count every copy, as the truth file and memgrep count them."""
    from conftest import truth

    facts = truth("scenarios/postgres")
    findings = _revealed("postgres")
    password = next(v for v in facts["markers"] if v.startswith("cfw-pg-"))
    (env,) = [f for f in findings if f.rule == "env-credential" and f.evidence["value"] == password]
    holding = [p["dump_pid"] for p in facts["processes"] if any(e.endswith(f"={password}") for e in p["env"])]
    assert [h["pid"] for h in env.holders] == sorted(holding) and env.count == len(holding)
    assert env.evidence["variables"] == ["POSTGRES_PASSWORD", "PGPASSWORD"]
    (in_memory,) = [f for f in findings if f.rule == "secret:env-secret" and f.evidence["value"] == password]
    pids, copies = _truth_copies(facts, password)
    # env-secret finds the value where its NAME= is before it: every process, not every copy
    assert {h["pid"] for h in in_memory.holders} == pids and in_memory.count <= copies
    assert len([f for f in findings if f.rule == "secret:env-secret"]) == 2  # two values
    for rule in ("github-pat", "stripe-secret-key", "slack-bot-token", "gitlab-pat", "npm-token"):
        (token,) = [f for f in findings if f.rule == f"secret:{rule}"]
        value = token.evidence["value"]
        assert token.count == _truth_copies(facts, value)[1]
        assert run(["memgrep", str(SCENARIOS / "postgres.tar.zst"), value, "--format", "json"]) == 0
        found = json.loads(capsys.readouterr().out)
        assert len(found["matches"]) + len(found["shared_matches"]) == token.count
        mapping = {place["pid"] for m in found["shared_matches"] for place in m["mapped"]}
        assert {h["pid"] for h in token.holders} == {m["pid"] for m in found["matches"]} | mapping


def test_one_executable_one_finding_with_every_reason() -> None:
    """The intrusion's harness runs one program under /tmp in five processes: one finding naming
    them; the deleted implant under /tmp is one finding with both reasons."""
    from conftest import truth

    facts = truth("scenarios/intrusion")
    with CheckpointModel.open(SCENARIOS / "intrusion.tar.zst") as model:
        findings = triage(load_context(model, scan_secrets=False))
    (writable,) = [f for f in findings if f.rule == "exe-writable-path"]
    running = sorted(p["dump_pid"] for p in facts["processes"] if p["exe"] == writable.evidence["exe"])
    assert [h["pid"] for h in writable.holders] == running and len(running) == 5
    (deleted,) = [f for f in findings if f.rule == "exe-deleted"]
    assert f"{deleted.evidence['exe']} (deleted)" in {p["exe"] for p in facts["processes"]}
    assert deleted.evidence["reasons"] == "deleted,writable-path"


def test_one_ghost_file_and_one_memfd_one_finding_each() -> None:
    """The sharing scenario opens one deleted log six times in three processes and one memfd four
    times: one finding each, naming every descriptor the truth file lists for that inode."""
    from conftest import truth

    facts = truth("scenarios/sharing")
    with CheckpointModel.open(SCENARIOS / "sharing") as model:
        findings = triage(load_context(model, scan_secrets=False))
    for rule, target in (("deleted-file-open", "ghost-shared.log"), ("memfd-open", "memfd:cfw-shared-memfd")):
        held = sorted((p["dump_pid"], f["fd"]) for p in facts["processes"] for f in p["fds"]
                      if target in f["target"] and f["target"].endswith("(deleted)"))  # fmt: skip
        (found,) = [f for f in findings if f.rule == rule]
        assert [(h["pid"], h["fd"]) for h in found.holders] == held and found.count == len(held) > 3


def test_memfd_open_needs_an_open_descriptor() -> None:
    """inj-fileless runs from a memfd and holds none open (its truth): exe-memfd tells it, not
    memfd-open; the scenarios holding a memfd open still get it (test_one_ghost_file...)."""
    from conftest import truth

    facts = truth("scenarios/intrusion")
    fileless = next(p for p in facts["processes"] if p["comm"] == "inj-fileless")
    assert not [fd for fd in fileless["fds"] if "memfd:" in fd["target"]]
    with CheckpointModel.open(SCENARIOS / "intrusion.tar.zst") as model:
        findings = triage(load_context(model, scan_secrets=False))
    assert [f.pid for f in findings if f.rule == "exe-memfd"] == [fileless["dump_pid"]]
    assert not [f for f in findings if f.rule == "memfd-open"]


def test_a_changed_sensitive_file_is_named_by_its_path() -> None:
    """The FINDING column says what changed, not the glob it matched (`*/.ssh/authorized_keys*`)."""
    from conftest import truth

    written = {e["path"] for e in truth("containerd-intrusion")["rootfs_diff"]["entries"] if e["type"] == "file"}
    with CheckpointModel.open(FIXTURES / "containerd-intrusion.tar.zst") as model:
        findings = triage(load_context(model, scan_secrets=False))
    titles = {f.evidence["path"]: f.title for f in findings if f.rule == "sensitive-file-changed"}
    assert set(titles) == {"/etc/cron.d/cfw-update", "/root/.ssh/authorized_keys"} and set(titles) <= written
    assert titles["/root/.ssh/authorized_keys"] == "SSH authorized keys changed on disk: /root/.ssh/authorized_keys"
    assert titles["/etc/cron.d/cfw-update"] == "a cron job changed on disk: /etc/cron.d/cfw-update"
    assert not [title for title in titles.values() if "*" in title]


def test_a_privileged_container_is_one_finding() -> None:
    """Every process of the intrusion scenario has CAP_SYS_ADMIN (it ran as root, all of it in
    the dumped tree): one finding naming them all, not one a process."""
    from conftest import truth

    every = sorted(p["dump_pid"] for p in truth("scenarios/intrusion")["processes"])
    with CheckpointModel.open(SCENARIOS / "intrusion.tar.zst") as model:
        context = load_context(model, scan_secrets=False)
    privileged = sorted(p.pid for p in context.tree.processes if int(p.identity["cap_eff"], 16) & (1 << 21))
    (found,) = [f for f in triage(context) if f.rule == "cap-sys-admin"]
    assert [h["pid"] for h in found.holders] == privileged == every and found.count == len(every)
