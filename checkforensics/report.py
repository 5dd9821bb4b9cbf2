"""A self-contained HTML report of one checkpoint, to attach to a ticket.

One file, no network access and no external assets: inline CSS and inline SVG only. Every
value from the evidence is HTML-escaped. Unless asked for, no secret value is shown: every
text quoted from the evidence (command lines, environments, triage evidence, paths, warnings)
goes through analysis.redaction, and the triage findings and secret records come with their
values shown by the same policy (cli/report builds them with the same choice).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass, field
from typing import Any

from checkforensics import __version__
from checkforensics.analysis.attack import technique_text
from checkforensics.analysis.malfind import REASONS, Suspect
from checkforensics.analysis.overview import Overview
from checkforensics.analysis.redaction import Redaction
from checkforensics.analysis.rootfs import ChangedFile, RootfsChanges
from checkforensics.analysis.triage import Finding
from checkforensics.analysis.triage.finding import evidence_items
from checkforensics.errors import CheckforensicsError
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.descriptions import what
from checkforensics.model.files import SOCKET_TYPES, FileTable
from checkforensics.model.tree import DEPTH_LIMIT
from checkforensics.render import human_size, printable

_KIND_COLOURS = {
    "heap": "#d9534f", "stack": "#f0ad4e", "anon": "#5bc0de", "file": "#5cb85c", "shared": "#9b59b6",
    "memfd": "#e83e8c", "vdso": "#999999", "vvar": "#bbbbbb", "vsyscall": "#cccccc", "sysvipc": "#8e44ad",
    "socket": "#34495e",
}  # fmt: skip
_SEVERITY_COLOURS = {"CRITICAL": "#b00020", "HIGH": "#d9534f", "MEDIUM": "#f0ad4e", "LOW": "#5bc0de", "INFO": "#999"}


@dataclass
class ReportInput:
    model: CheckpointModel
    overview: Overview
    sha256: str
    tree: ProcessTree
    files: FileTable
    changes: RootfsChanges
    findings: list[Finding]
    secrets: list[dict[str, Any]]
    malfind: list[Suspect] = field(default_factory=list)


def _e(value: Any) -> str:
    """Evidence text for the page: escaped as on a terminal (render.printable: controls, bidi
    and format characters, lone surrogates, which UTF-8 cannot hold), then as HTML."""
    return html.escape(printable("-" if value is None or value == "" or value == [] else str(value)))


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers) if any(headers) else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}" class="none">none</td></tr>'
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<table class="{css}">{thead}<tbody>{body}</tbody></table>'


def _shown(redaction: Redaction, values: list[Any]) -> list[str]:
    """Evidence texts HTML-escaped, with their secrets masked as ``redaction`` says (one batch)."""
    texts = ["" if v is None else str(v) for v in values]
    return [_e(None if v is None else text) for v, text in zip(values, redaction.texts(texts), strict=True)]


def _summary(data: ReportInput, redaction: Redaction) -> str:
    info = data.overview.container
    name, image, pod, hostname = _shown(
        redaction, [info.name, info.image, f"{info.pod or '-'} / {info.namespace or '-'}", data.overview.hostname]
    )
    rows = [
        ["Archive", _e(data.model.path.name)], ["SHA-256", f"<code>{_e(data.sha256)}</code>"],
        ["Engine", _e(info.engine)], ["Container", name], ["Image", image],
        ["ID", f"<code>{_e(info.id)}</code>"], ["Runtime", _e(info.runtime)], ["Created", _e(info.created)],
        ["Checkpointed", _e(info.checkpointed)], ["Pod / namespace", pod],
        ["Pod UID", f"<code>{_e(info.pod_uid)}</code>"], ["Sandbox", f"<code>{_e(info.sandbox_id)}</code>"],
        ["Hostname (UTS)", hostname], ["IP", _e(", ".join(info.ips))],
        ["MAC", _e(", ".join(info.macs))], ["Processes", _e(data.overview.process_count)],
        ["Archive size", _e(human_size(data.overview.archive_size))],
        ["Memory dumped", _e(human_size(data.overview.memory_size))],
        *([["AMD GPU memory dumped", _e(human_size(data.overview.amdgpu_pages_size))]]
          if data.overview.amdgpu_pages else []),
        ["Root FS diff", _e(human_size(data.overview.rootfs_diff_size))],
    ]  # fmt: skip
    return _table(["", ""], rows, "kv")


def _findings(data: ReportInput, redaction: Redaction) -> str:
    """Triage shows the secret values it quotes by the policy already; the rest of its evidence
    (paths, names, addresses) is masked here like any other evidence text."""
    rows = []
    for finding in data.findings:
        evidence = evidence_items(finding.evidence)
        shown = redaction.texts([v for _, v in evidence])
        colour = _SEVERITY_COLOURS[finding.severity.name]
        rows.append([
            f'<span class="sev" style="background:{colour}">{_e(finding.severity.name)}</span>',
            f"<code>{_e(finding.rule)}</code>", _techniques(finding.techniques or ()), _e(finding.pid),
            _e(finding.comm), _e(finding.title),
            _e(", ".join(f"{k}={v}" for (k, _), v in zip(evidence, shown, strict=True))),
        ])  # fmt: skip
    return _table(["Severity", "Rule", "ATT&CK", "PID", "Process", "Finding", "Evidence"], rows)


def _techniques(ids: tuple[str, ...] | list[str]) -> str:
    """Each ATT&CK id with its name as a tooltip (no link: the page reaches nothing outside)."""
    return " ".join(f'<abbr title="{_e(technique_text([tid]))}">{_e(tid)}</abbr>' for tid in ids) or "-"


def _malfind(data: ReportInput, redaction: Redaction) -> str:
    """malfind's suspect mappings, each with why, its techniques and its first bytes."""
    paths = _shown(redaction, [s.mapping.path for s in data.malfind])
    rows = []
    for suspect, path in zip(data.malfind, paths, strict=True):
        m = suspect.mapping
        colour = _SEVERITY_COLOURS[suspect.severity.name]
        why = "<br>".join(_e(f"{r}: {REASONS[r][0]}") for r in suspect.reasons)
        if suspect.jit:
            why += "<br>" + _e(f"JIT runtime: {suspect.jit}")
        dump = "<br>".join(_e(line) for line in suspect.hexdump() + (suspect.disassembly or []))
        rows.append([
            f'<span class="sev" style="background:{colour}">{_e(suspect.severity.name)}</span>',
            _e(suspect.pid), _e(suspect.comm), f"<code>{_e(f'{m.start:#x}-{m.end:#x}')}</code>", _e(m.perms),
            path if m.path is not None else _e(f"[{m.kind}]"), _e(" ".join(suspect.flags)), why,
            _techniques(suspect.techniques), f"<pre>{dump or '-'}</pre>",
        ])  # fmt: skip
    headers = ["Severity", "PID", "Process", "Addresses", "Perms", "Mapping", "Flags", "Why", "ATT&CK", "First bytes"]
    return _table(headers, rows)


