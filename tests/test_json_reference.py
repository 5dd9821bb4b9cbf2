"""docs/json.md against the declarations, and every declared command's real JSON and JSON Lines
against the record types it declares (checkforensics.records.reference)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from checkforensics.cli import run
from checkforensics.cli.declare import CommandSpec
from checkforensics.records.declare import Field, RecordType
from checkforensics.records.reference import line_problems, problems, resolve
from checkforensics.records.values import INTEGER, TEXT
from tests.commands import argv, sample_id, samples, specs

from conftest import FIXTURES, SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {"counters": FIXTURES / "counters-blog.tar", "intrusion": SCENARIOS / "intrusion.tar.zst"}
DECLARED = [(spec, sample) for spec, sample in samples() if spec.answers and spec.records]


def _script():  # scripts/json-reference.py, loaded as a module
    found = importlib.util.spec_from_file_location("json_reference", ROOT / "scripts" / "json-reference.py")
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def test_the_reference_of_records_is_what_the_declarations_say() -> None:
    text = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    assert _script().updated(text) == text, "run scripts/json-reference.py"


def test_every_command_that_answers_with_records_declares_them_and_is_checked() -> None:
    """Every ``@command`` declares its record types and a sample, so its output is checked below
    (crit, completion and list are declared otherwise)."""
    answering = {spec.name: spec for spec in specs() if spec.answers}
    checked = {spec.name for spec, _ in DECLARED}
    assert answering and sorted(name for name, spec in answering.items() if not spec.records) == []
    assert sorted(set(answering) - checked) == []


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize(("spec", "sample"), DECLARED, ids=sample_id)
def test_json_and_json_lines_have_the_declared_form(
    source: str, spec: CommandSpec, sample: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = resolve(spec.records)
    command = argv(spec, sample, SOURCES[source], tmp_path)
    code = run([*command, "--format", "json"])
    out, err = capsys.readouterr()
    if code == 3:  # what this checkpoint cannot answer (no container log in a bare dump): one line, no output
        assert err.count("checkforensics: error: ") == 1 and not out
        return
    assert code in (0, 1), err
    document = json.loads(out)
    items = document if isinstance(document, list) else None
    said_once: set[str] = set()  # keys of the document about all its records (memdump's pid), which each line repeats
    if items is None:
        assert isinstance(document.get("warnings"), list), "every object document has its warnings"
        plurals = {kind.plural for kind in kinds}
        if not plurals & set(document):  # the one record is the document (verify)
            assert _fits(kinds, {key: value for key, value in document.items() if key != "warnings"}) == []
        said_once = set(document) - plurals - {"warnings"}
        for plural in plurals & set(document):
            for record in document[plural]:
                assert _fits([kind for kind in kinds if kind.plural == plural], record) == []
    else:
        for record in items:
            assert _fits(kinds, record) == []
    out_dir = tmp_path / "again"
    out_dir.mkdir()
    assert run([*argv(spec, sample, SOURCES[source], out_dir), "--format", "jsonl"]) in (0, 1)
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line)
        record = {key: value for key, value in record.items() if key not in said_once or key in _declared(kinds)}
        assert line_problems(record, kinds) == []


def _declared(kinds: list[RecordType]) -> set[str]:
    return {f.name for kind in kinds for f in kind.fields} | {"record"}


def _fits(kinds: list[RecordType], record: object) -> list[str]:
    """What is wrong with ``record`` as the kind it fits best (several kinds may share a
    plural: files with and without --data); empty when one fits."""
    return min((problems(record, kind) for kind in kinds), key=len)


EXAMPLE = RecordType(
    "thing", "things", (Field("pid", INTEGER), Field("name", TEXT, optional=True), Field("x", TEXT, sometimes=True))
)


def test_the_check_finds_what_is_wrong() -> None:
    assert problems({"pid": 1}, EXAMPLE) == []
    assert problems({"pid": None, "name": "a", "x": "b"}, EXAMPLE) == []
    assert problems({"name": "a"}, EXAMPLE) == ["thing: no `pid`"]
    assert problems({"pid": "1"}, EXAMPLE) == ["thing.pid: str, not integer"]
    assert problems({"pid": True}, EXAMPLE) == ["thing.pid: bool, not integer"]
    assert problems({"pid": 1, "other": 2}, EXAMPLE) == ["thing: undeclared `other`"]
