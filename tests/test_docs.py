"""The outputs shown in the docs are what the commands print today.

Every ``$ checkforensics ...`` line inside a fenced block of docs/*.md and docs/commands/*.md
is run in a scratch directory laid out as the repository's root (``fixtures/``), so that it
works as pasted there; the lines shown after it
(until the block ends or the next ``$``) must appear in the real output, in order (a doc may
leave lines out, and says so).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from checkforensics.cli import run

from conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _examples() -> list[tuple[str, str, list[str]]]:
    found = []
    for page in sorted([*DOCS.glob("*.md"), *DOCS.glob("commands/*.md")]):
        in_block, command, shown = False, None, []
        for line in page.read_text().splitlines():
            if line.startswith("```"):
                if command is not None:
                    found.append((page.relative_to(DOCS).as_posix(), command, shown))
                in_block, command, shown = not in_block, None, []
                continue
            if not in_block:
                continue
            if line.startswith("$ "):
                if command is not None:
                    found.append((page.relative_to(DOCS).as_posix(), command, shown))
                command, shown = line[2:], []
            elif command is not None:
                shown.append(line)
    return [(page, command, shown) for page, command, shown in found if command.startswith("checkforensics ")]


EXAMPLES = _examples()


def test_the_docs_have_examples_to_check() -> None:
    assert len(EXAMPLES) >= 15
    assert any("memgrep" in command for _, command, _ in EXAMPLES)


@pytest.mark.parametrize(("page", "command", "shown"), EXAMPLES, ids=[f"{p}: {c}" for p, c, _ in EXAMPLES])
def test_shown_output_is_real(
    page: str, command: str, shown: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (tmp_path / "fixtures").symlink_to(FIXTURES)  # as from the repository's root
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(os.environ, "COLUMNS", "200")
    argv = shlex.split(command)[1:]
    status = run(argv)
    out = capsys.readouterr().out.splitlines()
    assert status in (0, 1), f"{command} exited {status}"
    position = 0
    for line in shown:
        if not line.strip():
            continue
        wanted = line.rstrip()
        while position < len(out) and out[position].rstrip() != wanted:
            position += 1
        assert position < len(out), f"{page}: `{command}` no longer prints:\n{wanted}"
        position += 1


def _pasted_commands() -> list[tuple[str, str]]:
    """Every checkforensics command in the ``sh`` blocks of README.md and docs/quickstart.md,
    as a reader would paste it from the repository's root (after ``&&``, before ``|``)."""
    found = []
    for page in (DOCS.parent / "README.md", DOCS / "quickstart.md"):
        in_block = False
        for line in page.read_text().splitlines():
            if line.startswith("```"):
                in_block = line.strip() == "```sh" and not in_block
                continue
            if in_block:
                command = line.split("&&")[-1].split(" | ")[0].strip()
                if command.startswith("checkforensics "):
                    found.append((page.name, command))
    return found


PASTED = _pasted_commands()


def test_the_readme_has_commands_to_paste() -> None:
    assert len(PASTED) >= 25 and any("crit encode" in command for _, command in PASTED)


def test_commands_work_as_pasted_from_the_repository_root(tmp_path: Path, monkeypatch, capsys) -> None:
    """In order, in one directory (crit encode reads what crit decode wrote)."""
    (tmp_path / "fixtures").symlink_to(FIXTURES)
    monkeypatch.chdir(tmp_path)
    for page, command in PASTED:
        status = run(shlex.split(command, comments=True)[1:])
        err = capsys.readouterr().err
        assert status in (0, 1), f"{page}: `{command}` exited {status}: {err}"
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in tmp_path.iterdir() if p.name != "fixtures")
    assert {"recovered/", "cores/", "pid7.mem", "pid7.mem.index.json", "counters-blog.sha256.json"} <= set(written)
    if shutil.which("git") and (ROOT / ".git").exists():  # what they wrote, run in a clone, stays out of git status
        done = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "--verbose", "--non-matching",
                               *written], capture_output=True, text=True, check=False)  # fmt: skip
        not_ignored = [line.split("\t")[1] for line in done.stdout.splitlines() if line.startswith("::")]
        assert not_ignored == [], f"add them to .gitignore: {not_ignored}"


def _command_cells(page: str, heading: str) -> set[str]:
    """The command names in the first column of the first table from ``heading`` on in docs/PAGE."""
    text = (DOCS / page).read_text()
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    names: set[str] = set()
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1].replace("](", " ").replace(",", " ")
        names |= {word.strip("`[]") for word in first.split() if word.startswith(("`", "[`"))}
    return names


def test_every_command_is_in_the_command_tables() -> None:
    """docs/usage.md's table of commands, and docs/json.md's JSON Lines table for every command
    offering jsonl, name each command the command line has: a new command is missing from
    neither (iocs was, from both)."""
    import click

    from checkforensics.cli import cli, command_names

    listed = _command_cells("usage.md", "| command | what it answers |")
    assert set(command_names()) <= listed
    jsonl = _command_cells("json.md", "## JSON Lines")
    for name in command_names():
        command = cli.get_command(click.Context(cli), name)
        option = next((p for p in command.params if p.name == "fmt"), None)
        if option is not None and "jsonl" in option.type.choices:
            assert name in jsonl, f"docs/json.md, JSON Lines: {name}"
