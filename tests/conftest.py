"""Shared test fixtures: where the real checkpoints are, and their truth files."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    "scenario-cow": SCENARIOS / "cow.tar.zst",
    "scenario-jit": SCENARIOS / "jit.tar.zst",
    "scenario-history": SCENARIOS / "history.tar.zst",
}


def truth(name: str) -> dict:
    """The independent decoder's facts about fixture ``name`` (fixtures/<name>.truth.json)."""
    return json.loads((FIXTURES / f"{name}.truth.json").read_text())


COW = SCENARIOS / "cow.tar.zst"  # private (copy-on-write) mappings of a memfd: scripts/dump-scenarios/cow.py


@dataclass(frozen=True)
class CowPage:
    """One page of a mapping of the cow memfd, as /proc showed it just before the dump."""

    pid: int
    label: str  # S (MAP_SHARED), A, B (MAP_PRIVATE)
    start: int  # the mapping's
    end: int
    pgoff: int  # its offset in the memfd, in bytes
    address: int
    own: bool  # /proc/PID/pagemap: present and not a file page (a copy the process wrote)
    sha256: str  # of what /proc/PID/mem read there
    head: str


def cow_pages() -> list[CowPage]:
    pages = []
    for pid, process in truth("scenarios/cow")["cow"].items():
        for label, mapping in process["mappings"].items():
            fields = mapping["maps_line"].split()
            start, end = (int(value, 16) for value in fields[0].split("-"))
            for page in mapping["pages"]:
                pages.append(
                    CowPage(int(pid), label, start, end, int(fields[2], 16), int(page["address"], 16), page["own"],
                            page["sha256"], page["head"])
                )  # fmt: skip
    return pages


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
