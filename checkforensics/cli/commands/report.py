"""Write a self-contained HTML report: summary, hashes, triage, malfind, processes, files, changes, memory maps.

No network access and no external assets; secret values are redacted unless
--include-secrets. What is printed (the file written, its size, what it holds) takes
--format; the HTML file is the same in every format.

\b
Example:
  checkforensics report checkpoint.tar -o report.html
"""

from __future__ import annotations

from pathlib import Path

import click

from checkforensics.analysis.overview import overview
from checkforensics.analysis.triage import load_context, triage
from checkforensics.cli.declare import declared
from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.model import CheckpointModel, Reads
from checkforensics.output import OutputGuard
from checkforensics.render import JSON, JSONL, TEXT, Result, render
from checkforensics.report import ReportInput, render_report


@click.command(name="report", help=__doc__)
@checkpoint_argument()
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="The HTML file to write.")
@click.option("--include-secrets", is_flag=True, help="Show secret values in full (redacted by default).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@output_options(formats=(TEXT, JSON, JSONL))
def report(checkpoint: str, out: Path, include_secrets: bool, force: bool, fmt: str, no_color: bool) -> None:
    target = OutputGuard(checkpoint).new_file(out, force=force)  # refused now, before any work
    from checkforensics.analysis.redaction import Redaction
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint

    with CheckpointModel.open(checkpoint, reads=Reads.EVERYTHING | Reads.SHA256) as model:
        context = load_context(model, scan_secrets=False)
        context.redaction = Redaction(reveal=include_secrets)  # what triage's evidence shows
        hits = scan_checkpoint(model)  # once: the triage rules and the report's table share it
        context.secrets = finding_records(hits, redact=not include_secrets)
        data = ReportInput(
            model=model,
            overview=overview(model),
            sha256=model.sha256(),
            tree=context.tree,
            files=context.files,
            changes=context.changes,
            findings=triage(context),
            secrets=context.secrets,
            malfind=context.malfind,
        )
        page = render_report(data, include_secrets=include_secrets)
    encoded = page.encode("utf-8")
    with target as handle:
        handle.write(encoded)
    written = {
        "output": str(out),
        "size": len(encoded),
        "processes": len(data.tree.processes),
        "findings": len(data.findings),
        "secrets": len(data.secrets),
    }
    text = f"wrote {out} ({len(encoded)} bytes)"
    render(Result(json=written, jsonl=[written], text=[text]), fmt, no_color=no_color)


declared(report, reads=("everything",), takes="checkpoint", samples=[("-o", "OUT")])
