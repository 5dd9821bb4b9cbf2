"""Shared test fixtures: where the real checkpoints are, and their truth files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN = FIXTURES / "golden"
SCENARIOS = FIXTURES / "scenarios"

# One source per golden set: the archive (or directory) crit's outputs were made from.
GOLDEN_SOURCES = {
    "bare-bash-sleep": FIXTURES / "bare-bash-sleep",
    "busybox-counter-criu41": FIXTURES / "busybox-counter-criu41.tar",
    "counters-blog": FIXTURES / "counters-blog.tar",
    "inflight": FIXTURES / "inflight.tar.zst",
    # real dumps made here with CRIU 4.2.1 (scripts/dump-scenarios/), goldens by crit 4.2.1
    **{
        f"scenario-{name}": SCENARIOS / name
        for name in ("files", "ns", "proc", "restore", "sharing", "sockets", "weird")
    },
    "scenario-creds": SCENARIOS / "creds.tar.zst",
    "scenario-postgres": SCENARIOS / "postgres.tar.zst",
    "scenario-nginx": SCENARIOS / "nginx.tar.zst",
    "scenario-redis": SCENARIOS / "redis.tar.zst",
    "scenario-intrusion": SCENARIOS / "intrusion.tar.zst",
    "scenario-states": SCENARIOS / "states.tar.zst",
}


def truth(name: str) -> dict:
    """The independent decoder's facts about fixture ``name`` (fixtures/<name>.truth.json)."""
    return json.loads((FIXTURES / f"{name}.truth.json").read_text())


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run the tests marked slow (long fuzz and size runs)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
