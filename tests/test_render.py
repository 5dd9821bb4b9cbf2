"""The look of tables: the plain layout written without rich is the one rich prints, and cell
text is never read as markup."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from checkforensics.render import (
    RICH_TREE_NODES,
    TABLE,
    TEXT,
    Table,
    cell,
    plain_columns,
    plain_tree,
    print_table,
    print_tree,
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


def _random_tree(seed: int) -> object:
    import random

    from rich.tree import Tree

    rng = random.Random(seed)
    root = Tree("[bold]processes[/]")
    frontier = [root]
    for _ in range(rng.randint(0, 40)):
        frontier.append(rng.choice(frontier).add(rng.choice(_LABELS)))
    return root


@pytest.mark.parametrize("seed", range(20))
def test_plain_trees_are_laid_out_as_rich_lays_them_out(seed: int) -> None:
    tree = _random_tree(seed)
    buffer = io.StringIO()
    Console(file=buffer, no_color=True, highlight=False, width=100_000, color_system=None, emoji=False).print(tree)
    expected = "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
    assert plain_tree(tree) == expected  # type: ignore[arg-type]
    piped = io.StringIO()
    print_tree(tree, stream=piped)  # type: ignore[arg-type]
    assert piped.getvalue() == expected


def test_a_tree_too_big_for_rich_is_drawn_plain_on_a_terminal_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.tree import Tree

    tree = Tree("[bold]processes[/]")
    for pid in range(RICH_TREE_NODES + 1):
        tree.add(f"[bold]{pid}[/] sleep")
    terminal = io.StringIO()
    monkeypatch.setattr(terminal, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    print_tree(tree, stream=terminal)
    assert "\x1b[" not in terminal.getvalue()
    assert terminal.getvalue() == plain_tree(tree)
