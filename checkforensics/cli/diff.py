"""``checkforensics diff``: what one checkpoint changed on disk, or what changed between two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.tree import Tree

from checkforensics.analysis.compare import CheckpointDiff, SetDiff, compare
from checkforensics.analysis.rootfs import RootfsChanges, extract_changes, read_changed_file, rootfs_changes
from checkforensics.cli.options import emit_warnings
from checkforensics.model import CheckpointModel
from checkforensics.output import OutputGuard
from checkforensics.records import changes_record
from checkforensics.render import (
    JSON,
    TABLE,
    TEXT,
    TREE,
    Table,
    cell,
    human_size,
    print_json,
    print_table,
    print_tree,
    tree_text,
)


def _hexdump(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  |{text}|")
    return "\n".join(lines)


def _show_file(model: CheckpointModel, path: str) -> None:
    changed, content = read_changed_file(model, path)
    if changed.type != "file":
        click.echo(f"{changed.path}: {changed.type}" + (f" -> {changed.linkname}" if changed.linkname else ""))
        return
    try:
        text = content.decode("utf-8")
        printable = all(ch.isprintable() or ch in "\n\t\r" for ch in text)
    except UnicodeDecodeError:
        printable = False
    click.echo(text if printable else _hexdump(content), nl=not printable or not text.endswith("\n"))


def _print_changes(changes: RootfsChanges, fmt: str, no_color: bool) -> None:
    rows = []
    for layer in changes.layers:
        for f in layer.files:
            target = f" -> {f.linkname}" if f.linkname else ""
            rows.append(
                [
                    layer.name,
                    f.type,
                    human_size(f.size) if f.type == "file" else None,
                    f"{f.mode:04o}",
                    f"{f.uid}:{f.gid}",
                    f.mtime,
                    f.path + target,
                ]
            )
    rows += [["rootfs", "deleted", None, None, None, None, path] for path in changes.deleted]
    rows += [["rootfs", "opaque", None, None, None, None, path] for path in changes.opaque]
    table = Table(["LAYER", "TYPE", "SIZE", "MODE", "OWNER", "MTIME", "PATH"], rows, styles={})
    print_table(table, TABLE if fmt == TABLE else TEXT, no_color=no_color)


def _section(parent: Tree, title: str, diff: SetDiff, describe: Any) -> None:
    if not diff:
        return
    branch = parent.add(f"[bold]{title}[/]")
    for record in diff.added:
        branch.add(f"[green]+ {tree_text(describe(record))}[/]")
    for record in diff.removed:
        branch.add(f"[red]- {tree_text(describe(record))}[/]")
    for record in diff.changed:
        node = branch.add(f"[yellow]~ {tree_text(describe(record))}[/]")
        for name, change in record["changes"].items():
            node.add(tree_text(f"{name}: {cell(change['before'])} -> {cell(change['after'])}"))


def _print_comparison(result: CheckpointDiff, a: str, b: str, no_color: bool) -> None:
    tree = Tree(f"[bold]{tree_text(Path(a).name)}[/] -> [bold]{tree_text(Path(b).name)}[/]")

    def proc(r: dict[str, Any]) -> str:
        return f"[{r['pid']}] {r.get('comm')} {' '.join(r.get('cmdline') or [])}".rstrip()

    def desc(r: dict[str, Any]) -> str:
        what = r.get("path") or (f"{r.get('local')} -> {r.get('remote')} {r.get('state')}" if r.get("local") else "")
        return f"[{r['pid']} fd {r['fd']}] {r['type']} {what or ''}".rstrip()

    def changed_file(r: dict[str, Any]) -> str:
        return f"{r['path']} ({r['type']}, {human_size(r.get('size'))})"

    _section(tree, "Processes", result.processes, proc)
    _section(tree, "Descriptors", result.descriptors, desc)
    _section(tree, "Sockets", result.sockets, desc)
    _section(tree, "Files on disk (rootfs-diff.tar)", result.files, changed_file)
    _section(tree, "Deleted files", result.deleted, lambda r: r["path"])
    if result.secrets is not None:
        _section(
            tree,
            "Secrets in memory",
            result.secrets,
            lambda r: f"{r['rule']} {r['value']} in [{r['pid']}] {r['comm']} at {r['address']:#x}",
        )
    if result.memory:
        branch = tree.add("[bold]Memory dumped[/]")
        for r in result.memory.changed:
            before, after = r["changes"]["bytes"]["before"], r["changes"]["bytes"]["after"]
            branch.add(
                f"[{r['pid']}] {tree_text(str(r.get('comm')))}: {human_size(before)} -> {human_size(after)}"
                f" ({after - before:+d} bytes)"
            )
        for r in result.memory.added:
            branch.add(f"[green]+ [{r['pid']}] {tree_text(str(r.get('comm')))}: {human_size(r['bytes'])}[/]")
    if len(tree.children) == 0:
        tree.add("no differences")
    print_tree(tree, no_color=no_color)


@click.command()
@click.argument("checkpoint_a", metavar="CHECKPOINT")
@click.argument("checkpoint_b", metavar="[CHECKPOINT_B]", required=False)
@click.option("--show", "show_path", metavar="PATH", help="Print one changed file's content (text, or a hexdump).")
@click.option("--extract", type=click.Path(path_type=Path), help="Write the changed files under this directory.")
@click.option("--force", is_flag=True, help="Compare checkpoints of different containers.")
@click.option("--secrets", "with_secrets", is_flag=True, help="With two checkpoints: secret findings new in B.")
@click.option("--no-color", is_flag=True, help="No colour even on a terminal.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice((TEXT, TABLE, TREE, JSON)),
    default=TEXT,
    show_default=True,
    help="text/tree: table or tree for people; table: plain ASCII; json: docs/json.md.",
)
def diff(
    checkpoint_a: str,
    checkpoint_b: str | None,
    show_path: str | None,
    extract: Path | None,
    force: bool,
    with_secrets: bool,
    no_color: bool,
    fmt: str,
) -> None:
    """What the container changed on disk; with two checkpoints, everything that changed between them.

    One checkpoint: every file in rootfs-diff.tar (and /dev/shm, tmpfs mounts) with type,
    size, mode, owner and mtime, and every deleted path (deleted.files, or the layer's OCI
    whiteouts in containerd checkpoints; "opaque": a directory whose content from the image
    is hidden). Two checkpoints of one container: processes, descriptors, sockets, files on
    disk, deleted files and memory sizes added, removed and changed from the first to the
    second.

    \b
    Examples:
      checkforensics diff checkpoint.tar
      checkforensics diff checkpoint.tar --show /home/counter/logfile
      checkforensics diff checkpoint.tar --extract changed/
      checkforensics diff before.tar after.tar --secrets
    """
    if checkpoint_b is not None:
        with CheckpointModel.open(checkpoint_a) as a, CheckpointModel.open(checkpoint_b) as b:
            result = compare(a, b, force=force, secrets=with_secrets)
        if fmt == JSON:
            print_json({"a": checkpoint_a, "b": checkpoint_b, **result.as_json()})
        else:
            _print_comparison(result, checkpoint_a, checkpoint_b, no_color)
        return
    with CheckpointModel.open(checkpoint_a) as model:
        if show_path is not None:
            _show_file(model, show_path)
            return
        if extract is not None:
            # diff's --force is about comparing containers: never an overwrite, so never suggested
            with OutputGuard(checkpoint_a).output_directory(extract, force_hint=False) as directory:
                records = extract_changes(model, directory)
            if fmt == JSON:
                print_json({"output": str(extract), "entries": records})
            else:
                written = sum(1 for r in records if r["written"])
                click.echo(f"{written} files written under {extract}; links and devices listed, not created")
            return
        changes = rootfs_changes(model)
    if fmt == JSON:
        print_json(changes_record(model.path, changes))
    else:
        _print_changes(changes, fmt, no_color)
    emit_warnings(changes.warnings)
