"""A self-contained HTML report of one checkpoint, to attach to a ticket.

One file, no network access and no external assets: inline CSS and inline SVG only. The page is
rendered by Jinja2 from ``checkforensics/templates/report.html.j2``, fed with the JSON forms the
commands print: the declared records (``OVERVIEW``, ``PROCESS``, triage's ``FINDING``,
malfind's ``REGION``, the ``files`` ``DESCRIPTOR``) and ``changed_file_record`` and the secret
finding records; no HTML is built here. Autoescaping is on, and every value printed first goes
through ``render.printable``, as on a terminal. Unless asked for, no secret value is shown:
every text quoted from the evidence (command lines, environments, triage evidence, paths,
warnings) goes through analysis.redaction, and the triage findings and secret records come
with their values shown by the same policy (``write_report`` makes them with the same choice).
What ``report`` prints of the file written is a ``REPORT`` record.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from checkforensics import __version__
from checkforensics.analysis.descriptors import FILES, SOCKETS
from checkforensics.analysis.history import HISTORY_ENTRY, SHELL_VARIABLE, ProcessHistory
from checkforensics.analysis.malfind import REGION, Suspect
from checkforensics.analysis.overview import OVERVIEW, Overview, checkpointed_text, overview
from checkforensics.analysis.processes import PROCESS, command_text
from checkforensics.analysis.redaction import Redaction
from checkforensics.analysis.rootfs import RootfsChanges, changed_file_record
from checkforensics.analysis.timeline import EVENT, SOURCES, Event, events_of, iso_time, merge
from checkforensics.analysis.triage import FINDING, Finding, evidence_text, load_context, triage
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.files import FileTable
from checkforensics.model.tree import DEPTH_LIMIT
from checkforensics.records.declare import Answer, Field, RecordType, Section
from checkforensics.records.values import INTEGER, SIZE, TEXT, cut
from checkforensics.render import human_size, printable
from checkforensics.report_sections import inflight_items, log_items, record_table

if TYPE_CHECKING:
    from checkforensics.output import NewFile


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
    history: dict[int, ProcessHistory] = field(default_factory=dict)
    timeline: list[Event] = field(default_factory=list)


@dataclass
class WrittenReport:
    """The report written: where, its size in bytes, and how much it holds."""

    output: str
    size: int
    processes: int
    findings: int
    secrets: int


REPORT = RecordType(
    "report",
    "reports",
    (
        Field("output", TEXT, "the HTML file written"),
        Field("size", SIZE, "its size"),
        Field("processes", INTEGER, "the processes it shows"),
        Field("findings", INTEGER, "the triage findings it lists"),
        Field("secrets", INTEGER, "the secret findings it lists"),
    ),
    ("output", "size", "processes", "findings", "secrets"),
    "The HTML report written by report.",
    line=lambda written: f"wrote {written.output} ({written.size} bytes)",
)


def write_report(model: CheckpointModel, target: NewFile, *, include_secrets: bool = False) -> Answer:
    """The report of ``model`` written to ``target`` (made before the work: an existing file is
    refused then), secret values redacted unless ``include_secrets``; the answer is the one
    ``REPORT`` record of it, with the page's warnings."""
    from checkforensics.analysis.secretscan import finding_records, scan_checkpoint, scan_files

    context = load_context(model, scan_secrets=False)
    context.redaction = Redaction(reveal=include_secrets)  # what triage's evidence shows
    in_memory = scan_checkpoint(model)  # once: the triage rules and the report's table share it
    context.secret_hits = in_memory + scan_files(model)  # the files the container wrote too, as triage has them
    secrets = finding_records(in_memory, redact=not include_secrets)
    events = merge([(str(model.path), events_of(model))])  # before the hash: the log is read once, kept for it
    model.files(with_data=True)  # likewise the data in flight (pipe buffers, queues): its section's table
    data = ReportInput(
        model=model, overview=overview(model), sha256=model.sha256(), tree=context.tree, files=context.files,
        changes=context.changes, findings=triage(context), secrets=secrets, malfind=context.malfind,
        history=context.history,
        timeline=[e for e in events if e.runtime_made is None],
    )  # fmt: skip
    encoded = render_report(data, include_secrets=include_secrets).encode("utf-8")
    with target as handle:
        handle.write(encoded)
    written = WrittenReport(
        str(Path(target.path)), len(encoded), len(data.tree.processes), len(data.findings), len(data.secrets)
    )
    return Answer([Section(REPORT, [written])], single=True, warnings=report_warnings(data, include_secrets))


