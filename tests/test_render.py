"""The look of tables: the plain layout written without rich is the one rich prints, and cell
text is never read as markup."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from checkforensics.render import (
    JSON,
    JSONL,
    RICH_TREE_NODES,
    TABLE,
    TEXT,
    Lines,
    Result,
    Table,
    Tree,
    View,
    cell,
    json_text,
    plain_columns,
    plain_tree,
    print_table,
    printable,
    render,
    tree_text,
)

ROWS = [
    [1, "bash", "559e42bd9000-559e42bfa000 rw-p [heap]", None],
    [16120, "[bold]not markup[/]", "", ["a", "b"]],
    [7, "wide 漢字 name", "two\nlines", 0],
]


def _rich_layout(table: Table) -> str:
    """What rich prints for ``table`` without colour (the layout plain_columns must equal)."""
    rich_table = RichTable(title=table.title, title_justify="left", show_edge=False, pad_edge=False, box=None)
    for column in table.columns:
        rich_table.add_column(column, overflow="fold")
    for row in table.rows:
        rich_table.add_row(*(Text(cell(v)) for v in row))
    buffer = io.StringIO()
    Console(file=buffer, no_color=True, width=100_000, color_system=None, emoji=False).print(rich_table)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


@pytest.mark.parametrize("title", [None, "pages of pid 7"])
def test_plain_layout_is_richs(title: str | None) -> None:
    table = Table(["PID", "COMM", "VMA", "MORE"], ROWS, title=title)
    assert plain_columns(table) == _rich_layout(table)


def test_piped_text_keeps_brackets_and_missing_values() -> None:
    out = io.StringIO()
    print_table(Table(["PID", "COMM", "VMA", "MORE"], ROWS), TEXT, stream=out)
    text = out.getvalue()
    assert "rw-p [heap]" in text and "[bold]not markup[/]" in text
    first = text.splitlines()[1]
    assert first.split() == ["1", "bash", "559e42bd9000-559e42bfa000", "rw-p", "[heap]", "-"]


def test_colour_output_keeps_brackets(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal rich draws the table; cell text still is not markup."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Terminal()
    print_table(Table(["PID", "COMM"], [[1, "[bold]not markup[/]"], [2, "x [heap]"]]), TEXT, stream=out)
    assert "[bold]not markup[/]" in out.getvalue() and "[heap]" in out.getvalue()


def test_ascii_table() -> None:
    out = io.StringIO()
    print_table(Table(["PID", "COMM"], [[1, "bash"], [None, "[x]"]]), TABLE, stream=out)
    assert out.getvalue().splitlines() == ["PID    COMM", "-----  ------", "1      bash", "-      [x]"]


def test_control_characters_from_the_evidence_never_reach_the_terminal() -> None:
    """A file or process name can carry an escape sequence or a newline: shown escaped, it
    neither drives the terminal nor fakes a row."""
    hostile = "evil\x1b[2J\x1b]0;owned\x07\nfake-row\x9b"
    out = io.StringIO()
    print_table(Table(["PID", "COMM"], [[1, hostile]]), TEXT, stream=out)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert len(text.splitlines()) == 2
    assert "evil\\x1b[2J\\x1b]0;owned\\x07\\x0afake-row\\x9b" in text
    assert "\x1b" not in tree_text(hostile)
    assert tree_text("[bold]x[/]") == "\\[bold]x\\[/]"  # and brackets are not markup


_LABELS = [
    "plain", "[bold]7[/] bash", "\\[x]", "\\\\[bold]x[/]", "\\\\\\[bold]", "a\\[b\\[c", "x [1] y",
    "[dim]threads 1, 2[/]", tree_text("[weird] \\ [/] x\\ \x1b]0;title\x07"), "[red]a[/red] [b]", "two\nlines",
    "para\u2028graph",
]  # fmt: skip


def _random_tree(seed: int) -> Tree:
    import random

    rng = random.Random(seed)
    root = Tree("[bold]processes[/]")
    frontier = [root]
    for _ in range(rng.randint(0, 40)):
        frontier.append(rng.choice(frontier).add(rng.choice(_LABELS)))
    return root


def _as_rich(tree: Tree, label: Callable[[str], str] = lambda text: text) -> object:
    """The same tree built with rich's own Tree, each label through ``label``."""
    from rich.tree import Tree as RichTree

    drawn = RichTree(label(tree.label))
    for child in tree.children:
        drawn.children.append(_as_rich(child, label))  # type: ignore[arg-type]
    return drawn


def _rich_plain(tree: object) -> str:
    buffer = io.StringIO()
    Console(file=buffer, no_color=True, highlight=False, width=100_000, color_system=None, emoji=False).print(tree)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


@pytest.mark.parametrize("seed", range(20))
def test_plain_trees_are_laid_out_as_rich_lays_them_out(seed: int) -> None:
    tree = _random_tree(seed)
    assert plain_tree(tree) == _rich_plain(_as_rich(tree, printable))
    piped = io.StringIO()
    render(Result(text=[tree]), TEXT, stream=piped)
    assert piped.getvalue() == _rich_plain(_as_rich(tree, printable))


