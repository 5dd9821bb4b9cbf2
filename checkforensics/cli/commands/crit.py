"""CRIU image tool: crit's decode, encode, show, info and x, with archive support.

IN may be an image file, or a checkpoint archive (.tar, .tar.gz, .tar.zst) or directory
followed by the image to read from it; nothing is extracted to disk.

\b
Examples:
  checkforensics crit show checkpoint.tar.zst pstree.img
  checkforensics crit decode -i checkpoint/core-1.img -o core-1.json
  checkforensics crit x checkpoint.tar ps
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from checkforensics.cli.declare import declared
from checkforensics.cli.options import complete_paths, output_options
from checkforensics.errors import InputError, JsonImageError
from checkforensics.images.codec import count_entries, decode_image, encode_image
from checkforensics.images.crit_json import dict_to_image, image_to_dict
from checkforensics.images.load import read_image_bytes
from checkforensics.output import NewFile, OutputGuard
from checkforensics.render import JSON, TEXT, Lines, Result, Table, render

_EXPLORERS = ("ps", "fds", "mems", "rss")


@click.group(name="crit", help=__doc__)
def crit() -> None:
    """crit's subcommands (decode, encode, show, info, x)."""


def _write_json(document: Any, out: TextIO, pretty: bool) -> None:
    json.dump(document, out, indent=4 if pretty else None)


def _new_file(out_path: str, source: str | None) -> NewFile:
    """``-o FILE`` through the output guard: never the input (nor inside a checkpoint directory
    read from), never through a link, complete or not at all. Like crit, an existing file is
    replaced."""
    evidence = [source] if source and source != "-" else []
    return OutputGuard(*evidence).new_file(out_path, force=True)


@crit.command()
@click.option("-i", "--in", "source", metavar="IN", shell_complete=complete_paths,
              help="Image file, or checkpoint with IMAGE (default: stdin).")
@click.option("-o", "--out", "out_path", metavar="FILE", help="Where to write the JSON (default: stdout).")
@click.option("--pretty", is_flag=True, help="Indented, with hex addresses, flag names and dotted IPs.")
@click.argument("image", required=False)
def decode(source: str | None, out_path: str | None, pretty: bool, image: str | None) -> None:
    """Convert an image from CRIU's binary form to JSON.

    \b
    Examples:
      checkforensics crit decode -i pstree.img
      checkforensics crit decode -i checkpoint.tar.zst core-1.img --pretty
    """
    data, where = read_image_bytes(source, image, sys.stdin.buffer)
    document = image_to_dict(decode_image(data, where), pretty)
    if out_path:
        text = io.StringIO()
        _write_json(document, text, pretty)
        with _new_file(out_path, source) as handle:
            handle.write(text.getvalue().encode("utf-8"))
    else:
        _write_json(document, sys.stdout, pretty)
        sys.stdout.write("\n")


@crit.command()
@click.option("-i", "--in", "source", metavar="FILE", shell_complete=complete_paths,
              help="JSON image to encode (default: stdin).")
@click.option("-o", "--out", "out_path", metavar="FILE", help="Where to write the binary image (default: stdout).")
def encode(source: str | None, out_path: str | None) -> None:
    """Convert an image from JSON (plain or --pretty form) back to CRIU's binary form.

    \b
    Example:
      checkforensics crit encode -i pstree.json -o pstree.img
    """
    where = source or "<stdin>"
    try:
        text = sys.stdin.buffer.read() if source in (None, "-") else Path(source).read_bytes()
        document = json.loads(text)
    except FileNotFoundError:
        raise InputError("no such file", where=where) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JsonImageError(f"cannot read JSON ({exc}); encode expects crit's JSON, not a binary image",
                             where=where) from None
    blob = encode_image(dict_to_image(document, where))
    if out_path:
        with _new_file(out_path, source) as handle:
            handle.write(blob)
    else:
        sys.stdout.buffer.write(blob)


@crit.command()
@click.argument("source", metavar="IN", shell_complete=complete_paths)
@click.argument("image", required=False)
@click.option("--nopl", is_flag=True, help="Do not show entry payloads, only their size.")
def show(source: str, image: str | None, nopl: bool) -> None:
    """Show an image as indented, human-readable JSON (decode --pretty).

    \b
    Examples:
      checkforensics crit show checkpoint/mm-7.img
      checkforensics crit show checkpoint.tar.zst pipes-data.img --nopl
    """
    data, where = read_image_bytes(source, image, sys.stdin.buffer)
    _write_json(image_to_dict(decode_image(data, where, payloads=not nopl), pretty=True), sys.stdout, True)
    sys.stdout.write("\n")


@crit.command()
@click.argument("source", metavar="IN", shell_complete=complete_paths)
@click.argument("image", required=False)
@output_options(formats=(JSON, TEXT), default=JSON)
def info(source: str, image: str | None, fmt: str) -> None:
    """Show an image's type and number of entries (as crit does: JSON; or a table with --format text).

    \b
    Examples:
      checkforensics crit info checkpoint.tar.zst pagemap-1.img
      checkforensics crit info checkpoint.tar.zst pagemap-1.img --format text
    """
    data, where = read_image_bytes(source, image, sys.stdin.buffer)
    magic, count = count_entries(data, where)
    if fmt == JSON:  # crit's own layout (indented by 4), byte for byte, not ours
        _write_json({"magic": magic, "count": count}, sys.stdout, True)
        sys.stdout.write("\n")
        return
    render(Result(text=[Table(["IMAGE", "MAGIC", "ENTRIES"], [[where, magic, count]])]), fmt)


@crit.command(name="x")
@click.argument("source", metavar="DIR", shell_complete=complete_paths)
@click.argument("what", type=click.Choice(_EXPLORERS))
@output_options(formats=(TEXT, JSON))
def explore(source: str, what: str, fmt: str) -> None:
    """Explore a checkpoint: ps (process tree), fds (open files), mems (mappings), rss (dumped pages).

    DIR is an images directory, an extracted archive or a checkpoint archive. The text is
    crit's, line for line; --format json gives the same as records (docs/json.md).

    \b
    Examples:
      checkforensics crit x checkpoint.tar.zst ps
      checkforensics crit x checkpoint.tar mems --format json
    """
    from checkforensics.analysis.crit_explore import explore_lines, explore_records
    from checkforensics.archive import Checkpoint

    with Checkpoint.open(source) as checkpoint:
        records = explore_records(checkpoint, what)
        # crit's lines are laid out with tabs: kept; every other control is escaped
        result = Result(
            json={"processes": records},
            text=lambda: [Lines(explore_lines(what, records), tabs=True)],
            warnings=checkpoint.warnings,  # what the listing found wrong: a truncated archive, hostile names
        )
        render(result, fmt)


declared(crit, takes="other", samples=[("x", "CHECKPOINT", explorer) for explorer in _EXPLORERS])