def report_warnings(data: ReportInput, include_secrets: bool) -> list[str]:
    """What could not be read, as the page lists it (secrets masked unless ``include_secrets``)."""
    said = data.model.diagnostics.said(Part.MEMORY)  # what memory views could not read, of every process
    warnings = list(dict.fromkeys([
        *data.overview.warnings, *data.tree.warnings, *data.files.warnings, *data.changes.warnings, *said,
    ]))  # fmt: skip
    return Redaction(reveal=include_secrets).texts(warnings)


def render_report(data: ReportInput, *, include_secrets: bool = False) -> str:
    """The page. ``data.findings`` and ``data.secrets`` must have been made with the same choice
    (``Redaction(reveal=include_secrets)``, ``finding_records(redact=not include_secrets)``)."""
    return _environment().get_template("report.html.j2").render(report_document(data, include_secrets))


def memory_map_svg(model: CheckpointModel, process: Process) -> str:
    """One process's memory map as the report draws it (an SVG and its legend)."""
    return _environment().get_template("memory_map.html.j2").render(map=memory_map(model, process))


def report_document(data: ReportInput, include_secrets: bool) -> dict[str, Any]:
    """What the template is given: the records of each section, their texts shown as the
    redaction policy says."""
    redaction = Redaction(reveal=include_secrets)
    name = data.overview.container.name
    notice = (
        "Secret values are shown in full." if include_secrets
        else "Secret values are redacted (a few first characters and the length); --include-secrets shows them."
    )  # fmt: skip
    return {
        "title": f"checkforensics report: {redaction.text(name) if name else data.model.path.name}",
        "notice": notice,
        "archive": data.model.path.name,
        "sha256": data.sha256,
        "summary": _summary(data, redaction),
        "findings": [_finding(finding, redaction) for finding in data.findings],
        "regions": _regions(data.malfind, redaction),
        **_history(data.history, redaction),
        "processes": process_items(data.tree, redaction),
        "files": record_table(FILES, data.files.processes, redaction),
        "sockets": record_table(SOCKETS, data.files.processes, redaction),
        "inflight": inflight_items(data.model, redaction),
        "log": log_items(data.timeline, redaction),
        "changes": _changes(data.changes, redaction),
        "secrets": data.secrets,
        "timeline": timeline_items(data.timeline, redaction),
        # a process with no core image has no memory either: the tree's warnings name them
        "memory_maps": [
            {"pid": p.pid, "comm": p.comm, "map": memory_map(data.model, p)} for p in data.tree.processes if p.dumped
        ],
        "warnings": report_warnings(data, include_secrets),
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "version": __version__,
    }


def _summary(data: ReportInput, redaction: Redaction) -> dict[str, Any]:
    """The overview record (as ``show`` prints it) with its free texts masked, every address
    of the container (the record names the first), and when it was checkpointed as people read it."""
    record = OVERVIEW.json(replace(data.overview, sha256=data.sha256))
    container = record["container"]
    texts = ("name", "image", "pod", "namespace")
    *shown, record["hostname"] = _masked(redaction, [*(container[key] for key in texts), record["hostname"]])
    container.update(zip(texts, shown, strict=True))
    info = data.overview.container
    checkpointed = checkpointed_text(data.overview.checkpointed, whole=True)
    return {"overview": record, "ips": list(info.ips), "macs": list(info.macs), "checkpointed": checkpointed}


def _finding(finding: Finding, redaction: Redaction) -> dict[str, Any]:
    """Triage's JSON form (``FINDING``). It shows the secret values it quotes by the policy
    already; the rest of its evidence texts (paths, names) are masked here like any other
    evidence text."""
    record = FINDING.json(finding)
    texts = [key for key, value in record["evidence"].items() if isinstance(value, str)]
    shown = redaction.texts([record["evidence"][key] for key in texts])
    record["evidence"] = {**record["evidence"], **dict(zip(texts, shown, strict=True))}
    return record


def _regions(suspects: list[Suspect], redaction: Redaction) -> list[dict[str, Any]]:
    """malfind's JSON form (``REGION``) of each suspect mapping, its path masked."""
    records = [REGION.json(suspect) for suspect in suspects]
    for record, path in zip(records, _masked(redaction, [r["path"] for r in records]), strict=True):
        record["path"] = path
    return records


