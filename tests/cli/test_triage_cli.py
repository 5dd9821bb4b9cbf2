"""triage's options as a user types them."""

from __future__ import annotations

import pytest

from checkforensics.cli import run

from conftest import SCENARIOS

INTRUSION = str(SCENARIOS / "intrusion.tar.zst")


def _triage(capsys: pytest.CaptureFixture[str], *options: str) -> str:
    assert run(["triage", INTRUSION, "--no-secrets", "--no-color", *options]) == 0
    return capsys.readouterr().out


def test_min_severity_takes_the_words_the_table_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The SEVERITY column prints HIGH; --min-severity HIGH means what --min-severity high does."""
    everything = _triage(capsys)
    printed = {line.split()[0] for line in everything.splitlines()[1:]}
    assert {"CRITICAL", "HIGH", "MEDIUM"} <= printed
    for word in printed:
        assert _triage(capsys, "--min-severity", word) == _triage(capsys, "--min-severity", word.lower())
    high = _triage(capsys, "--min-severity", "High")
    assert {line.split()[0] for line in high.splitlines()[1:]} == {"CRITICAL", "HIGH"}


def test_a_severity_that_does_not_exist_is_still_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["triage", INTRUSION, "--min-severity", "HGH"]) == 2
    assert "'HGH' is not one of 'info', 'low', 'medium', 'high', 'critical'" in capsys.readouterr().err