def _process_tree(tree: ProcessTree, redaction: Redaction) -> str:
    """Nested lists, opened and closed as the walk goes down and up (no recursion: a pstree can
    be 100,000 levels deep; an item at the walk's deepest level names its parent)."""

    def item(process: Process, deepest: bool) -> str:
        words = process.cmdline or ([process.comm] if process.comm else [])
        argv = " ".join(redaction.argv(words)) if words else "?"  # nothing to redact: no scan
        env = "".join(f"<li><code>{_e(v)}</code></li>" for v in redaction.environment(process.env or []))
        threads = (
            f' <span class="dim">threads {_e(", ".join(map(str, process.tids)))}</span>'
            if len(process.tids) > 1
            else ""
        )
        details = (
            f"<details><summary>environment ({len(process.env or [])})</summary><ul>{env}</ul></details>" if env else ""
        )
        parent = f' <span class="dim">parent {_e(process.ppid)}</span>' if deepest else ""
        return (
            f"<li><b>{process.pid}</b> {_e(process.comm)} <code>{_e(argv)}</code>{threads}"
            f' <span class="dim">uid {_e(process.uid)}</span>{parent}{details}'
        )

    parts = ['<ul class="tree">']
    depth = -1  # the level of the item left open, -1 before the first
    for process, level in tree.walk():
        if level > depth >= 0:
            parts.append("<ul>")
        elif depth >= 0:
            parts.append("</li>" + "</ul></li>" * (depth - level))
        parts.append(item(process, level == DEPTH_LIMIT))
        depth = level
    if depth >= 0:
        parts.append("</li>" + "</ul></li>" * depth)
    return "".join(parts) + "</ul>"