def _history(found: dict[int, ProcessHistory], redaction: Redaction) -> dict[str, Any]:
    """history's JSON forms (``HISTORY_ENTRY``, ``SHELL_VARIABLE``), the credentials typed and the
    variables' secret values masked."""
    from checkforensics.analysis.triage.history import credential_spans

    entries = [HISTORY_ENTRY.json(entry) for history in found.values() for entry in history.entries]
    for record in entries:
        record["command"] = redaction.show(record["command"], credential_spans(record["command"]))
    variables = [SHELL_VARIABLE.json(v) for history in found.values() for v in history.variables]
    shown = redaction.environment([f"{v['name']}={v['value'] or ''}" for v in variables])
    for record, entry in zip(variables, shown, strict=True):
        record["value"] = entry.partition("=")[2] if record["value"] is not None else None
    return {"history": entries, "shell_variables": variables}


def process_items(tree: ProcessTree, redaction: Redaction) -> list[dict[str, Any]]:
    """Each process in tree order: its record (argv and environment masked), its command line
    shell-quoted as ``ps`` shows it, and how the nested lists go from the one before it
    (``down`` one level, or ``up`` so many levels, as the walk goes; no recursion: a pstree can
    be 100,000 levels deep). A process at the walk's deepest level names its ``parent``."""
    items: list[dict[str, Any]] = []
    depth = -1  # the level of the item before, -1 before the first
    for process, level in tree.walk():
        record = PROCESS.json(process, {"env"})
        if process.cmdline:  # masked word by word, then quoted
            record["cmdline"] = redaction.argv(process.cmdline)
            command: str | None = shlex.join(record["cmdline"])
        else:
            command = command_text(process)
        record["env"] = redaction.environment(process.env) if process.env else []
        items.append({
            "process": record,
            "command": command,
            "down": level > depth >= 0,
            "up": depth - level if depth >= level else None,
            "depth": level,
            "parent": process.ppid if level == DEPTH_LIMIT else None,
        })  # fmt: skip
        depth = level
    return items


def _changes(changes: RootfsChanges, redaction: Redaction) -> dict[str, Any]:
    """The container's changes (``diff``'s records: its layers, deletions and opaque
    directories), and apart, what the container runtime made; paths and links masked."""
    changed = [changed_file_record(f, layer) for layer, f in changes.files]
    runtime = [changed_file_record(entry.file, layer, entry.reason) for layer, entry in changes.runtime]
    records = changed + runtime
    paths = _masked(redaction, [r["path"] for r in records])
    links = _masked(redaction, [r["linkname"] for r in records])
    for record, path, link in zip(records, paths, links, strict=True):
        record["path"], record["linkname"] = path, link
    return {
        "changed": changed,
        "deleted": _masked(redaction, list(changes.deleted)),
        "opaque": _masked(redaction, list(changes.opaque)),
        "runtime": runtime,
    }


CHART_WIDTH, CHART_LEFT, LANE_HEIGHT = 1000, 120, 24  # the timeline chart's geometry, in SVG units
CHART_TABLE_LIMIT = 5000  # events listed in the report's table; the command lists them all
CHART_MESSAGE = 400  # characters of an event's message in the table (JSON has it whole)
LANE_COLOURS = {
    "runtime": "#5cb85c", "checkpoint": "#d9534f", "log": "#5bc0de", "files": "#f0ad4e", "ghosts": "#9b59b6",
}  # fmt: skip


