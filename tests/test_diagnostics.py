"""The one diagnostics channel (checkforensics/diagnostics.py): each diagnostic kept once, in the
order first said, told once; a question about some processes hears only of those; notes are
never told as warnings; and no function of the model or the analyses takes a list of warnings
to fill (issue 21, item 4)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import shutil
from pathlib import Path

import pytest

import checkforensics.analysis
import checkforensics.model
from checkforensics.diagnostics import Diagnostic, Diagnostics, Level, Part
from checkforensics.model import CheckpointModel

from conftest import FIXTURES

BARE = FIXTURES / "bare-bash-sleep"  # pids 16120 (bash) and 16122 (sleep)


def test_a_diagnostic_is_typed_and_reads_where_first() -> None:
    diagnostic = Diagnostic("cannot decode MmEntry", "pid 7", Level.WARNING, pid=7)
    assert str(diagnostic) == "pid 7: cannot decode MmEntry"
    assert str(Diagnostic("holds no entry")) == "holds no entry"


def test_each_diagnostic_is_kept_once_in_the_order_first_said() -> None:
    said = Diagnostics()
    said.warn("missing", where="files.img", part=Part.FILES)
    said.warn("command line not readable", where="pid 3", pid=3, part=Part.PROCESSES)
    said.warn("missing", where="files.img", part=Part.MEMORY)  # another part, the same problem
    assert said.warnings() == ["files.img: missing", "pid 3: command line not readable"]
    assert len(said) == 2
    assert said.untold() == ["files.img: missing", "pid 3: command line not readable"]
    assert said.untold() == []  # told once


def test_a_part_says_what_it_said_in_the_order_it_said_it() -> None:
    said = Diagnostics()
    said.warn("hostile name", part=Part.LISTING)
    said.warn("damaged", where="core-1.img", part=Part.PROCESSES)
    said.warn("layer cut short", part=Part.CHANGES)
    said.warn("hostile name", part=Part.CHANGES)  # joins the changes' part after what it said first
    assert said.said(Part.LISTING, Part.PROCESSES) == ["hostile name", "core-1.img: damaged"]
    assert said.said(Part.CHANGES) == ["layer cut short", "hostile name"]
    assert said.said(Part.MOUNTS) == []
    said.untold()
    assert said.said(Part.CHANGES) == ["layer cut short", "hostile name"]  # told or not


def test_a_question_about_some_processes_hears_only_of_those() -> None:
    said = Diagnostics()
    said.of_process(7, "pagemap runs overlap", part=Part.MEMORY)
    said.warn("memfds unknown", part=Part.MEMORY)
    said.of_process(9, "mm-9.img missing", part=Part.MEMORY)
    assert said.said(Part.MEMORY, pids={9}) == ["memfds unknown", "pid 9: mm-9.img missing"]
    assert said.untold([9]) == ["memfds unknown", "pid 9: mm-9.img missing"]
    assert said.untold([9]) == []
    assert said.untold([7]) == ["pid 7: pagemap runs overlap"]  # left for when 7 is asked about


def test_untold_of_some_parts_keeps_the_others_for_later() -> None:
    said = Diagnostics()
    said.warn("a", part=Part.FILES)
    said.warn("b", part=Part.PROCESSES)
    said.warn("c", part=Part.FILES)
    assert said.untold(parts=(Part.FILES,)) == ["a", "c"]
    assert said.untold() == ["b"]


def test_notes_are_kept_but_never_told_as_warnings() -> None:
    said = Diagnostics()
    said.note("read through the spool", where="pages-1.img")
    said.warn("truncated", where="pages-2.img")
    assert said.notes() == ["pages-1.img: read through the spool"]
    assert said.warnings() == said.untold() == ["pages-2.img: truncated"]
    assert [d.level for d in said] == [Level.NOTE, Level.WARNING]


def test_tell_says_and_tells_given_diagnostics_once() -> None:
    said = Diagnostics()
    left_out = [Diagnostic("a zombie", "pid 4", pid=4)]
    assert said.tell(left_out) == ["pid 4: a zombie"]
    assert said.tell(left_out) == [] and said.untold() == []


def test_with_several_checkpoints_each_line_names_its_own() -> None:
    said = Diagnostics(prefix="a.tar")
    said.warn("missing", where="pstree.img")
    assert said.untold() == ["a.tar: pstree.img: missing"]


def test_a_result_list_of_warnings_says_what_is_added_to_it() -> None:
    said = Diagnostics()
    said.warn("damaged", where="core-1.img", part=Part.PROCESSES)
    lines = said.lines(Part.LISTING, Part.PROCESSES)
    lines.append("pid 5 is a zombie")
    lines += ["pid 6: no core file"]
    assert lines == ["core-1.img: damaged", "pid 5 is a zombie", "pid 6: no core file"]
    assert said.lines(Part.PROCESSES) == lines  # a new reader hears of them
    assert said.untold() == lines


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """bare-bash-sleep without files.img and without sleep's mm image."""
    target = tmp_path / "damaged"
    shutil.copytree(BARE, target)
    (target / "files.img").unlink()
    (target / "mm-16122.img").unlink()
    return target


