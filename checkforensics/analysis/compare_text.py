"""How ``diff A B`` shows its differences to people: each record named in a few words, a tree
of the kinds (``--format text``) and a table (``--format table``). The JSON form is the
``DIFFERENCE`` record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from checkforensics.analysis.compare import MARKS, TITLES, Difference
from checkforensics.model.descriptions import socket_summary
from checkforensics.records.values import COMMAND_LINE, human_size, quote_command
from checkforensics.render import Table, Tree, cell, tree_text

COLOURS = {"added": "green", "removed": "red", "changed": "yellow", "unchanged": "dim"}


def _process(r: dict[str, Any]) -> str:
    return f"[{r['pid']}] {r.get('comm')} {quote_command(r.get('cmdline')) or ''}".rstrip()


def _descriptor(r: dict[str, Any]) -> str:
    what = r.get("path") or (f"{r.get('local')} -> {r.get('remote')} {r.get('state')}" if r.get("local") else "")
    return f"[{r['pid']} fd {r['fd']}] {r['type']} {what or ''}".rstrip()


def _socket(r: dict[str, Any]) -> str:
    transport = r.get("proto") or r.get("sock_type")  # TCP, UDP...; a UNIX socket's type
    ends = (r.get("local"), r.get("remote"), r.get("peer"))
    return f"[{r['pid']} fd {r['fd']}] {socket_summary(r.get('family'), transport, r.get('state'), *ends)}"


_DESCRIBE = {
    "processes": _process,
    "descriptors": _descriptor,
    "sockets": _socket,
    "files": lambda r: f"{r['path']} ({r['type']}, {human_size(r.get('size'))})",
    "deleted": lambda r: r["path"],
    "secrets": lambda r: f"{r['rule']} {r['value']} in [{r['pid']}] {r['comm']} at {r['address']:#x}",
    "memory": lambda r: f"[{r['pid']}] {r.get('comm')}",
}


def describe(difference: Difference) -> str:
    """The record in a few words: ``[7] python3 /app/run.py``, ``/etc/passwd (file, 1.2 KiB)``."""
    return _DESCRIBE[difference.section](difference.record)


def _value(name: str, value: Any) -> str:
    return COMMAND_LINE.text(value) if name == "cmdline" else cell(value)


def _changes(difference: Difference) -> list[str]:
    """``field: before -> after`` for each field that changed."""
    changes = difference.record.get("changes", {}) if difference.change == "changed" else {}
    return [f"{name}: {_value(name, c['before'])} -> {_value(name, c['after'])}" for name, c in changes.items()]


def details(difference: Difference) -> str | None:
    """What changed in the record; for memory, its size (and how it changed)."""
    record = difference.record
    if difference.section != "memory":
        return "; ".join(_changes(difference)) or None
    if difference.change == "changed":
        before, after = record["changes"]["bytes"]["before"], record["changes"]["bytes"]["after"]
        return f"{human_size(before)} -> {human_size(after)} ({after - before:+d} bytes)"
    return human_size(record["bytes"])


def _shown(difference: Difference) -> bool:
    return not (difference.section == "memory" and difference.change == "removed")


def comparison_table(found: Iterable[Difference]) -> list[Table]:
    """One row per difference (the memory of removed processes left out)."""
    from checkforensics.analysis.compare import DIFFERENCE

    rows = [DIFFERENCE.row(difference) for difference in found if _shown(difference)]
    return [Table(DIFFERENCE.headers, rows)] if rows else []


def _counts(items: list[Difference]) -> str:
    """``+3 -6`` (``~N`` changed, ``=N`` alike): how many records of each kind a section holds."""
    counts = ((mark, sum(1 for d in items if d.change == change)) for change, mark in MARKS.items())
    return " ".join(f"{mark}{count}" for mark, count in counts if count)


def comparison_tree(found: Iterable[Difference], a: str, b: str) -> list[Tree]:
    """The kinds that differ (or hold records alike, when those were asked for), each difference a line
    with what changed below it; the memory dumped per process last."""
    by_section: dict[str, list[Difference]] = {}
    for difference in found:
        by_section.setdefault(difference.section, []).append(difference)
    if not by_section:
        return []
    tree = Tree(f"[bold]{tree_text(a)}[/] -> [bold]{tree_text(b)}[/]")
    for section, items in by_section.items():
        if section == "memory":
            continue
        branch = tree.add(f"[bold]{TITLES[section]}[/]: {_counts(items)}")
        for difference in items:
            colour, mark = COLOURS[difference.change], MARKS[difference.change]
            node = branch.add(f"[{colour}]{mark} {tree_text(describe(difference))}[/]")
            for change in _changes(difference):
                node.add(tree_text(change))
    memory = [d for d in by_section.get("memory", []) if _shown(d)]
    if memory:
        branch = tree.add("[bold]Memory dumped[/]")
        for difference in memory:
            line = tree_text(f"{describe(difference)}: {details(difference)}")
            if difference.change == "changed":
                branch.add(line)
            else:
                branch.add(f"[{COLOURS[difference.change]}]{MARKS[difference.change]} {line}[/]")
    return [tree]