def timeline_items(events: list[Event], redaction: Redaction) -> dict[str, Any]:
    """The timeline as the report shows it: a chart (a lane per source that dated something,
    in the registry's order; a tick per event, events that fall on one column of the chart
    drawn as one tick with their count, so the page stays small whatever the log holds; five
    labelled times on the axis), the table's records (``timeline``'s own JSON, texts masked;
    at most CHART_TABLE_LIMIT) and how many events have no time."""
    dated = [e for e in events if e.ns is not None]
    shown = [EVENT.json(e) for e in events[:CHART_TABLE_LIMIT]]
    for key in ("message", "path"):
        masked = _masked(redaction, [record.get(key) for record in shown])
        for record, text in zip(shown, masked, strict=True):
            if key in record:
                record[key] = text if text is None else cut(text, CHART_MESSAGE)
    chart: dict[str, Any] = {"lanes": [], "labels": [], "width": CHART_WIDTH, "left": CHART_LEFT, "lane": LANE_HEIGHT}
    if dated:
        first, last = dated[0].ns or 0, dated[-1].ns or 0
        span = CHART_WIDTH - CHART_LEFT - 10

        def place(ns: int) -> float:
            return CHART_LEFT + (span * (ns - first) / (last - first) if last > first else span / 2)

        lanes = [name for name in SOURCES if any(e.source == name for e in dated)]
        lanes += sorted({e.source for e in dated} - set(lanes))
        for index, name in enumerate(lanes):
            ticks: dict[int, list[Event]] = {}
            for event in (e for e in dated if e.source == name):
                ticks.setdefault(round(place(event.ns or 0)), []).append(event)
            chart["lanes"].append({
                "name": name, "y": index * LANE_HEIGHT, "colour": LANE_COLOURS.get(name, "#777"),
                "count": sum(len(group) for group in ticks.values()),
                "ticks": [_tick(x, group, redaction) for x, group in sorted(ticks.items())],
            })  # fmt: skip
        steps = 4 if last > first else 0
        moments = [first + (last - first) * i // max(steps, 1) for i in range(steps + 1)]
        chart["labels"] = [
            {"x": place(ns), "text": _axis_label(ns, last - first, i == 0)} for i, ns in enumerate(moments)
        ]
        chart["height"] = len(lanes) * LANE_HEIGHT + 30
    return {
        "chart": chart, "events": shown, "total": len(events), "undated": len(events) - len(dated),
        "limit": CHART_TABLE_LIMIT,
    }  # fmt: skip


def _axis_label(ns: int, span: int, first: bool) -> str:
    """A time on the chart's axis, as much of it as the span needs: the first one with its
    date, the others the time of day (to the millisecond within a minute; days apart: the date)."""
    text = iso_time(ns) or "?"
    date, _, clock = text.partition("T")
    clock = clock.rstrip("Z")
    if span >= 86_400 * 10**9:
        return date if not first else f"{date} {clock[:5]}"
    shown = clock[:12] if span < 60 * 10**9 else clock[:8]
    return f"{date} {shown}" if first else shown


def _tick(x: int, group: list[Event], redaction: Redaction) -> dict[str, Any]:
    """One tick of the chart: where, how many events, and what the first of them says (masked)."""
    first = group[0]
    about = redaction.text(f"{first.what}: {first.message}")[:200]
    more = f" (and {len(group) - 1} more)" if len(group) > 1 else ""
    exact = all(event.certainty == "exact" for event in group)
    return {"x": x, "count": len(group), "title": f"{first.datetime} {about}{more}", "exact": exact}


def _masked(redaction: Redaction, values: list[str | None]) -> list[str | None]:
    """Evidence texts with their secrets masked as ``redaction`` says (one batch); None stays."""
    shown = redaction.texts(["" if value is None else value for value in values])
    return [None if value is None else text for value, text in zip(values, shown, strict=True)]


def memory_map(model: CheckpointModel, process: Process) -> dict[str, Any]:
    """A bar per mapping, laid out: width by the log of its size, and the share of it dumped
    (the pages of shared memory the mapping shows included); ``error`` when unreadable."""
    try:
        memory = model.memory(process.pid)
    except CheckforensicsError as exc:
        return {"pid": process.pid, "error": str(exc)}
    dumped_in: dict[int, int] = {}
    for region in memory.regions(shared=True):
        dumped_in[region.mapping.start] = dumped_in.get(region.mapping.start, 0) + region.length
    bars, x = [], 0.0
    for vma in memory.space.vmas:
        width = 4 + 18 * math.log2(max(vma.size, 4096) / 4096 + 1)
        dumped = dumped_in.get(vma.start, 0)
        bars.append({
            "start": vma.start, "end": vma.end, "perms": vma.perms, "kind": vma.kind, "size": vma.size,
            "dumped": dumped, "share": dumped / vma.size if vma.size else 0, "x": x, "width": width,
        })  # fmt: skip
        x += width + 1
    return {"pid": process.pid, "error": None, "bars": bars, "width": max(x, 10), "dumped": sum(dumped_in.values())}


def _shown(value: Any) -> Any:
    """What every ``{{ ... }}`` prints, before autoescaping: a missing value as ``-``, any other
    as text escaped as on a terminal (render.printable: controls, bidi and format characters,
    lone surrogates, which UTF-8 cannot hold). What the templates made (a macro's output) is
    already escaped, and passes."""
    if type(value) is str:  # most values: tested first, a report can print millions
        return printable(value) if value else "-"
    if hasattr(value, "__html__"):
        return value
    return printable("-" if value is None or value == [] else str(value))


def _hex(value: Any) -> Any:
    return f"{value:#x}" if isinstance(value, int) and not isinstance(value, bool) else value


def _joined(values: list[Any], separator: str = ", ") -> str:
    """Plain text, so that it is escaped like any value (Jinja's ``join`` escapes each item
    itself and returns markup, which ``_shown`` would let pass without ``printable``)."""
    return separator.join(str(value) for value in values)


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("checkforensics", "templates"),
        autoescape=True,
        finalize=_shown,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(hex=_hex, size=human_size, joined=_joined, evidence=evidence_text)
    return environment