def test_the_model_owns_the_channel_and_its_parts_speak_there(damaged: Path) -> None:
    with CheckpointModel.open(damaged) as model:
        table = model.files()
        assert model.store.diagnostics is model.diagnostics
        files = [d for d in model.diagnostics if d.where == "files.img"]
        assert [d.what for d in files] == ["missing (which file, pipe or socket each descriptor is, unknown)"]
        assert table.warnings == model.diagnostics.said(Part.FILES)
        assert "pid 16122: mm-16122.img missing: its program (exe) unknown" in table.warnings
        exe = next(d for d in model.diagnostics if d.what.startswith("mm-16122.img missing: its program"))
        assert (exe.where, exe.pid, exe.level) == ("pid 16122", 16122, Level.WARNING)


def test_memory_warnings_are_told_per_process(damaged: Path) -> None:
    with CheckpointModel.open(damaged) as model:
        model.memories([16120])  # lays out every process's memory (shared objects are looked for)
        told = model.diagnostics.untold([16120])
        about_sleep = [line for line in model.diagnostics.said(Part.MEMORY) if line.startswith("pid 16122:")]
        assert about_sleep and not any(line.startswith("pid 16122:") for line in told)
        assert model.diagnostics.untold([16122], parts=(Part.MEMORY,)) == about_sleep  # told when asked about
        assert model.diagnostics.untold([16122], parts=(Part.MEMORY,)) == []


def test_a_process_without_memory_is_said_once(damaged: Path) -> None:
    with CheckpointModel.open(damaged) as model:
        process = model.tree.by_pid(16120)
        assert process is not None
        process.dumped = False  # as a pstree entry without its core image
        assert [str(d) for d in model.memories_left_out([16120])] == [
            "pid 16120: not dumped (no core image): it has no memory"
        ]
        model.memories([16120])
        first = model.diagnostics.untold([16120])
        model.memories([16120])
        again = model.diagnostics.untold([16120])
        assert first == ["pid 16120: not dumped (no core image): it has no memory"] and again == []
        assert first[0] in model.tree.warnings  # the processes' part says it


# Every command is declared: no function is handed a list of warnings any more (what they
# found is said to the model's diagnostics and told through the declaration).
MIGRATING: set[str] = set()


def _functions() -> list[tuple[str, object]]:
    found = []
    for package in (checkforensics.model, checkforensics.analysis):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if getattr(value, "__module__", None) != module.__name__:
                    continue
                if inspect.isfunction(value):
                    found.append((f"{module.__name__}.{name}", value))
                elif inspect.isclass(value):
                    # a result's own fields are no signature (ProcessTree, FileTable, ... carry warnings)
                    fields = {"__init__"} if dataclasses.is_dataclass(value) else set()
                    found += [
                        (f"{module.__name__}.{name}.{attribute}", member)
                        for attribute, member in vars(value).items()
                        if inspect.isfunction(member) and attribute not in fields
                    ]
    return found


def test_no_function_of_the_model_or_the_analyses_takes_a_list_of_warnings() -> None:
    functions = _functions()
    assert len(functions) > 300  # every module was walked
    taking = {name for name, function in functions if "warnings" in inspect.signature(function).parameters}
    assert taking == MIGRATING
