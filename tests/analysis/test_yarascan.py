"""YARA rules over dumped memory (yara-python, installed with the test extras)."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

from checkforensics.analysis import yarascan
from checkforensics.cli import run
from checkforensics.errors import UnsupportedError

from conftest import SCENARIOS

pytest.importorskip("yara")

RULES = """
rule stripe_live : credential {
  meta:
    severity = "critical"
    description = "Stripe live key (YARA)"
  strings:
    $k = /sk_live_[A-Za-z0-9]{24,}/
  condition:
    $k
}
rule marker {
  strings:
    $m = "EDGE-MARKER"
  condition:
    $m
}
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yar"
    path.write_text(RULES)
    return path


def test_yara_finds_the_planted_key_where_the_truth_says(rules_file: Path, capsys) -> None:
    truth = json.loads((SCENARIOS / "creds.truth.json").read_text())
    worker = next(p for p in truth["processes"] if p["comm"] == "sec-worker")
    stripe, seen = next((m, s) for m, s in worker["markers_in_memory"].items() if m.startswith("sk_live_"))
    argv = ["memgrep", str(SCENARIOS / "creds.tar.zst"), "--yara", str(rules_file), "--no-redact", "--format", "json"]
    assert run(argv) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    mine = [f for f in findings if f["rule"] == "yara:stripe_live"]
    assert [(f["pid"], f["value"], f["count"], f["severity"]) for f in mine] == [
        (worker["dump_pid"], stripe, seen["count"], "critical")
    ]
    assert mine[0]["address"] == min(int(a, 16) for a in seen["addresses"])
    assert mine[0]["description"] == "Stripe live key (YARA)"
    assert {f["rule"] for f in findings} == {"yara:stripe_live"}  # YARA alone
    assert run([*argv, "--secrets"]) == 0  # and beside the built-in rules
    both = json.loads(capsys.readouterr().out)["findings"]
    assert {f["rule"] for f in both} >= {"yara:stripe_live", "stripe-secret-key", "private-key-pem"}
    assert [f for f in both if f["rule"] == "yara:stripe_live"] == mine


def test_matches_across_window_edges_are_found_once(rules_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yarascan, "WINDOW", 4096)
    monkeypatch.setattr(yarascan, "OVERLAP", 64)
    data = bytearray(20000)
    places = [0, 4090, 4040, 8150, 19989]  # across an edge, inside an overlap, at the very end
    for place in places:
        data[place : place + 11] = b"EDGE-MARKER"
    rules = yarascan.YaraRules([rules_file])
    found = list(rules.scan_range(lambda offset, size: bytes(data[offset : offset + size]), len(data)))
    expected = [(place, "yara:marker", b"EDGE-MARKER") for place in sorted(places)]
    assert [(f.start, f.rule.id, f.value) for f in found] == expected
    assert found[0].rule.severity.name == "MEDIUM"


def test_bad_rules_and_no_engine_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    bad = tmp_path / "bad.yar"
    bad.write_text("rule broken {")
    assert run(["memgrep", str(SCENARIOS / "creds.tar.zst"), "--yara", str(bad)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "not valid YARA rules" in err
    real_import = builtins.__import__

    def no_yara(name: str, *args, **kwargs):
        if name == "yara":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yara)
    with pytest.raises(UnsupportedError, match="yara-python"):
        yarascan.YaraRules([bad])
    assert not yarascan.available()
    assert run(["memgrep", str(SCENARIOS / "creds.tar.zst"), "--yara", str(bad)]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "yara-python" in err and str(bad) in err
