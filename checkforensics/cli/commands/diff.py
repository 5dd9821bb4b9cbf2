"""What the container changed on disk; with two checkpoints, everything that changed between them.

One checkpoint: every file in rootfs-diff.tar (and /dev/shm, tmpfs mounts) with type,
size, mode, owner and mtime, and every deleted path (deleted.files, or the layer's OCI
whiteouts in containerd checkpoints; "opaque": a directory whose content from the image
is hidden). The container's changes come first; what the container runtime made (CRIU's
tmpfs copies of /dev and /sys/fs/cgroup, the empty files it bind-mounts onto) is counted,
and listed with --all. Two checkpoints of one container: processes, descriptors, sockets, files on
disk, deleted files and memory sizes added, removed and changed from the first to the
second.

\b
Examples:
  checkforensics diff checkpoint.tar
  checkforensics diff checkpoint.tar --all --format json
  checkforensics diff checkpoint.tar --show /home/counter/logfile
  checkforensics diff checkpoint.tar --extract changed/
  checkforensics diff before.tar after.tar --secrets
  checkforensics diff before.tar after.tar --show-unchanged
  checkforensics diff before.tar after.tar --format jsonl | jq -c 'select(.section == "sockets")'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from checkforensics.analysis.compare import CheckpointDiff, SetDiff, compare
from checkforensics.analysis.rootfs import ChangedFile, RootfsChanges, read_changed_file, rootfs_changes
from checkforensics.analysis.rootfs_extraction import Extraction, extract_changes
from checkforensics.cli.declare import declared
from checkforensics.cli.options import TREE_ALIAS, output_options
from checkforensics.model import CheckpointModel, Reads
from checkforensics.model.descriptions import socket_summary
from checkforensics.output import OutputGuard
from checkforensics.records.forms import changes_record
from checkforensics.render import TEXT, Lines, Result, Table, Tree, View, cell, human_size, render, tree_text

Describe = Callable[[dict[str, Any]], str]
MARKS = (("added", "+", "green"), ("removed", "-", "red"), ("changed", "~", "yellow"))
UNCHANGED = ("unchanged", "=", "dim")


def _hexdump(data: bytes) -> Iterator[str]:
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        yield f"{offset:08x}  {hexes:<47}  |{text}|"


def _show_file(model: CheckpointModel, path: str) -> Result:
    """A changed file's content: UTF-8 text without NUL bytes as its lines (tabs kept, other
    controls escaped as everywhere), anything else as a hexdump; a link or device as one line."""
    changed, content = read_changed_file(model, path)
    if changed.type != "file":
        target = f" -> {changed.linkname}" if changed.linkname else ""
        return Result(text=[f"{changed.path}: {changed.type}{target}"])
    try:
        text = content.decode("utf-8") if b"\0" not in content else None
    except UnicodeDecodeError:
        text = None
    if text is None:
        return Result(text=[Lines(_hexdump(content))])
    return Result(text=[Lines(text.removesuffix("\n").split("\n"), tabs=True)] if text else [])


def _changes_table(changes: RootfsChanges, runtime: bool) -> Table:
    """The container's changes first (its layer, then its deletions, then /dev/shm and tmpfs
    layers), and with ``runtime`` the entries the runtime made, ORIGIN saying whose."""

    def row(layer: str, f: ChangedFile, origin: str | None) -> list[Any]:
        target = f" -> {f.linkname}" if f.linkname else ""
        size = human_size(f.size) if f.type == "file" else None
        cells = [layer, f.type, size, f"{f.mode:04o}", f"{f.uid}:{f.gid}", f.mtime, f.path + target]
        return [*cells[:1], origin, *cells[1:]] if runtime else cells

    def marked(layer: str, kind: str, path: str) -> list[Any]:
        return [layer, "container", kind, *[None] * 4, path] if runtime else [layer, kind, *[None] * 4, path]

    files = changes.files
    rows = [row(layer, f, "container") for layer, f in files if layer == "rootfs"]
    rows += [marked("rootfs", "deleted", path) for path in changes.deleted]
    rows += [marked("rootfs", "opaque", path) for path in changes.opaque]
    rows += [row(layer, f, "container") for layer, f in files if layer != "rootfs"]
    if runtime:
        rows += [row(layer, e.file, f"runtime ({e.reason})") for layer, e in changes.runtime]
    columns = ["LAYER", "TYPE", "SIZE", "MODE", "OWNER", "MTIME", "PATH"]
    return Table([*columns[:1], "ORIGIN", *columns[1:]] if runtime else columns, rows)


def _hidden_note(changes: RootfsChanges) -> str | None:
    """How many entries the runtime made were left out, where, and how to see them."""
    hidden = changes.runtime
    if not hidden:
        return None
    layers = ", ".join(dict.fromkeys(layer for layer, _ in hidden))
    what = "entry" if len(hidden) == 1 else "entries"
    return f"{len(hidden)} {what} made by the container runtime not shown ({layers}); --all lists them"


def _changes_result(path: Path, changes: RootfsChanges, runtime: bool) -> Result:
    def lines() -> list[dict[str, Any]]:
        document = changes_record(path, changes, runtime=runtime)
        return (
            [{"change": "changed", **f} for f in document["changed"]]
            + [{"change": "deleted", **d} for d in document["deleted"]]
            + [{"change": "opaque", **d} for d in document["opaque"]]
        )

    def text() -> list[Any]:
        table = _changes_table(changes, runtime)
        if not changes.layers and not changes.deleted:
            return ["no rootfs-diff.tar, deleted.files, /dev/shm or tmpfs archive in the checkpoint"]
        if not table.rows:
            table = "no changes by the container" if not runtime else "no changes"
        return [table, None if runtime else _hidden_note(changes)]

    return Result(
        json=lambda: changes_record(path, changes, runtime=runtime),
        jsonl=lines,
        text=text,
        warnings=changes.warnings,
    )


def _extract_result(extract: Path, done: Extraction, runtime: bool) -> Result:
    records = done.records
    written = sum(1 for r in records if r["written"])
    message = f"{written} files written under {extract}; links and devices listed, not created"
    if done.hidden:
        what = "entry" if done.hidden == 1 else "entries"
        message += f"; {done.hidden} {what} made by the container runtime left out (--all writes them)"

    def row(r: dict[str, Any]) -> list[Any]:
        origin = [r["origin"] if r["origin"] == "container" else f"runtime ({r['runtime_reason']})"]
        return [r["layer"], *(origin if runtime else []), r["type"], r["size"], r["written"], r["path"]]

    columns = ["LAYER", *(["ORIGIN"] if runtime else []), "TYPE", "SIZE", "WRITTEN", "PATH"]
    table = Table(columns, [row(r) for r in records])
    return Result(
        json={"output": str(extract), "entries": records, "hidden": done.hidden},
        jsonl=records,
        text=[View(lambda: message, lambda: table)],
    )


def _sections(result: CheckpointDiff) -> list[tuple[str, SetDiff, Describe]]:
    """What the comparison shows, section by section, each with how a record is named."""

    def proc(r: dict[str, Any]) -> str:
        return f"[{r['pid']}] {r.get('comm')} {' '.join(r.get('cmdline') or [])}".rstrip()

    def desc(r: dict[str, Any]) -> str:
        what = r.get("path") or (f"{r.get('local')} -> {r.get('remote')} {r.get('state')}" if r.get("local") else "")
        return f"[{r['pid']} fd {r['fd']}] {r['type']} {what or ''}".rstrip()

    def sock(r: dict[str, Any]) -> str:
        transport = r.get("proto") or r.get("sock_type")  # TCP, UDP...; a UNIX socket's type
        ends = (r.get("local"), r.get("remote"), r.get("peer"))
        return f"[{r['pid']} fd {r['fd']}] {socket_summary(r.get('family'), transport, r.get('state'), *ends)}"

    def changed_file(r: dict[str, Any]) -> str:
        return f"{r['path']} ({r['type']}, {human_size(r.get('size'))})"

    def secret(r: dict[str, Any]) -> str:
        return f"{r['rule']} {r['value']} in [{r['pid']}] {r['comm']} at {r['address']:#x}"

    sections = [
        ("Processes", result.processes, proc),
        ("Descriptors", result.descriptors, desc),
        ("Sockets", result.sockets, sock),
        ("Files on disk (rootfs-diff.tar)", result.files, changed_file),
        ("Deleted files", result.deleted, lambda r: r["path"]),
    ]
    if result.secrets is not None:
        sections.append(("Secrets in memory", result.secrets, secret))
    return sections


def _marks(unchanged: bool) -> tuple[tuple[str, str, str], ...]:
    return (*MARKS, UNCHANGED) if unchanged else MARKS


def _counts(diff: SetDiff, unchanged: bool) -> str:
    """``+3 -6`` (``~N`` changed, ``=N`` alike): how many records of each kind a section holds."""
    counts = ((mark, len(getattr(diff, kind))) for kind, mark, _ in _marks(unchanged))
    return " ".join(f"{mark}{count}" for mark, count in counts if count)


def _memory_lines(result: CheckpointDiff, unchanged: bool) -> list[tuple[str, str, str]]:
    """Memory dumped per process: (mark, process, what changed), changes first, then new
    processes (and with ``unchanged`` the processes whose dumped memory kept its size)."""
    lines = []
    for r in result.memory.changed:
        before, after = r["changes"]["bytes"]["before"], r["changes"]["bytes"]["after"]
        change = f"{human_size(before)} -> {human_size(after)} ({after - before:+d} bytes)"
        lines.append(("~", f"[{r['pid']}] {r.get('comm')}", change))
    lines += [("+", f"[{r['pid']}] {r.get('comm')}", human_size(r["bytes"])) for r in result.memory.added]
    if unchanged:
        lines += [("=", f"[{r['pid']}] {r.get('comm')}", human_size(r["bytes"])) for r in result.memory.unchanged]
    return lines


def _comparison_tree(result: CheckpointDiff, a: str, b: str, unchanged: bool) -> Tree:
    tree = Tree(f"[bold]{tree_text(Path(a).name)}[/] -> [bold]{tree_text(Path(b).name)}[/]")
    for title, diff, describe in _sections(result):
        if not diff and not (unchanged and diff.unchanged):
            continue
        branch = tree.add(f"[bold]{title}[/]: {_counts(diff, unchanged)}")
        for kind, mark, colour in _marks(unchanged):
            for record in getattr(diff, kind):
                node = branch.add(f"[{colour}]{mark} {tree_text(describe(record))}[/]")
                for name, change in record.get("changes", {}).items() if kind == "changed" else ():
                    node.add(tree_text(f"{name}: {cell(change['before'])} -> {cell(change['after'])}"))
    memory = _memory_lines(result, unchanged)
    if memory:
        branch = tree.add("[bold]Memory dumped[/]")
        colours = {"+": "green", "=": "dim"}
        for mark, process, change in memory:
            line = tree_text(f"{process}: {change}")
            branch.add(f"[{colours[mark]}]{mark} {line}[/]" if mark in colours else line)
    if len(tree.children) == 0:
        tree.add("no differences")
    return tree


def _comparison_table(result: CheckpointDiff, unchanged: bool) -> Table:
    rows = []
    for title, diff, describe in _sections(result):
        for kind, mark, _ in _marks(unchanged):
            for record in getattr(diff, kind):
                changes = record.get("changes", {}) if kind == "changed" else {}
                details = "; ".join(f"{name}: {cell(c['before'])} -> {cell(c['after'])}" for name, c in changes.items())
                rows.append([title, mark, describe(record), details or None])
    rows += [["Memory dumped", mark, process, change] for mark, process, change in _memory_lines(result, unchanged)]
    return Table(["SECTION", "CHANGE", "WHAT", "DETAILS"], rows)


def _comparison_result(result: CheckpointDiff, a: str, b: str, unchanged: bool) -> Result:
    def lines() -> list[dict[str, Any]]:
        document = result.as_json(unchanged)
        return [
            {"section": section, "change": kind, **record}
            for section, value in document.items()
            if section != "warnings"
            for kind, records in value.items()
            for record in records
        ]

    return Result(
        json=lambda: {"a": a, "b": b, **result.as_json(unchanged)},
        jsonl=lines,
        text=[View(lambda: _comparison_tree(result, a, b, unchanged), lambda: _comparison_table(result, unchanged))],
        warnings=result.warnings,
    )


@click.command(name="diff", help=__doc__)
@click.argument("checkpoint_a", metavar="CHECKPOINT")
@click.argument("checkpoint_b", metavar="[CHECKPOINT_B]", required=False)
@click.option("--show", "show_path", metavar="PATH", help="Print one changed file's content (text, or a hexdump).")
@click.option("--extract", type=click.Path(path_type=Path), help="Write the changed files under this directory.")
@click.option(
    "--all",
    "with_runtime",
    is_flag=True,
    help="With one checkpoint: also the entries the container runtime made (tmpfs /dev, /sys/fs/cgroup, mount "
    "points); with --extract, write them too.",
)
@click.option("--force", is_flag=True, help="Compare checkpoints of different containers.")
@click.option("--secrets", "with_secrets", is_flag=True, help="With two checkpoints: secret findings new in B.")
@click.option(
    "--show-unchanged",
    is_flag=True,
    help='With two checkpoints: also what is alike in both (marked =; JSON: "unchanged").',
)
@output_options(aliases=TREE_ALIAS)
def diff(
    checkpoint_a: str,
    checkpoint_b: str | None,
    show_path: str | None,
    extract: Path | None,
    with_runtime: bool,
    force: bool,
    with_secrets: bool,
    show_unchanged: bool,
    fmt: str,
    no_color: bool,
) -> None:
    if checkpoint_b is None and with_secrets:
        raise click.UsageError("--secrets compares the secrets of two checkpoints: give CHECKPOINT_B too")
    if checkpoint_b is None and show_unchanged:
        raise click.UsageError("--show-unchanged compares two checkpoints: give CHECKPOINT_B too")
    if checkpoint_b is not None and (show_path is not None or extract is not None):
        raise click.UsageError("--show and --extract read one checkpoint: give only CHECKPOINT")
    if checkpoint_b is not None and with_runtime:
        raise click.UsageError("--all lists one checkpoint's changes: give only CHECKPOINT")
    if checkpoint_b is not None:
        with (
            CheckpointModel.open(checkpoint_a, reads=Reads.EVERYTHING) as a,  # command lines, changed files
            CheckpointModel.open(checkpoint_b, reads=Reads.EVERYTHING) as b,
        ):
            result = compare(a, b, force=force, secrets=with_secrets)
        render(_comparison_result(result, checkpoint_a, checkpoint_b, show_unchanged), fmt, no_color=no_color)
        return
    # the changed files: rootfs-diff.tar beside the images, the tmpfs archives among them
    with CheckpointModel.open(checkpoint_a, reads=Reads.CONTAINER | Reads.IMAGES) as model:
        if show_path is not None:
            render(_show_file(model, show_path), TEXT, no_color=no_color)  # the file itself, whatever --format says
            return
        if extract is not None:
            # diff's --force is about comparing containers: never an overwrite, so never suggested
            with OutputGuard(checkpoint_a).output_directory(extract, force_hint=False) as directory:
                done = extract_changes(model, directory, runtime=with_runtime)
            render(_extract_result(extract, done, with_runtime), fmt, no_color=no_color)
            return
        changes = rootfs_changes(model)
    render(_changes_result(model.path, changes, with_runtime), fmt, no_color=no_color)


declared(diff, reads=("container",), takes="checkpoint", samples=[(), ("--extract", "OUT")])
