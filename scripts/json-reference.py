#!/usr/bin/env python3
"""Write docs/json.md's reference of records from the commands' declarations (the part between
the markers); `--check` only says whether it is current (exit 1 when not)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from checkforensics.cli import cli, command_names
from checkforensics.cli.declare import spec_of
from checkforensics.records.reference import BEGIN, END, markdown, resolve

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"


def reference() -> str:
    context = click.Context(cli)
    commands = {}
    for name in command_names():
        spec = spec_of(cli.get_command(context, name))
        if spec.records:
            commands[name] = resolve(spec.records)
    return markdown(commands)


def updated(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        raise SystemExit(f"{DOC}: no markers for the reference of records ({BEGIN} ... {END})")
    return text[:start] + reference() + text[end + len(END) + 1 :]


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print(f"{DOC}: its reference of records is not what the declarations say; run {sys.argv[0]}")
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
