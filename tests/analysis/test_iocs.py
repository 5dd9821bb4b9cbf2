"""iocs on real checkpoints: every indicator the containerd intrusion planted, found where the
live container had it (fixtures/containerd-intrusion.truth.json, read from /proc before the
checkpoint), the intrusion scenario's payload hashes and reverse-shell peer, no loopback unless
asked, documentation ranges kept; the extraction's false positives; CSV and STIX (validated by
stix2-validator); hostile layers read within bounds."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
import tarfile
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from checkforensics.analysis.iocs import find_indicators
from checkforensics.analysis.iocs.extract import indicators_in, ip_scope
from checkforensics.analysis.iocs.files import TEXT_LIMIT
from checkforensics.cli import run
from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, SCENARIOS, truth

INTRUSION = FIXTURES / "containerd-intrusion.tar.zst"
FACTS = truth("containerd-intrusion")
LIVE = FACTS["live"]
SCENARIO = SCENARIOS / "intrusion.tar.zst"


def _found(path: Path, **options: bool) -> dict[tuple[str, str], object]:
    with CheckpointModel.open(path) as model:
        return {(i.type, i.value): i for i in find_indicators(model, **options)}


@pytest.fixture(scope="module")
def planted() -> dict[tuple[str, str], object]:
    return _found(INTRUSION)


def _places(indicator: object, source: str) -> list[dict]:
    return [p.json() for p in indicator.places if p.source == source]  # type: ignore[attr-defined]


def _process(comm: str) -> dict:
    return next(p for p in LIVE["processes"] if p["comm"] == comm)


def test_the_cron_files_c2_address_url_and_domain_with_their_line(planted: dict) -> None:
    cron = LIVE["written"]["/etc/cron.d/cfw-update"]["content"]
    urls = [word for word in cron.split() if "://" in word]
    assert len(urls) == 2  # the stage from the C2 address, the fallback by name
    where = {"source": "rootfs-diff", "where": "/etc/cron.d/cfw-update:1", "path": "/etc/cron.d/cfw-update", "line": 1}
    for url in urls:
        assert where in _places(planted[("url", url)], "rootfs-diff")
    address = urlsplit(urls[0])
    c2 = planted[("ipv4", address.hostname)]
    assert where in _places(c2, "rootfs-diff") and address.port in c2.ports
    assert c2.scope == "documentation"  # 203.0.113.0/24: a real indicator in a report, never dropped
    assert where in _places(planted[("domain", urlsplit(urls[1]).hostname)], "rootfs-diff")


def test_the_authorized_keys_comment_names_the_operators_host(planted: dict) -> None:
    comment = LIVE["written"]["/root/.ssh/authorized_keys"]["content"].split()[-1]
    host = comment.partition("@")[2]
    where = {"source": "rootfs-diff", "where": "/root/.ssh/authorized_keys:1", "path": "/root/.ssh/authorized_keys",
             "line": 1}  # fmt: skip
    assert where in _places(planted[("email", comment)], "rootfs-diff")
    assert where in _places(planted[("domain", host)], "rootfs-diff")
    # the same host in the implant's environment, as the live process had it
    variable = next(e for e in _process("kworkerd")["env"] if e.startswith("C2_HOST="))
    assert variable == f"C2_HOST={host}"
    env = _places(planted[("domain", host)], "environment")
    assert {"pid": _process("kworkerd")["pid"], "variable": "C2_HOST"}.items() <= env[0].items()


def test_the_payloads_sha256_as_the_running_container_read_it(planted: dict) -> None:
    dropped, deleted = _process("kworkerd"), _process(".sshd-helper")
    assert dropped["exe_sha256"] == deleted["exe_sha256"]  # the deleted copy is the same implant
    layer = {e["path"]: e for e in FACTS["rootfs_diff"]["entries"]}
    assert layer["/tmp/.cache/kworkerd"]["sha256"] == dropped["exe_sha256"]
    payload = planted[("sha256", dropped["exe_sha256"])]
    assert {p.source for p in payload.places} == {"rootfs-diff", "deleted-file"}
    assert _places(payload, "rootfs-diff")[0]["path"] == dropped["exe"] == "/tmp/.cache/kworkerd"
    held = _places(payload, "deleted-file")[0]
    assert held["path"] == deleted["exe"].removesuffix(" (deleted)")
    assert f"pid {deleted['pid']} (.sshd-helper) exe" in held["where"]


def test_the_dropped_executables_paths(planted: dict) -> None:
    dropped, deleted = _process("kworkerd")["exe"], _process(".sshd-helper")["exe"].removesuffix(" (deleted)")
    assert [p.source for p in planted[("path", dropped)].places] == ["rootfs-diff"]
    assert [p.source for p in planted[("path", deleted)].places] == ["deleted-file"]
    assert not LIVE["deleted_exist"][deleted]  # gone from disk: only its running copy holds it
    paths = sorted(value for kind, value in planted if kind == "path")
    assert paths == sorted([dropped, deleted])  # busybox's /bin/sh and sleep are the image's, not dropped


def test_argv_environment_and_log_each_with_its_place(planted: dict) -> None:
    implant = _process("kworkerd")
    host, port = implant["cmdline"][2].split(":")
    argv = _places(planted[("ipv4", host)], "argv")
    assert {"pid": implant["pid"], "argument": 2, "where": f"pid {implant['pid']} (kworkerd) argv[2]"}.items() \
        <= next(p for p in argv if p["pid"] == implant["pid"]).items()
    assert int(port) in planted[("ipv4", host)].ports
    fallback = next(e for e in implant["env"] if e.startswith("CFW_FALLBACK=")).split("=", 1)[1].split(":")[0]
    pids = {p["pid"] for p in _places(planted[("ipv4", fallback)], "environment")}
    assert pids == {p["pid"] for p in LIVE["processes"]}  # every process of the container inherited it
    number, line = next((n, text) for n, text in enumerate(FACTS["container_log"], 1) if "beacon" in text)
    for word in line.replace(",", " ").split():
        if word.startswith("https://"):
            assert {"source": "container-log", "where": f"container.log:{number}", "line": number} in \
                _places(planted[("url", word)], "container-log")
    beacon = line.split("beacon to ")[1].split(":")[0]
    assert planted[("ipv4", beacon)].scope == "documentation"


def test_the_scenarios_payloads_and_reverse_shell_peer() -> None:
    found = _found(SCENARIO)
    exes = {p["dump_pid"]: p["exe"] for p in truth("scenarios/intrusion")["processes"]}
    hashes = [i for (kind, _), i in found.items() if kind == "sha256"]
    assert len(hashes) == 1  # the memfd and the deleted file hold the same payload
    wheres = sorted(p.where for p in hashes[0].places)
    assert wheres == ["/tmp/cfw-scenarios/intrusion/kworker-upd (pid 14214 (inj-deleted) exe)",
                      "memfd:cfw-payload (pid 14213 (inj-fileless) exe)"]  # fmt: skip
    assert exes[14214] == "/tmp/cfw-scenarios/intrusion/kworker-upd (deleted)"
    assert exes[14213] == "/memfd:cfw-payload (deleted)"
    assert {p.source for p in hashes[0].places} == {"memfd", "deleted-file"}
    peer, port = truth("scenarios/intrusion")["reverse_shell_peer"].split(":")
    shell = found[("ipv4", peer)]
    assert shell.scope == "documentation" and shell.ports == [int(port)]
    assert sorted(p.fd for p in shell.places) == [0, 1, 2, 255] and {p.pid for p in shell.places} == {14218}


def test_no_loopback_unless_asked() -> None:
    relay, port = truth("scenarios/intrusion")["relay_peer"].split(":")
    assert ("ipv4", relay) not in _found(SCENARIO)
    kept = _found(SCENARIO, include_local=True)[("ipv4", relay)]
    assert kept.scope == "loopback" and kept.ports == [int(port)] and [p.pid for p in kept.places] == [14216]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("import os.path; self.app.run(); open('file.py'); setup.sh README.md cron.d", []),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6 python3.11 v1.2.3.4.5 01.2.3.4 12:34:56 aa:bb:cc:dd:ee:ff", []),
        ("see https://evil.example.com/a.sh, then", [("url", "https://evil.example.com/a.sh"),
                                                     ("domain", "evil.example.com")]),
        ("cdn.evil.sh and evil.com but not my_host.com", [("domain", "cdn.evil.sh"), ("domain", "evil.com")]),
        ("[2001:db8::7]:443 and 10.1.2.3:22", [("ipv4", "10.1.2.3", 22), ("ipv6", "2001:db8::7", 443)]),
        ("ecdsa-sha2-nistp256 AAAAE2Vj op@kali", [("hostname", "kali")]),
        ("mail root@Mail.Example.ORG.", [("email", "root@mail.example.org"), ("domain", "mail.example.org")]),
    ],
)
def test_what_text_gives(text: str, expected: list[tuple]) -> None:
    found = indicators_in(text)
    assert sorted((f.type, f.value, f.port)[: len(expected[0]) if expected else 2] for f in found) == sorted(expected)


@pytest.mark.parametrize(
    ("address", "scope"),
    [("192.0.2.9", "documentation"), ("198.51.100.1", "documentation"), ("203.0.113.255", "documentation"),
     ("2001:db8::1", "documentation"), ("10.0.0.1", "private"), ("172.31.0.1", "private"), ("fd00::1", "private"),
     ("100.64.0.1", "shared"), ("127.0.0.53", "loopback"), ("::1", "loopback"), ("169.254.1.1", "link-local"),
     ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"), ("8.8.8.8", "public"), ("224.0.0.1", "multicast")],
)  # fmt: skip
def test_scopes(address: str, scope: str) -> None:
    assert ip_scope(address) == scope


def test_a_source_is_one_entry_and_local_addresses_wait_for_the_option() -> None:
    from checkforensics.analysis.iocs.sources import SOURCES, Place, Source, Text

    said = "curl http://127.0.0.1:8080/x http://localhost/y http://[::1]/z fe80::1 from 203.0.113.5"
    extra = Source("note", lambda model: iter([Text(said, Place("note", "the analyst's note"))]), "a test source")
    with CheckpointModel.open(FIXTURES / "bare-bash-sleep") as model:
        default = {(i.type, i.value) for i in find_indicators(model, sources=[extra])}
        every = {(i.type, i.value): i for i in find_indicators(model, include_local=True, sources=[*SOURCES, extra])}
    assert default == {("ipv4", "203.0.113.5")}
    assert {("url", "http://127.0.0.1:8080/x"), ("url", "http://localhost/y"), ("hostname", "localhost"),
            ("ipv4", "127.0.0.1"), ("ipv6", "::1"), ("ipv6", "fe80::1")} <= set(every)  # fmt: skip
    assert every[("ipv6", "fe80::1")].scope == "link-local"
    assert [p.where for p in every[("ipv4", "203.0.113.5")].places] == ["the analyst's note"]


def test_csv_parses_and_says_what_the_json_says(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["iocs", str(INTRUSION), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)["indicators"]
    assert run(["iocs", str(INTRUSION), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out, newline="")))
    assert len(rows) == len(records) > 10
    for row, record in zip(rows, records, strict=True):
        assert list(row) == list(record)
        for key, value in record.items():
            cell = row[key]
            if value is None:
                assert cell == ""
            elif isinstance(value, list | dict):
                assert json.loads(cell) == value
            else:
                assert cell == str(value)


def test_stix_bundle_validates_and_is_the_same_every_run(capsys: pytest.CaptureFixture[str]) -> None:
    from stix2validator import ValidationOptions, validate_string

    assert run(["iocs", str(INTRUSION), "--format", "stix"]) == 0
    first = capsys.readouterr().out
    assert run(["iocs", str(INTRUSION), "--format", "stix"]) == 0
    assert capsys.readouterr().out == first
    results = validate_string(first, ValidationOptions(strict=True))
    assert results.is_valid, [str(error) for error in results.errors]
    assert not results.warnings  # strict: the best-practice checks too (version 4 identifiers, ...)
    bundle = json.loads(first)
    patterns = {o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"}
    payload = _process("kworkerd")["exe_sha256"]
    assert {"[ipv4-addr:value = '203.0.113.66']", f"[file:hashes.'SHA-256' = '{payload}']",
            "[url:value = 'http://203.0.113.66:8080/stage2.sh']",
            "[domain-name:value = 'c2.cfw-intrusion.example.org']"} <= patterns  # fmt: skip
    notes = [o["content"] for o in bundle["objects"] if o["type"] == "note"]
    assert any("rootfs-diff: /etc/cron.d/cfw-update:1" in note for note in notes)


def test_stix_without_the_extra_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "stix2", None)  # as if not installed
    assert run(["iocs", str(INTRUSION), "--format", "stix"]) == 4
    out, err = capsys.readouterr()
    assert not out and err == (
        "checkforensics: error: --format stix needs the stix2 package (pip install 'checkforensics[stix]')\n"
    )


def test_several_checkpoints_in_one_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["iocs", str(INTRUSION), str(SCENARIO), "--format", "stix"]) == 0
    bundle = json.loads(capsys.readouterr().out)
    names = {o["name"] for o in bundle["objects"] if o["type"] == "indicator"}
    assert {"ipv4 203.0.113.66", "ipv4 192.0.2.2"} <= names


def _layer_with(tmp_path: Path, files: dict[str, tuple[bytes | Path, int]]) -> Path:
    """A checkpoint directory: bare-bash-sleep's images and a rootfs-diff.tar of ``files``
    (content, or a file on disk to stream in; mode)."""
    root = tmp_path / "ckpt"
    (root / "checkpoint").mkdir(parents=True)
    for name in os.listdir(FIXTURES / "bare-bash-sleep"):
        (root / "checkpoint" / name).write_bytes((FIXTURES / "bare-bash-sleep" / name).read_bytes())
    with tarfile.open(root / "rootfs-diff.tar", "w") as tar:
        for name, (content, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.mode = mode
            if isinstance(content, Path):
                info.size = content.stat().st_size
                with content.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return root


def test_huge_binary_and_undecodable_files_are_read_within_bounds(tmp_path: Path) -> None:
    huge = tmp_path / "huge.log"
    with huge.open("wb") as handle:  # 48 MiB of text: an address at its start, another past the limit
        handle.write(b"first 203.0.113.7\n")
        line = b"x" * 1023 + b"\n"
        for _ in range(48 << 10):
            handle.write(line)
        handle.write(b"last 203.0.113.8\n")
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 100 + b"http://198.51.100.9/in-a-binary"
    root = _layer_with(tmp_path, {
        "var/log/huge.log": (huge, 0o644),
        "tmp/.x/run": (elf, 0o755),
        "etc/latin1.conf": (b"server=caf\xe9.example.net 192.0.2.77\n\xff\xfe\nbackup=10.0.0.5\n", 0o644),
    })  # fmt: skip
    tracemalloc.start()
    with CheckpointModel.open(root) as model:
        found = {(i.type, i.value): i for i in find_indicators(model)}
        warnings = model.diagnostics.said(Part.IOCS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * TEXT_LIMIT  # the 48 MiB file was hashed streaming, its text cut at the limit
    assert ("ipv4", "203.0.113.7") in found and ("ipv4", "203.0.113.8") not in found
    assert warnings == ["only the first 1 MiB of 1 text files read for indicators: /var/log/huge.log"]
    assert ("url", "http://198.51.100.9/in-a-binary") not in found  # a binary is hashed, not read as text
    assert found[("sha256", hashlib.sha256(elf).hexdigest())].places[0].path == "/tmp/.x/run"
    assert ("path", "/tmp/.x/run") in found
    assert ("ipv4", "192.0.2.77") in found  # a line that is not UTF-8 is read all the same
    assert found[("ipv4", "10.0.0.5")].scope == "private"  # RFC 1918: kept, typed
    assert found[("ipv4", "10.0.0.5")].places[0].where == "/etc/latin1.conf:3"
    assert ("sha256", hashlib.sha256(huge.read_bytes()).hexdigest()) not in found  # a log: not executable, not hidden


def test_the_text_read_of_all_files_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from checkforensics.analysis.iocs import sources

    files = {f"srv/{n}.txt": (f"host 198.51.100.{n}\n".encode() + b"x" * 1000, 0o644) for n in range(1, 5)}
    root = _layer_with(tmp_path, files)
    monkeypatch.setattr(sources, "TEXT_BUDGET", 2500)  # two files' worth
    with CheckpointModel.open(root) as model:
        found = {value for kind, value in ((i.type, i.value) for i in find_indicators(model)) if kind == "ipv4"}
        (warning,) = model.diagnostics.said(Part.IOCS)
    assert found == {"198.51.100.1", "198.51.100.2"}
    assert warning.startswith("2 more text files not read for indicators once")


def test_a_checkpoint_of_metadata_only_still_gives_its_files_and_log(tmp_path: Path) -> None:
    import zstandard

    root = tmp_path / "metadata"
    with INTRUSION.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as plain, \
            tarfile.open(fileobj=plain, mode="r|") as tar:  # fmt: skip
        for member in tar:
            if not member.name.startswith("checkpoint"):
                tar.extract(member, root, filter="data")
    with CheckpointModel.open(root) as model:
        found = {(i.type, i.value): i for i in find_indicators(model)}
        (warning,) = model.diagnostics.warnings()
    assert ("url", "http://203.0.113.66:8080/stage2.sh") in found and ("ipv4", "198.51.100.23") in found
    assert [p.source for p in found[("ipv4", "203.0.113.66")].places] == ["rootfs-diff"]  # no argv without images
    assert warning.endswith("not read (or not all): files, argv, environment, socket, history")


def test_what_was_typed_is_a_source() -> None:
    """The download-and-execute line typed after `history -c` (still in bash's live list) gives
    its address and URL, placed at the bash process and the line's position; the URL of the
    one typed before the clear is gone from the list with it (its remnant did not survive)."""
    typed = truth("scenarios/history")["typed"]
    bash_pid = next(line["pid"] for line in typed if line["program"] == "bash")
    after = [line["line"] for line in typed if line["program"] == "bash" and line["after_clear"]]
    url_line = next(n for n, line in enumerate(after, 1) if "wget" in line)
    url = next(word for word in after[url_line - 1].split() if word.startswith("http://"))
    found = _found(SCENARIOS / "history.tar.zst")
    for indicator in (("url", url), ("ipv4", urlsplit(url).hostname)):
        (place,) = _places(found[indicator], "history")
        assert place["pid"] == bash_pid and place["line"] == url_line
        assert place["where"] == f"pid {bash_pid} (bash) history #{url_line}"
    before = [line["line"] for line in typed if line["program"] == "bash" and not line["after_clear"]]
    cleared = next(word for line in before for word in line.split() if word.startswith("http://203."))
    assert ("url", cleared) not in found
