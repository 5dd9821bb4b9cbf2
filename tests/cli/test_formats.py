"""One --format vocabulary: every command offers the formats docs/usage.md and its page list,
and each format is what it says: JSON one valid document, JSON Lines one valid record a line
(the same records as the JSON document), table a plain ASCII table with no box or tree glyph.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from checkforensics.cli import cli, run

from conftest import FIXTURES, SCENARIOS

COUNTERS = str(FIXTURES / "counters-blog.tar")
LATER = str(FIXTURES / "counters-blog-later.tar.zst")
INFLIGHT = str(FIXTURES / "inflight.tar.zst")
PROC = str(SCENARIOS / "proc")
INTRUSION = str(SCENARIOS / "intrusion.tar.zst")
DOCS = Path(__file__).resolve().parents[2] / "docs"

ALL = ("text", "table", "json", "jsonl")
GLYPHS = re.compile("[\u2500-\u257f]")  # box drawing: rich's tables and trees


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def _offered(path: tuple[str, ...]) -> tuple[str, ...] | None:
    option = next((p for p in _command(path).params if p.name == "fmt"), None)
    return None if option is None else tuple(option.type.choices)  # type: ignore[attr-defined]


def _documented() -> dict[tuple[str, ...], set[frozenset[str]]]:
    """``--format a|b|c`` of every synopsis in docs/commands/*.md (a line starting with
    ``checkforensics COMMAND`` and the indented lines after it), by command."""
    found: dict[tuple[str, ...], set[frozenset[str]]] = {}
    for page in sorted((DOCS / "commands").glob("*.md")):
        command = None
        for line in page.read_text().splitlines():
            start = re.match(r"checkforensics ((?:crit )?[a-z]+)\b", line)
            if start:
                command = tuple(start[1].split())
            elif not line.startswith(" "):
                command = None
            formats = re.search(r"--format ([a-z|]+)\]", line)
            if command is not None and formats:
                found.setdefault(command, set()).add(frozenset(formats[1].split("|")))
    return found


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's path (``("crit", "x")``), found as the command line finds them."""
    found = []
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        found += _commands(command, (*prefix, name)) if isinstance(command, click.Group) else [(*prefix, name)]
    return found


def test_every_command_offers_its_documented_formats() -> None:
    """What each command's --format offers is what its page's synopsis says (every command,
    found as the command line finds them: a new one is checked without being listed here),
    and every format offered is described in docs/usage.md."""
    documented = _documented()
    usage = (DOCS / "usage.md").read_text()
    offering = {path: _offered(path) for path in _commands()}
    offering = {path: formats for path, formats in offering.items() if formats is not None}
    assert {"ps", "history", "timeline", "iocs"} <= {" ".join(path) for path in offering}
    for path, formats in offering.items():
        assert documented.get(path) == {frozenset(formats)}, f"docs/commands: {' '.join(path)}"
        assert set(ALL) & set(formats), path  # each speaks at least one of the usual four
        assert all(f"`{name}`" in usage for name in formats), path


def test_commands_without_a_format_are_the_crit_codecs_and_completion() -> None:
    def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        found = []
        for name in group.list_commands(click.Context(group)):
            command = group.get_command(click.Context(group), name)
            found += commands(command, (*prefix, name)) if isinstance(command, click.Group) else [(*prefix, name)]
        return found

    without = {path for path in commands(cli) if _offered(path) is None}
    assert without == {("completion",), ("crit", "decode"), ("crit", "encode"), ("crit", "show")}
    for path in commands(cli):
        if _offered(path) is not None:
            assert any(p.name == "no_color" for p in _command(path).params), path


def _flat_files(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"pid": p["pid"], "comm": p["comm"], **fd} for p in doc["processes"] for fd in p["fds"]]


def _tagged(doc: dict[str, Any], keys: dict[str, str]) -> list[dict[str, Any]]:
    return [{"record": tag, **item} for key, tag in keys.items() for item in doc.get(key, [])]


def _changes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"change": "changed", **f} for f in doc["changed"]] + [{"change": "deleted", **d} for d in doc["deleted"]]


def _comparison(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"section": section, "change": kind, **record}
        for section, value in doc.items()
        if section not in ("a", "b", "container_id", "container_name", "image", "summary", "warnings")
        for kind, records in value.items()
        for record in records
    ]


def _regions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"pid": doc["pid"], "comm": doc["comm"], "output": doc["output"], **r} for r in doc["regions"]]


def _without_time(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in record.items() if k != "recorded"} for record in records]


Records = Callable[[Any], list[Any]]


def _record(document: dict[str, Any]) -> dict[str, Any]:
    """A one-record document's record: its keys but ``warnings``, which JSON Lines leaves out."""
    return {key: value for key, value in document.items() if key != "warnings"}

# name: (argv, what the JSON Lines records are, taken from the JSON document)
CASES: dict[str, tuple[list[str], Records]] = {
    "show": (["show", COUNTERS, PROC, "--print-stats"], lambda doc: doc),
    "inspect": (["inspect", COUNTERS, PROC, "--all"], lambda doc: doc),
    "inspect-processes": (["inspect", PROC, "--ps-tree-cmd", "--files", "--sockets", "--pid", "17386"], lambda d: d),
    "list": (["list", str(FIXTURES)], lambda doc: doc["checkpoints"]),
    "ps": (["ps", PROC, "--tree", "--env"], lambda doc: doc["processes"]),
    "files": (["files", INFLIGHT, "--data"], _flat_files),
    "sockets": (["sockets", str(SCENARIOS / "sockets")], _flat_files),
    "recover": (["recover", INFLIGHT, "-o", "{out}/recovered", "--force"], lambda doc: doc["items"]),
    "diff": (["diff", COUNTERS], _changes),
    "diff-two": (["diff", COUNTERS, LATER, "--secrets"], _comparison),
    "diff-extract": (["diff", COUNTERS, "--extract", "{fresh}"], lambda doc: doc["entries"]),
    "coredump": (["coredump", PROC, "--pid", "17386", "-o", "{out}", "--force"], lambda doc: doc["cores"]),
    "memgrep": (
        ["memgrep", PROC, "marker-proc-root-c0de", "--secrets"],
        lambda doc: _tagged(doc, {"findings": "finding", "matches": "match", "shared_matches": "shared_match"}),
    ),
    "memgrep-secrets": (["memgrep", COUNTERS, "--secrets"], lambda doc: _tagged(doc, {"findings": "finding"})),
    "memparse": (
        ["memparse", str(SCENARIOS / "ns")],
        lambda doc: _tagged(doc, {"processes": "process", "shared": "shared"}),
    ),
    "memparse-pid": (["memparse", COUNTERS, "--pid", "7", "--vma-type", "heap"], _regions),
    "memdump": (["memdump", COUNTERS, "--pid", "7", "--vma-type", "stack", "-o", "{out}/s.bin", "--force"], _regions),
    "triage": (["triage", COUNTERS], lambda doc: doc["findings"]),
    "malfind": (["malfind", INTRUSION], lambda doc: doc["regions"]),
    "iocs": (["iocs", INTRUSION, "--include-local"], lambda doc: doc["indicators"]),
    "malfind-dump": (["malfind", INTRUSION, "--dump", "{fresh}"], lambda doc: doc["regions"]),
    "verify": (  # its one record is the document, less the document's warnings
        ["verify", COUNTERS, "--expect", "0" * 64], lambda doc: [_record(doc)]
    ),
    "report": (["report", COUNTERS, "-o", "{out}/report.html", "--force"], lambda doc: [_record(doc)]),
    "crit-x": (["crit", "x", PROC, "mems"], lambda doc: doc),
    "crit-info": (["crit", "info", COUNTERS, "pagemap-7.img"], lambda doc: doc),
}


def _run(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    fresh = itertools.count()
    args = [a.replace("{out}", str(out)) for a in argv]
    args = [str(out / f"new-{next(fresh)}-{len(list(out.iterdir()))}") if a == "{fresh}" else a for a in args]
    status = run(args)
    return status, capsys.readouterr().out


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_format_is_what_it_says(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv, records = CASES[case]
    path = tuple(argv[:2]) if argv[0] == "crit" else (argv[0],)
    outputs, statuses = {}, set()
    for fmt in _offered(path) or ():
        status, outputs[fmt] = _run([*argv, "--format", fmt], tmp_path, capsys)
        statuses.add(status)
        assert status in (0, 1), f"{case} --format {fmt} exited {status}"
        assert "\x1b" not in outputs[fmt]  # no colour when piped
    assert len(statuses) == 1, f"{case}: the exit code depends on the format"
    assert not GLYPHS.search(outputs.get("table", "")), f"{case} --format table drew box or tree glyphs"
    document = json.loads(outputs["json"])
    if "jsonl" in outputs:
        lines = [json.loads(line) for line in outputs["jsonl"].splitlines()]
        assert all(isinstance(line, dict) for line in lines)
        assert _without_time(lines) == _without_time(records(document))
    assert outputs["text"].strip()


def test_memgrep_jsonl_has_the_matches_of_the_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["memgrep", COUNTERS, "RANDOM_1432_KEY", "ghp_R3alLookingGitHubTokenValue0123456789", "--hash"]
    assert run([*argv, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert run([*argv, "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    matches = [{k: v for k, v in line.items() if k != "record"} for line in lines if line["record"] == "match"]
    assert matches == document["matches"] and len(matches) == 3
    assert lines[-1] == {"record": "archive", "archive": COUNTERS, "sha256": document["sha256"]}


@pytest.mark.parametrize(
    "argv", [["ps", PROC, "--tree"], ["diff", COUNTERS, LATER], ["inspect", COUNTERS, "--all"]], ids=" ".join
)
def test_trees_are_text_and_tables_are_not_trees(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*argv, "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert GLYPHS.search(text)
    assert run([*argv, "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert not GLYPHS.search(table) and re.search(r"^-+ ", table, re.MULTILINE)  # tabulate's header rule


def test_ps_tree_as_a_table_indents_children(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ps", PROC, "--tree", "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    command = lines[0].index("COMMAND")
    by_pid = {line.split()[0]: line[command:] for line in lines[2:]}
    assert by_pid["17385"].startswith("/tmp/cfw-scenarios/bin/holder")  # the root
    assert by_pid["17386"].startswith("  cfw-renamed-argv0")  # its child
    assert by_pid["17394"].startswith("    cfw-renamed-argv0")  # and grandchild


def test_diff_table_lists_each_change(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", COUNTERS, LATER, "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == ["Container: counters", "Image:     localhost/adrianreber/counter:blog",
                         "ID:        e4ec5ab9b0956e3401009d65b82e7e301cefd7613c03a85ed72b0c52733b4409", ""]  # fmt: skip
    assert lines[4].split() == ["SECTION", "CHANGE", "WHAT", "DETAILS"]
    assert lines[-2:] == ["", "Summary: container counters: files +1 ~1, memory dumped +4096 bytes"]
    assert any("+" in line.split() and "/home/counter/second-file" in line for line in lines)
    assert any(line.startswith("Memory dumped") and "(+4096 bytes)" in line for line in lines)


@pytest.mark.parametrize("argv", [["inspect", COUNTERS, "--all"], ["diff", COUNTERS, LATER]], ids=" ".join)
def test_tree_is_still_accepted_but_not_offered(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*argv, "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert run([*argv, "--format", "tree"]) == 0
    assert capsys.readouterr().out == text
    assert run([argv[0], "--help"]) == 0
    assert "tree" not in re.search(r"--format \[([a-z|]+)\]", capsys.readouterr().out)[1]


def test_warnings_stay_on_stderr_in_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memgrep", COUNTERS, "--regex", r"\x00{8}", "--max-count", "2", "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    assert "checkforensics: warning: pid 7: more than 2 matches" in captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert {line["record"] for line in lines} == {"match"} and len(lines) == 6  # 2 in each of 3 processes


def _modules(argv: list[str]) -> set[str]:
    """The rich and tabulate modules a command imported, its output piped."""
    code = (
        "import sys\nfrom checkforensics.cli import run\nrun(sys.argv[1:])\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('rich', 'tabulate')), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    return set(done.stderr.splitlines()[-1].split())


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_imports_neither_rich_nor_tabulate(fmt: str) -> None:
    assert _modules(["ps", COUNTERS, "--tree", "--format", fmt]) == set()
    assert _modules(["inspect", COUNTERS, "--all", "--format", fmt]) == set()


def test_piped_text_tables_draw_without_rich_or_tabulate() -> None:
    heavy = {"rich.console", "rich.table", "rich.tree", "tabulate"}
    assert not _modules(["ps", COUNTERS]) & heavy
    assert not _modules(["files", COUNTERS]) & heavy
    assert "rich.console" not in _modules(["ps", COUNTERS, "--tree", "--format", "table"])
