"""``checkforensics logs``: the container's own log, as the checkpoint kept it."""

from __future__ import annotations

import click

from checkforensics.analysis.containerlog import STREAMS, LogEntry, open_container_log
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.model import CheckpointModel, Reads
from checkforensics.render import JSON, JSONL, MISSING, TEXT, Lines, Result, render


def _text_line(entry: LogEntry) -> str:
    """One line of text; the renderer escapes what the log holds (each item of Lines is one line)."""
    if entry.time is None:
        return entry.message
    return " ".join((entry.time, entry.stream or MISSING, entry.tag or MISSING, entry.message))


@click.command()
@checkpoint_argument()
@click.option("--join", is_flag=True, help="Put lines the runtime cut (tag P) back together with their end.")
@click.option(
    "--stream", "streams", type=click.Choice(STREAMS), multiple=True, help="Only this stream (repeatable)."
)
@output_options(formats=(TEXT, JSON, JSONL))
def logs(checkpoint: str, join: bool, streams: tuple[str, ...], fmt: str, no_color: bool) -> None:
    """The container's log (stdout and stderr) as the checkpoint kept it.

    containerd keeps it as container.log, Podman as ctr.log, both in the CRI logging format:
    one line per write with its time, stream and tag (F a full line, P a piece of a longer
    one). Text output prints those four fields, control characters escaped; json and jsonl
    give each line as a record (docs/json.md). Nothing is redacted: this is the evidence.

    \b
    Examples:
      checkforensics logs checkpoint.tar
      checkforensics logs checkpoint.tar --stream stderr --join
      checkforensics logs checkpoint.tar --format jsonl | jq -r .message
    """
    with CheckpointModel.open(checkpoint, reads=Reads.CONTAINER) as model, open_container_log(model) as log:
        entries = log.entries(join=join, streams=streams)
        result = Result(
            json=lambda: {
                "archive": str(model.path),
                "member": log.member,
                "entries": (entry.as_json() for entry in entries),
                "warnings": log.warnings,  # written after the entries, so it holds what reading them found
            },
            jsonl=lambda: (entry.as_json() for entry in entries),
            text=lambda: [Lines(_text_line(entry) for entry in entries)],
            warnings=log.warnings,
        )
        render(result, fmt, no_color=no_color)
