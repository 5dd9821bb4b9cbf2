"""history on a real CRIU dump: what the typing driver of scripts/dump-scenarios/history.py
typed into an interactive bash (history -c among it) and a python3 REPL, against its record."""

from __future__ import annotations

import json

import pytest

from checkforensics.analysis.history import histories, history_of, shell_variables_of
from checkforensics.cli import run
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, SCENARIOS, truth

HISTORY = SCENARIOS / "history.tar.zst"
TRUTH = truth("scenarios/history")
TYPED = TRUTH["typed"]
BASH, PYTHON = TRUTH["bash_pid"], TRUTH["python_pid"]


@pytest.fixture(scope="module")
def entries() -> list:
    with CheckpointModel.open(HISTORY) as model:
        return history_of(model)


def _typed(program: str, *, after_clear: bool | None = None) -> list[dict]:
    return [t for t in TYPED if t["program"] == program and (after_clear is None or t["after_clear"] == after_clear)]


def _live(entries: list, pid: int) -> list:
    return [e for e in entries if e.pid == pid and e.state == "live"]


def test_bash_lists_exactly_what_was_typed_after_history_c_in_order(entries: list) -> None:
    after = _typed("bash", after_clear=True)
    live = _live(entries, BASH)
    assert [e.command for e in live] == [t["line"] for t in after]
    assert [e.position for e in live] == list(range(1, len(after) + 1))
    for entry, typed in zip(live, after, strict=True):
        assert entry.time is not None and entry.time.tzinfo is not None
        assert abs(entry.time.timestamp() - typed["time"]) < 1.0
    assert {e.comm for e in live} == {"bash"}


def test_the_repl_lists_its_lines_in_order_with_their_times(entries: list) -> None:
    typed = _typed("python3")
    live = _live(entries, PYTHON)
    assert [e.command for e in live] == [t["line"] for t in typed]
    assert [e.position for e in live] == [1, 2, 3, 4]
    assert all(abs(e.time.timestamp() - t["time"]) < 1.0 for e, t in zip(live, typed, strict=True))


def test_each_entry_names_the_terminal_of_its_standard_input(entries: list) -> None:
    assert {e.terminal for e in entries if e.pid == BASH} == {TRUTH["ptys"]["bash"]}
    assert {e.terminal for e in entries if e.pid == PYTHON} == {TRUTH["ptys"]["python3"]}


def test_cleared_lines_are_only_remnants_never_live(entries: list) -> None:
    cleared = [t["line"] for t in _typed("bash", after_clear=False)]
    live_commands = {e.command for e in entries if e.state == "live"}
    assert not live_commands & set(cleared)
    remnants = [e for e in entries if e.state == "remnant"]
    assert remnants and all(e.position is None and e.time is None and e.partial for e in remnants)
    # a remnant of a history line is that line less the bytes malloc wrote over its start
    suffixes = {e.command: e for e in remnants if e.pid == BASH}
    found = {
        line
        for line in cleared
        for text, e in suffixes.items()
        if len(line) == e.lost + len(text) and line.endswith(text)
    }
    assert {
        "mysql -u admin -pCfwFakePass-3e8d -h 127.0.0.1 -e 'select 1'",
        "curl -s --max-time 1 -u deploy:cfw-fake-9c4b http://127.0.0.1:9/",
        "echo marker-hist-before-5a21 > notes.txt",
    } <= found
    assert all(e.lost in (8, 16) for e in remnants)
    # nothing is a copy of a live line
    assert not any(text in live for text in suffixes for live in live_commands)


def test_live_entries_come_before_remnants_per_process(entries: list) -> None:
    for pid in (BASH, PYTHON):
        states = [e.state for e in entries if e.pid == pid]
        assert states == sorted(states)  # "live" < "remnant"


def test_the_freed_timestamps_show_that_entries_left_the_list() -> None:
    with CheckpointModel.open(HISTORY) as model:
        found = histories(model)
    before = {str(int(t["time"]))[-3:] for t in _typed("bash", after_clear=False)}
    assert found[BASH].freed_timestamps and set(found[BASH].freed_timestamps) <= before
    assert found[PYTHON].freed_timestamps == []  # nothing left the REPL's list


def test_variables_set_and_exported_after_bash_started() -> None:
    with CheckpointModel.open(HISTORY) as model:
        variables = shell_variables_of(model)
    by_name = {v.name: v for v in variables}
    for name, value in TRUTH["bash_exported_after"].items():
        assert by_name[name].value == value and by_name[name].exported
    for name, value in TRUTH["bash_set_after"].items():
        assert by_name[name].value == value and not by_name[name].exported
    initial = next(p for p in TRUTH["processes"] if p["pid"] == BASH)["env"]
    assert not {v.name for v in variables} & {item.partition("=")[0] for item in initial}
    assert {v.pid for v in variables} == {BASH}


def test_no_history_where_nothing_was_typed() -> None:
    for path in (FIXTURES / "counters-blog.tar", SCENARIOS / "intrusion.tar.zst"):
        with CheckpointModel.open(path) as model:
            assert history_of(model) == []


def test_the_command_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["history", str(HISTORY), "--pid", str(PYTHON), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    live = [e for e in document["history"] if e["state"] == "live"]
    assert [e["command"] for e in live] == [t["line"] for t in _typed("python3")]
    assert all(e["time"].endswith("Z") and e["pid"] == PYTHON for e in live)
    assert document["shell_variables"] == []