def _descriptors(files: FileTable, sockets: bool, redaction: Redaction) -> str:
    chosen = [(p, d) for p in files.processes for d in p.descriptors if (d.type in SOCKET_TYPES) == sockets]
    labels = _shown(redaction, [what(d) for _, d in chosen])
    rows = []
    for (process, d), label in zip(chosen, labels, strict=True):
        if d.deleted:
            label = f'<span class="bad">{label}</span>'
        if d.state == "LISTEN":
            label = f'<span class="listen">{label}</span>'
        rows.append([_e(process.pid), _e(process.comm), _e(d.fd), _e(d.type), label, _e(d.flags)])
    return _table(["PID", "Process", "FD", "Type", "What", "Flags"], rows)


def _changes(changes: RootfsChanges, redaction: Redaction) -> str:
    """The container's changes (its layer, its deletions, then /dev/shm and tmpfs), and below,
    folded, what the container runtime made (as ``diff --all`` lists it)."""

    def rows_of(files: list[tuple[str, ChangedFile]]) -> list[list[str]]:
        paths = _shown(redaction, [f.path for _, f in files])
        links = _shown(redaction, [f.linkname for _, f in files])
        return [
            [_e(layer), _e(f.type), _e(human_size(f.size) if f.type == "file" else None), _e(f"{f.mode:04o}"),
             _e(f.mtime), f"<code>{path}</code>" + (f" &rarr; {link}" if f.linkname else "")]
            for (layer, f), path, link in zip(files, paths, links, strict=True)
        ]  # fmt: skip

    headers = ["Layer", "Type", "Size", "Mode", "Modified", "Path"]
    files = changes.files
    rows = rows_of([(layer, f) for layer, f in files if layer == "rootfs"])
    rows += [["rootfs", '<span class="bad">deleted</span>', "-", "-", "-", f"<code>{path}</code>"]
             for path in _shown(redaction, list(changes.deleted))]  # fmt: skip
    rows += [["rootfs", '<span class="bad">opaque</span>', "-", "-", "-", f"<code>{path}</code>"]
             for path in _shown(redaction, list(changes.opaque))]  # fmt: skip
    rows += rows_of([(layer, f) for layer, f in files if layer != "rootfs"])
    page = _table(headers, rows)
    runtime = changes.runtime
    if runtime:
        made = rows_of([(layer, entry.file) for layer, entry in runtime])
        for row, (_, entry) in zip(made, runtime, strict=True):
            row[1] = f"{row[1]} ({_e(entry.reason)})"
        summary = f"{len(runtime)} entries the container runtime made (mount points, default devices and links)"
        page += f"<details><summary>{summary}</summary>{_table(headers, made)}</details>"
    return page


def _secrets(secrets: list[dict[str, Any]]) -> str:
    """The records come with their values shown by the policy (masked unless --include-secrets)."""
    rows = [
        [_e(s.get("severity")), f"<code>{_e(s.get('rule'))}</code>", _e(s.get("pid")), _e(s.get("comm")),
         _e(f"{s['address']:#x}" if isinstance(s.get("address"), int) else s.get("address")),
         f"<code>{_e(s.get('value'))}</code>", _e(s.get("count"))]
        for s in secrets
    ]  # fmt: skip
    return _table(["Severity", "Rule", "PID", "Process", "Address", "Value", "Count"], rows)