@pytest.mark.parametrize("seed", range(5))
def test_trees_on_a_colour_terminal_are_drawn_by_rich_with_the_same_lines(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _random_tree(seed)
    terminal = io.StringIO()
    monkeypatch.setattr(terminal, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    render(Result(text=[tree]), TEXT, stream=terminal)
    without_styles = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())
    assert "".join(line.rstrip() + "\n" for line in without_styles.splitlines()) == plain_tree(tree)


@given(st.text(alphabet=st.sampled_from("ab[]/\\#@ \x1b\u2028z"), max_size=24))
def test_tree_text_escapes_markup_as_rich_does(text: str) -> None:
    from rich.markup import escape

    assert tree_text(text) == escape(printable(text))


def test_a_tree_too_big_for_rich_is_drawn_plain_on_a_terminal_too(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = Tree("[bold]processes[/]")
    for pid in range(RICH_TREE_NODES + 1):
        tree.add(f"[bold]{pid}[/] sleep")
    terminal = io.StringIO()
    monkeypatch.setattr(terminal, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    render(Result(text=[tree]), TEXT, stream=terminal)
    assert "\x1b[" not in terminal.getvalue()
    assert terminal.getvalue() == plain_tree(tree)


MAPPING = [  # raw text, as text output shows it
    ("evil\x1b]0;pwned\x07", "evil\\x1b]0;pwned\\x07"),  # C0 controls
    ("del\x7f csi\x9b", "del\\x7f csi\\x9b"),  # DEL, C1
    ("a\u202eb\u2066c\u200bd\ufeffe", "a\\u202eb\\u2066c\\u200bd\\ufeffe"),  # bidi, format
    ("l\u2028p\u2029", "l\\u2028p\\u2029"),  # line and paragraph separators
    ("tag\U000e0041", "tag\\U000e0041"),  # a format character beyond the BMP
    ("byte\udcff", "byte\\xff"),  # an undecodable byte, as surrogateescape decodes it
    ("lone\ud800", "lone\\ud800"),  # another lone surrogate
    ("w\u00ebird \u2713 \u6f22\u5b57 back\\slash", "w\u00ebird \u2713 \u6f22\u5b57 back\\slash"),  # printable: kept
]


@pytest.mark.parametrize(("raw", "shown"), MAPPING)
def test_the_one_mapping(raw: str, shown: str) -> None:
    """docs/security.md: what text output makes of each kind of character."""
    assert printable(raw) == shown
    assert printable(shown) == shown  # escaping twice changes nothing
    assert cell(raw) == shown and tree_text(raw) == shown


@pytest.mark.parametrize(("raw", "shown"), MAPPING)
def test_json_keeps_characters_and_writes_escapes(raw: str, shown: str) -> None:
    """docs/json.md: JSON holds the very character, written as an escape, except surrogates,
    which UTF-8 cannot hold: their text escape (as in text output) instead."""
    for text in (json_text({raw: [raw]}), json_text(raw, indent=2), json_text(raw, compact=True)):
        text.encode("utf-8")
        assert all(char.isprintable() or char == "\n" for char in text)
        value = json.loads(text)
        value = next(iter(value)) if isinstance(value, dict) else value
        assert value == (shown if "\ud800" in raw or "\udcff" in raw else raw)
    assert json_text("\x1b\x7f\x9b\u202e\U000e0041") == '"\\u001b\\u007f\\u009b\\u202e\\udb40\\udc41"'


DOCUMENT = {"processes": [{"pid": 1, "comm": "bash", "env": ["A=1"]}], "empty": [], "nested": {"x": None}, "n": 3}


def _rendered(result: Result, fmt: str) -> str:
    out = io.StringIO()
    render(result, fmt, stream=out)
    return out.getvalue()


def test_json_written_field_by_field_is_laid_out_as_one_document() -> None:
    expected = json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n"
    assert _rendered(Result(json=DOCUMENT), JSON) == expected
    streamed = {**DOCUMENT, "processes": iter(DOCUMENT["processes"]), "empty": iter([]), "n": lambda: 3}
    assert _rendered(Result(json=lambda: streamed), JSON) == expected
    listed = [DOCUMENT, {"n": 4}]
    assert _rendered(Result(json=iter(listed)), JSON) == json.dumps(listed, indent=2) + "\n"
    assert _rendered(Result(json=iter([])), JSON) == "[]\n"


def test_records_are_written_as_they_come() -> None:
    """Nothing is held back: each record is on the stream before the next is asked for."""
    out = io.StringIO()

    def records():
        for number in range(3):
            assert out.getvalue().count("\n") == number
            yield {"n": number, "text": "é"}

    render(Result(jsonl=records), JSONL, stream=out)
    assert out.getvalue() == "".join(f'{{"n":{n},"text":"é"}}\n' for n in range(3))

    def fields():
        for number in range(3):
            assert out.getvalue().count('"n"') == number
            yield {"n": number}

    out = io.StringIO()
    render(Result(json={"records": fields()}), JSON, stream=out)
    assert json.loads(out.getvalue())["records"][2] == {"n": 2}


def test_only_the_format_asked_for_is_built() -> None:
    def never() -> None:
        raise AssertionError("built for another format")

    table = Table(["A"], [[1]])
    assert _rendered(Result(json={"a": 1}, jsonl=never, text=never), JSON) == '{\n  "a": 1\n}\n'
    assert _rendered(Result(json=never, jsonl=[{"a": 1}], text=never), JSONL) == '{"a":1}\n'
    assert _rendered(Result(json=never, jsonl=never, text=[View(text=lambda: "words", table=never)]), TEXT) == "words\n"
    assert _rendered(Result(text=[View(text=never, table=lambda: table)]), TABLE) == "  A\n---\n  1\n"


def test_text_blocks_are_apart_by_one_blank_line() -> None:
    blocks = [Table(["A"], [[1]]), None, [], "one line", [Lines(iter(["x", "y"]))]]
    assert _rendered(Result(text=blocks), TEXT) == "A\n1\n\none line\n\nx\ny\n"


def test_a_string_or_a_line_is_one_line() -> None:
    """A newline inside a string block or an item of Lines is escaped: only the renderer
    starts lines. Lines may keep tabs (a file shown whole, crit's layout)."""
    blocks = ["a\nb", Lines(["c\rd\te", "f\x1b"]), Lines(["g\th\x07"], tabs=True)]
    assert _rendered(Result(text=blocks), TEXT) == "a\\x0ab\n\nc\\x0dd\\x09e\nf\\x1b\n\ng\th\\x07\n"


def test_a_table_keeps_the_indentation_of_its_cells() -> None:
    """A tree drawn as a table indents with spaces; tabulate would strip them."""
    out = _rendered(Result(text=[Table(["PID", "COMMAND"], [[1, "init"], [7, "  child"]])]), TABLE)
    assert out.splitlines()[2:] == ["    1  init", "    7    child"]


def test_warnings_go_to_stderr_after_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    warnings: list[str] = []

    def records():
        yield {"n": 1}
        warnings.append("found while writing")

    render(Result(jsonl=records, warnings=warnings), JSONL)
    captured = capsys.readouterr()
    assert captured.out == '{"n":1}\n'
    assert captured.err == "checkforensics: warning: found while writing\n"


def test_a_one_record_answer_is_the_record_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """``Answer.single`` (report): the JSON document is the record's keys and ``warnings``; JSON
    Lines the record alone; text its line."""
    from checkforensics.records.declare import Answer, Field, RecordType, Section
    from checkforensics.records.values import SIZE, TEXT
    from checkforensics.render.answers import write_answer

    written = RecordType("written", "written", (Field("output", TEXT), Field("size", SIZE)), ("output", "size"),
                         line=lambda item: f"wrote {item['output']} ({item['size']} bytes)")  # fmt: skip

    def answer() -> Answer:
        return Answer([Section(written, [{"output": "r.html", "size": 2048}])], single=True, warnings=["cut"])

    outputs = {}
    for fmt in ("json", "jsonl", "text"):
        assert write_answer(answer(), fmt, warnings=lambda: ["cut"]) == 0
        outputs[fmt], err = capsys.readouterr()
        assert err == "checkforensics: warning: cut\n"
    assert json.loads(outputs["json"]) == {"output": "r.html", "size": 2048, "warnings": ["cut"]}
    assert outputs["jsonl"] == '{"output":"r.html","size":2048}\n'
    assert outputs["text"] == "wrote r.html (2048 bytes)\n"


def test_a_grouped_section_is_nested_in_json_and_ordered_by_group_in_json_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``Section.groups``: records placed by their group fields (left out there), every group
    present even when empty; JSON Lines group by group, fields kept; text in the items' order."""
    from checkforensics.records.declare import Answer, Field, RecordType, Section
    from checkforensics.records.values import TEXT
    from checkforensics.render.answers import write_answer

    kind = RecordType("change", "changes", (Field("section", TEXT), Field("change", TEXT), Field("path", TEXT)),
                      ("section", "change", "path"), group=("section", "change"))  # fmt: skip
    items = [
        {"section": "files", "change": "added", "path": "/a"},
        {"section": "deleted", "change": "added", "path": "/b"},
        {"section": "files", "change": "removed", "path": "/c"},
    ]
    groups = (("deleted", "added"), ("files", "added"), ("files", "removed"), ("files", "changed"))

    def written(fmt: str) -> tuple[int, str]:
        code = write_answer(Answer([Section(kind, items, groups=groups)], head={"a": "x"}), fmt)
        return code, capsys.readouterr().out

    code, out = written("json")
    assert code == 0 and json.loads(out) == {
        "a": "x",
        "deleted": {"added": [{"path": "/b"}]},
        "files": {"added": [{"path": "/a"}], "removed": [{"path": "/c"}], "changed": []},
        "warnings": [],
    }
    _, out = written("jsonl")
    assert [json.loads(line)["path"] for line in out.splitlines()] == ["/b", "/a", "/c"]
    assert json.loads(out.splitlines()[0]) == items[1]
    _, out = written("table")
    assert [line.split()[-1] for line in out.splitlines()[2:]] == ["/a", "/b", "/c"]