def memory_map_svg(model: CheckpointModel, process: Process) -> str:
    """A bar per mapping, width by the log of its size, coloured by kind; dumped share shaded
    (the pages of shared memory the mapping shows included)."""
    try:
        memory = model.memory(process.pid)
    except CheckforensicsError as exc:
        return f'<p class="dim">memory map unavailable: {_e(exc)}</p>'
    dumped_in: dict[int, int] = {}
    for region in memory.regions(shared=True):
        dumped_in[region.mapping.start] = dumped_in.get(region.mapping.start, 0) + region.length
    bars, x = [], 0.0
    for vma in memory.space.vmas:
        width = 4 + 18 * math.log2(max(vma.size, 4096) / 4096 + 1)
        dumped = dumped_in.get(vma.start, 0)
        colour = _KIND_COLOURS.get(vma.kind, "#777")
        share = dumped / vma.size if vma.size else 0
        title = _e(
            f"{vma.start:#x}-{vma.end:#x} {vma.perms} {vma.kind} {human_size(vma.size)}, dumped {human_size(dumped)}"
        )
        bars.append(
            f'<g><title>{title}</title><rect x="{x:.1f}" y="0" width="{width:.1f}" height="28" fill="{colour}" '
            f'opacity="0.35"/><rect x="{x:.1f}" y="{28 - 28 * share:.1f}" width="{width:.1f}" '
            f'height="{28 * share:.1f}" fill="{colour}"/></g>'
        )
        x += width + 1
    legend = " ".join(
        f'<span class="key" style="background:{colour}"></span>{_e(kind)}' for kind, colour in _KIND_COLOURS.items()
    )
    return (
        f'<svg class="memmap" viewBox="0 0 {max(x, 10):.0f} 28" preserveAspectRatio="none" '
        f'role="img" aria-label="memory map of {process.pid}">{"".join(bars)}</svg>'
        f'<p class="legend">{legend} &mdash; bar width: log of the size; filled part: pages dumped '
        f"({_e(human_size(sum(dumped_in.values())))} in all)</p>"
    )


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1400px}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em} th,td{border:1px solid #ddd;padding:.3em .5em;
text-align:left;vertical-align:top} th{background:#f3f3f3} table.kv td:first-child{font-weight:600;width:14em}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.95em;word-break:break-all}
.sev{color:#fff;border-radius:3px;padding:.1em .4em;font-size:.85em;font-weight:600}
.bad{color:#b00020;font-weight:600} .listen{color:#1e7e34;font-weight:600} .dim{color:#777} .none{color:#999}
ul.tree{list-style:none;padding-left:1em} ul.tree ul{list-style:none;border-left:1px dashed #bbb;padding-left:1.2em}
svg.memmap{width:100%;height:36px;background:#fafafa;border:1px solid #ddd}
.key{display:inline-block;width:.9em;height:.9em;margin:0 .2em 0 .8em;vertical-align:middle}
.legend{font-size:.8em;color:#555} footer{margin-top:3em;color:#888;font-size:.8em}
pre{margin:0;font-size:.8em;white-space:pre}
"""


def render_report(data: ReportInput, *, include_secrets: bool = False) -> str:
    """The page. ``data.findings`` and ``data.secrets`` must have been made with the same choice
    (``Redaction(reveal=include_secrets)``, ``finding_records(redact=not include_secrets)``)."""
    redaction = Redaction(reveal=include_secrets)
    title = f"checkforensics report: {data.overview.container.name or data.model.path.name}"
    maps = "".join(
        f"<h3>{p.pid} {_e(p.comm)}</h3>{memory_map_svg(data.model, p)}" for p in data.tree.processes if p.dumped
    )  # a process with no core image has no memory either: the tree's warnings name them
    warnings = [
        *data.overview.warnings, *data.tree.warnings, *data.files.warnings, *data.changes.warnings,
        *data.model.memory_warnings,
    ]  # fmt: skip
    notice = (
        "Secret values are shown in full." if include_secrets
        else "Secret values are redacted (a few first characters and the length); --include-secrets shows them."
    )  # fmt: skip
    sections = [
        ("summary", "Container and evidence", _summary(data, redaction)),
        ("triage", f"Triage findings ({len(data.findings)})", _findings(data, redaction)),
        ("malfind", f"Injected or hidden code (malfind: {len(data.malfind)})", _malfind(data, redaction)),
        ("processes", "Process tree", _process_tree(data.tree, redaction)),
        ("files", "Open files", _descriptors(data.files, False, redaction)),
        ("sockets", "Sockets", _descriptors(data.files, True, redaction)),
        ("rootfs", "Changes on disk", _changes(data.changes, redaction)),
        ("secrets", f"Secrets in memory ({len(data.secrets)})", _secrets(data.secrets)),
        ("memory", "Memory maps", maps),
    ]
    body = "".join(f'<section id="{sid}"><h2>{_e(head)}</h2>{content}</section>' for sid, head, content in sections)
    if warnings:
        shown = _shown(redaction, warnings)
        body += "<section id='warnings'><h2>Warnings</h2><ul>" + "".join(f"<li>{w}</li>" for w in shown)
        body += "</ul></section>"
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class='dim'>{_e(notice)}</p>{body}"
        f"<footer>Generated {generated} by checkforensics {__version__} from {_e(data.model.path.name)} "
        f"(sha256 {_e(data.sha256)}).</footer></body></html>\n"
    )
