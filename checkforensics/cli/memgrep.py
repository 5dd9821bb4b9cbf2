"""``memgrep``, ``memparse`` and ``memdump``: search, size, hex-dump and copy process memory."""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from checkforensics import progress
from checkforensics.analysis.memsearch import (
    MAX_CONTEXT,
    VMA_KINDS,
    DumpedRegion,
    MemoryFilter,
    MemoryMatch,
    ProcessMemory,
    SearchPattern,
    dump_memory,
    escape_bytes,
    hexdump,
    load_memories,
    memory_sizes,
    parse_address_range,
    search_memory,
    searched_bytes,
)
from checkforensics.analysis.sharedmem import SharedMemory, load_shared_memories
from checkforensics.archive import Checkpoint
from checkforensics.cli.options import Decorator, checkpoint_argument, output_options
from checkforensics.errors import ExitCode, InputError
from checkforensics.output import OutputGuard
from checkforensics.render import JSON, Table, human_size, print_json, print_table

DEFAULT_MAX_COUNT = 10_000  # matches per process: keeps output and memory bounded for patterns like "\x00"


# --- options shared by the three commands -------------------------------------------------------


def memory_filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--perms``, ``--vma-type``, ``--address`` and ``--file``, handed over as ``memory_filter``."""
    options: list[Decorator] = [
        click.option("--perms", metavar="PERMS", help="Only mappings with these permissions: rw, x, s, or r-xp."),
        click.option(
            "--vma-type",
            "kinds",
            multiple=True,
            type=click.Choice(VMA_KINDS),
            help="Only mappings of this kind (repeatable); shared = shared anonymous memory.",
        ),
        click.option("--address", metavar="START-END", help="Only this address range (hexadecimal)."),
        click.option("--file", "file_glob", metavar="GLOB", help="Only mappings of files matching this pattern."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _memory_filter(
    perms: str | None, kinds: tuple[str, ...], address: str | None, file_glob: str | None
) -> MemoryFilter:
    try:
        span = parse_address_range(address) if address is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--address") from None
    try:
        return MemoryFilter(perms=perms, kinds=frozenset(kinds), address=span, file_glob=file_glob)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--perms") from None


def _emit_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"checkforensics: warning: {warning}", err=True)


# --- memgrep ------------------------------------------------------------------------------------


def _patterns(texts: list[str], regex: bool, ignore_case: bool) -> list[SearchPattern]:
    """The user's patterns, as the bytes they typed (os.fsencode keeps undecodable ones intact)."""
    patterns = []
    for text in texts:
        raw = os.fsencode(text)
        try:
            if regex:
                patterns.append(SearchPattern.from_regex(raw, ignore_case=ignore_case, name=text))
            else:
                patterns.append(SearchPattern.from_literal(raw, ignore_case=ignore_case, name=text))
        except (re.error, ValueError) as exc:
            raise click.BadParameter(f"{text!r}: {exc}", param_hint="PATTERN") from None
    return patterns


def _secret_findings(
    opened: Checkpoint,
    pids: tuple[int, ...],
    rules_file: str | None,
    yara_files: tuple[str, ...],
    redact: bool,
    shared: bool,
    memory_filter: MemoryFilter,
    warnings: list[str],
) -> list[dict[str, Any]]:
    """The credential rules (and the user's, first, so they win overlaps) over the chosen processes,
    within the memory filters when there are any."""
    from checkforensics.analysis import secrets as secret_rules
    from checkforensics.analysis.processes import load_tree
    from checkforensics.analysis.secretscan import finding_records, scan_memories, scan_tree

    rules = [*(secret_rules.load_rules(rules_file) if rules_file else []), *secret_rules.BUILTIN_RULES]
    tree = load_tree(opened)
    yara = None
    if yara_files:
        from checkforensics.analysis.yarascan import YaraRules

        yara = YaraRules(yara_files)
    if memory_filter != MemoryFilter():
        memories: list[ProcessMemory] = load_memories(opened, pids, warnings)
        memories += _shared_objects(opened, memories, pids, memory_filter, warnings) if shared else []
        return finding_records(scan_memories(memories, memory_filter, rules, yara), redact=redact)
    hits = scan_tree(opened, tree, rules, set(pids) if pids else None, shared=shared, yara=yara)
    warnings += tree.warnings
    return finding_records(hits, redact=redact)


def match_json(match: MemoryMatch) -> dict[str, Any]:
    return {
        "pid": match.pid,
        "comm": match.comm,
        "address": match.address,
        "vma": match.mapping.as_json(),
        "pattern": match.pattern.name,
        "match": escape_bytes(match.data),
        "match_hex": match.data.hex(),
        "length": len(match.data),
        "context": escape_bytes(match.before + match.data + match.after),
        "context_address": match.context_address,
    }


@click.command()
@checkpoint_argument()
@click.argument("pattern_args", metavar="[PATTERN]...", nargs=-1)
@click.option("-e", "--regexp", "more_patterns", metavar="PATTERN", multiple=True, help="A pattern (repeatable).")
@click.option("--regex", is_flag=True, help="Patterns are Python regular expressions over bytes.")
@click.option("-i", "--ignore-case", is_flag=True, help="ASCII letters match in either case.")
@click.option("--pid", "pids", type=int, multiple=True, help="Only this process (repeatable).")
@click.option(
    "--context",
    type=click.IntRange(0, MAX_CONTEXT),
    default=16,
    show_default=True,
    help="Bytes of context on either side of a match.",
)
@click.option(
    "--max-count",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_COUNT,
    show_default=True,
    help="Stop after this many matches in each process (0: no limit).",
)
@memory_filter_options
@click.option("--secrets", is_flag=True, help="Also run the credential rules (docs/secrets.md); PATTERN optional.")
@click.option("--rules", "rules_file", type=click.Path(exists=True, dir_okay=False), help="More rules (TOML).")
@click.option(
    "--yara",
    "yara_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="YARA rules to run too (repeatable; needs yara-python).",
)
@click.option("--redact/--no-redact", default=True, show_default=True, help="Cut secret values in the output.")
@click.option(
    "--shared/--no-shared",
    default=True,
    show_default=True,
    help="Also search shared memory objects (memfds, SysV segments, shared anonymous memory), once each.",
)
@click.option("--hash", "with_hash", is_flag=True, help="Add the archive's SHA-256 to JSON output (reads it whole).")
@output_options()
def memgrep(
    checkpoint: str,
    pattern_args: tuple[str, ...],
    more_patterns: tuple[str, ...],
    regex: bool,
    ignore_case: bool,
    pids: tuple[int, ...],
    context: int,
    max_count: int,
    perms: str | None,
    kinds: tuple[str, ...],
    address: str | None,
    file_glob: str | None,
    secrets: bool,
    rules_file: str | None,
    yara_files: tuple[str, ...],
    redact: bool,
    shared: bool,
    with_hash: bool,
    fmt: str,
    no_color: bool,
) -> int:
    """Search the memory of every process for strings or regexes (exit 1 when nothing matched).

    Each match comes with its process, virtual address, the mapping it lies in and the bytes
    around it. Matches that cross page or chunk boundaries inside a mapping are found; bytes
    of different mappings, or on both sides of pages that were not dumped, never make one.
    Shared memory (memfds, SysV segments, MAP_SHARED anonymous memory) is dumped once, not per
    process: it is searched once and listed apart, with where each process maps the match.

    \b
    Examples:
      checkforensics memgrep checkpoint.tar RANDOM_1432_KEY
      checkforensics memgrep checkpoint.tar.zst --regex 'ghp_[A-Za-z0-9]{36}' --vma-type heap
      checkforensics memgrep checkpoint.tar -i -e password -e secret --pid 7 --format json
      checkforensics memgrep checkpoint.tar --secrets
    """
    patterns = _patterns([*pattern_args, *more_patterns], regex, ignore_case)
    secrets = secrets or rules_file is not None or bool(yara_files)
    if not patterns and not secrets:
        raise click.UsageError("give a PATTERN to search for (or -e PATTERN), or --secrets")
    memory_filter = _memory_filter(perms, kinds, address, file_glob)
    limit = max_count or None
    warnings: list[str] = []
    with Checkpoint.open(checkpoint) as opened:
        findings = (
            _secret_findings(opened, pids, rules_file, yara_files, redact, shared, memory_filter, warnings)
            if secrets
            else None
        )
        if findings is not None and fmt != JSON:
            _print_findings(findings, fmt, no_color)
        if not patterns:
            if fmt == JSON:
                document: dict[str, Any] = {"findings": findings, "warnings": warnings}
                if with_hash:
                    document["sha256"] = opened.sha256()
                print_json(document)
            _emit_warnings(warnings)
            return ExitCode.OK if findings else ExitCode.NOTHING_FOUND
        memories = load_memories(opened, pids, warnings)
        objects = _shared_objects(opened, memories, pids, memory_filter, warnings) if shared else []
        total = searched_bytes(memories, memory_filter) + searched_bytes(objects)
        with progress.quiet_while_streaming(fmt == JSON), progress.task("searching", total) as advance:
            found = search_memory(
                opened,
                memories,
                patterns,
                memory_filter=memory_filter,
                context=context,
                max_count=None if limit is None else limit + 1,  # one more, to tell when there were more
                progress=advance,
                warnings=warnings,
            )
            matches = _at_most(found, limit, warnings)
            in_shared = _shared_matches(opened, objects, patterns, context, limit, advance, warnings)
            if fmt == JSON:
                count = _stream_json(matches, in_shared, findings, warnings, opened.sha256 if with_hash else None)
            else:
                if findings is not None:
                    click.echo()
                count = _print_matches(matches, in_shared, fmt, no_color)
    _emit_warnings(warnings)
    return ExitCode.OK if count or findings else ExitCode.NOTHING_FOUND


def _print_matches(
    matches: Iterator[MemoryMatch], in_shared: Iterator[tuple[SharedMemory, MemoryMatch]], fmt: str, no_color: bool
) -> int:
    rows = [
        [
            match.pid,
            match.comm,
            f"{match.address:#x}",
            match.mapping.describe(),
            escape_bytes(match.data),
            escape_bytes(match.before + match.data + match.after),
        ]
        for match in matches
    ]
    shared_rows = [
        [
            obj.describe(),
            f"{match.address:#x}",
            [f"{pid}:{address:#x}" for pid, _, address in obj.mapped_at(match.address)],
            escape_bytes(match.data),
            escape_bytes(match.before + match.data + match.after),
        ]
        for obj, match in in_shared
    ]
    if rows:
        columns = ["PID", "COMM", "ADDRESS", "VMA", "MATCH", "CONTEXT"]
        print_table(Table(columns, rows, styles={"MATCH": "bold red"}), fmt, no_color=no_color)
    if shared_rows:
        if rows:
            click.echo()
        columns = ["SHARED MEMORY", "OFFSET", "MAPPED AT (PID:ADDRESS)", "MATCH", "CONTEXT"]
        print_table(Table(columns, shared_rows, styles={"MATCH": "bold red"}), fmt, no_color=no_color)
    return len(rows) + len(shared_rows)


def _print_findings(findings: list[dict[str, Any]], fmt: str, no_color: bool) -> None:
    rows = [
        [f["severity"].upper(), f["rule"], f["pid"], f["comm"], f"{f['address']:#x}", f["value"], f["count"]]
        for f in findings
    ]
    styles = {"critical": "bold red", "high": "red", "medium": "yellow"}
    columns = ["SEVERITY", "RULE", "PID", "COMM", "ADDRESS", "VALUE", "COUNT"]
    table = Table(columns, rows, row_styles=[styles.get(f["severity"]) for f in findings])
    print_table(table, fmt, no_color=no_color)


def _at_most(matches: Iterator[MemoryMatch], limit: int | None, warnings: list[str]) -> Iterator[MemoryMatch]:
    """The first ``limit`` matches of each process, and a warning for each process that had more."""
    counts: Counter[int] = Counter()
    for match in matches:
        counts[match.pid] += 1
        if limit is not None and counts[match.pid] > limit:
            warnings.append(
                f"pid {match.pid}: more than {limit} matches; only the first {limit} are shown (--max-count)"
            )
            continue
        yield match


def _shared_objects(
    opened: Checkpoint,
    memories: list[ProcessMemory],
    pids: tuple[int, ...],
    memory_filter: MemoryFilter,
    warnings: list[str],
) -> list[SharedMemory]:
    """The shared memory objects to search: with --pid, those the processes map; filters by
    address, permissions or file leave them out, --vma-type keeps those of its kinds."""
    if memory_filter.address is not None or memory_filter.perms is not None or memory_filter.file_glob is not None:
        return []
    objects = load_shared_memories(opened, memories, warnings)
    if pids:
        objects = [obj for obj in objects if obj.users]
    if memory_filter.kinds:
        objects = [obj for obj in objects if obj.kind in memory_filter.kinds]
    return objects


def _shared_matches(
    opened: Checkpoint,
    objects: list[SharedMemory],
    patterns: list[SearchPattern],
    context: int,
    limit: int | None,
    progress: Callable[[int], None] | None,
    warnings: list[str],
) -> Iterator[tuple[SharedMemory, MemoryMatch]]:
    """Matches in each shared object (offsets as addresses), at most ``limit`` per object."""
    for obj in objects:
        found = search_memory(
            opened,
            [obj],
            patterns,
            context=context,
            max_count=None if limit is None else limit + 1,
            progress=progress,
            warnings=warnings,
        )
        for number, match in enumerate(found, 1):
            if limit is not None and number > limit:
                warnings.append(f"{obj.label}: more than {limit} matches; only the first {limit} are shown")
                break
            yield obj, match


def shared_match_json(obj: SharedMemory, match: MemoryMatch) -> dict[str, Any]:
    return {
        "object": obj.as_json(),
        "offset": match.address,
        "mapped": [
            {"pid": pid, "comm": comm, "address": address} for pid, comm, address in obj.mapped_at(match.address)
        ],
        "pattern": match.pattern.name,
        "match": escape_bytes(match.data),
        "match_hex": match.data.hex(),
        "length": len(match.data),
        "context": escape_bytes(match.before + match.data + match.after),
        "context_offset": match.context_address,
    }


def _stream_json(
    matches: Iterator[MemoryMatch],
    in_shared: Iterator[tuple[SharedMemory, MemoryMatch]],
    findings: list[dict[str, Any]] | None,
    warnings: list[str],
    digest: Callable[[], str] | None,
) -> int:
    """Print the JSON document match by match (as print_json would lay it out), so that a search
    with millions of matches never holds them all; returns how many there were. ``findings``
    (with --secrets) come first."""
    out = sys.stdout
    count = 0
    if findings is not None:
        out.write('{\n  "findings": ' + json.dumps(findings, indent=2, ensure_ascii=False).replace("\n", "\n  "))
    for key, records in (
        ("matches", (match_json(match) for match in matches)),
        ("shared_matches", (shared_match_json(obj, match) for obj, match in in_shared)),
    ):
        out.write(("{" if key == "matches" and findings is None else ",") + f'\n  "{key}": [')
        listed = 0
        for record in records:
            text = json.dumps(record, indent=2, ensure_ascii=False).replace("\n", "\n    ")
            out.write(("," if listed else "") + "\n    " + text)
            listed += 1
        out.write("\n  ]" if listed else "]")
        count += listed
    out.write(',\n  "warnings": ' + json.dumps(warnings, indent=2, ensure_ascii=False).replace("\n", "\n  "))
    if digest is not None:
        out.write(f',\n  "sha256": {json.dumps(digest())}')
    out.write("\n}\n")
    return count


# --- memparse and memdump -------------------------------------------------------------------


def _one_memory(opened: Checkpoint, pid: int | None, shmid: int | None, warnings: list[str]) -> ProcessMemory:
    """The process ``pid``'s memory, or else the shared memory object ``shmid``."""
    return _one_process(opened, pid, warnings) if pid is not None else _one_shared(opened, shmid, warnings)


def _one_shared(opened: Checkpoint, shmid: int | None, warnings: list[str]) -> SharedMemory:
    objects = load_shared_memories(opened, load_memories(opened, (), []), warnings)
    found = next((obj for obj in objects if obj.shmid == shmid), None)
    if found is None:
        known = ", ".join(str(obj.shmid) for obj in objects) or "none"
        raise click.BadParameter(f"no shared memory object {shmid} (there are: {known})", param_hint="--shmid")
    return found


def _one_process(opened: Checkpoint, pid: int, warnings: list[str]) -> ProcessMemory:
    memories = load_memories(opened, [pid], warnings)
    if not memories:
        raise InputError(f"the memory of process {pid} cannot be read ({'; '.join(warnings) or 'no images'})")
    return memories[0]


def _dump(
    opened: Checkpoint, memory: ProcessMemory, out: Path, force: bool, checkpoint: str, memory_filter: MemoryFilter
) -> list[DumpedRegion]:
    if not memory.regions(memory_filter):
        return []
    with OutputGuard(checkpoint).new_file(out, force=force) as handle:
        return dump_memory(opened, memory, handle, memory_filter)


def _print_dump(memory: ProcessMemory, out: Path | None, placed: list[DumpedRegion], fmt: str, no_color: bool) -> None:
    if fmt == JSON:
        print_json(
            {
                "pid": memory.pid,
                "comm": memory.comm,
                **({"shared": memory.as_json()} if isinstance(memory, SharedMemory) else {}),
                "output": str(out) if out is not None else None,
                "size": sum(region.size for region in placed),
                "regions": [
                    {"vaddr": r.vaddr, "size": r.size, "offset": r.offset, "vma": r.mapping.as_json()} for r in placed
                ],
            }
        )
        return
    rows = [[f"{r.vaddr:#x}", r.size, r.offset, r.mapping.describe()] for r in placed]
    title = f"{out}: {sum(r.size for r in placed)} bytes of {memory.label}" if out is not None else None
    print_table(Table(["VADDR", "SIZE", "OFFSET", "VMA"], rows, title=title), fmt, no_color=no_color)


def _print_sizes(
    opened: Checkpoint, memory_filter: MemoryFilter, warnings: list[str], fmt: str, no_color: bool
) -> None:
    """One row per process; one whose memory images cannot be read has no sizes (``-``, null)."""
    listed: list[tuple[int, str | None]] = []
    sizes = {m.pid: memory_sizes(m, memory_filter) for m in load_memories(opened, (), warnings, listed)}
    records = []
    for pid, comm in listed:
        size = sizes.get(pid)
        records.append(
            {
                "pid": pid,
                "comm": comm,
                "memory_size": size.memory_size if size else None,
                "dumped_size": size.dumped_size if size else None,
                "shared_memory_size": size.shared_memory_size if size else None,
            }
        )
    objects = _shared_objects(opened, list(load_memories(opened, (), [])), (), memory_filter, warnings)
    shared = [
        {
            **obj.as_json(),
            "dumped_size": obj.space.dumped_bytes,
            "mapped_by": sorted({use.pid for use in obj.users}),
        }
        for obj in objects
    ]
    if fmt == JSON:
        print_json({"processes": records, "shared": shared, "warnings": warnings})
        return
    rows = [[r["pid"], r["comm"], human_size(r["memory_size"]), human_size(r["shared_memory_size"])] for r in records]
    columns = ["PID", "PROCESS NAME", "MEMORY SIZE", "SHARED MEMORY SIZE"]
    print_table(Table(columns, rows), fmt, no_color=no_color)
    if shared:
        click.echo()
        rows = [
            [s["shmid"], s["kind"], obj.describe(), human_size(s["size"]), human_size(s["dumped_size"]), s["mapped_by"]]
            for s, obj in zip(shared, objects, strict=True)
        ]
        columns = ["SHMID", "KIND", "SHARED MEMORY", "SIZE", "DUMPED", "MAPPED BY"]
        print_table(Table(columns, rows), fmt, no_color=no_color)


def _placements(memory: ProcessMemory, memory_filter: MemoryFilter) -> list[DumpedRegion]:
    """Where each region would go in a dump, without writing one."""
    placed, offset = [], 0
    for region in memory.regions(memory_filter):
        placed.append(DumpedRegion(region.start, region.length, offset, region.mapping))
        offset += region.length
    return placed


def _write_hexdump(lines: Iterator[str]) -> None:
    stdout = click.get_text_stream("stdout")
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= 4096:
            stdout.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        stdout.write("\n".join(batch) + "\n")


@click.command()
@checkpoint_argument()
@click.option("--pid", type=int, help="Hex-dump this process's memory (or write it with -o).")
@click.option("--shmid", type=int, help="Hex-dump this shared memory object instead (memparse lists their ids).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="With --pid: write raw memory here.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@memory_filter_options
@output_options()
def memparse(
    checkpoint: str,
    pid: int | None,
    shmid: int | None,
    out: Path | None,
    force: bool,
    perms: str | None,
    kinds: tuple[str, ...],
    address: str | None,
    file_glob: str | None,
    fmt: str,
    no_color: bool,
) -> int:
    """Memory sizes of every process; with --pid, a hexdump of its memory (checkpointctl memparse).

    MEMORY SIZE counts the pages the pagemap describes, SHARED MEMORY SIZE the MAP_SHARED
    mappings; shared memory objects (memfds, SysV segments), dumped once for all the processes
    that map them, are listed after the processes. With --pid (or --shmid) the dumped memory is
    printed like `hexdump -C` (virtual addresses, or offsets in the object; `*` for repeated
    lines); with -o FILE it is written raw, laid out as memdump does.

    \b
    Examples:
      checkforensics memparse checkpoint.tar
      checkforensics memparse checkpoint.tar --pid 7 --vma-type heap | less
      checkforensics memparse checkpoint.tar --pid 7 -o pid7.raw
      checkforensics memparse checkpoint.tar --shmid 8708
    """
    if pid is not None and shmid is not None:
        raise click.UsageError("give --pid or --shmid, not both")
    if out is not None and pid is None and shmid is None:
        raise click.UsageError("-o/--output writes one process's memory: give --pid (or --shmid) too")
    memory_filter = _memory_filter(perms, kinds, address, file_glob)
    warnings: list[str] = []
    with Checkpoint.open(checkpoint) as opened:
        if pid is None and shmid is None:
            _print_sizes(opened, memory_filter, warnings, fmt, no_color)
        else:
            memory = _one_memory(opened, pid, shmid, warnings)
            if out is not None:
                placed = _dump(opened, memory, out, force, checkpoint, memory_filter)
                if not placed:
                    warnings.append(f"{memory.label}: no dumped memory matches; {out} not written")
                    _emit_warnings(warnings)
                    return ExitCode.NOTHING_FOUND
                _print_dump(memory, out, placed, fmt, no_color)
            elif fmt == JSON:
                _print_dump(memory, None, _placements(memory, memory_filter), fmt, no_color)
            else:
                _write_hexdump(hexdump(opened, memory, memory_filter))
    _emit_warnings(warnings)
    return ExitCode.OK


@click.command()
@checkpoint_argument()
@click.option("--pid", type=int, help="The process whose memory to write.")
@click.option("--shmid", type=int, help="Or the shared memory object to write (ids: memparse lists them).")
@click.option("--vma", metavar="ADDR", help="Only the mapping holding this address (hexadecimal).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="The file to write.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@memory_filter_options
@output_options()
def memdump(
    checkpoint: str,
    pid: int | None,
    shmid: int | None,
    vma: str | None,
    out: Path,
    force: bool,
    perms: str | None,
    kinds: tuple[str, ...],
    address: str | None,
    file_glob: str | None,
    fmt: str,
    no_color: bool,
) -> int:
    """Write a process's dumped memory, or one mapping of it, to a file (exit 1 when there is none).

    The file holds the dumped regions back to back in address order; the listing printed
    says where each one went (VADDR, SIZE, OFFSET in the file). Pages that were not dumped
    take no space. An existing file is only replaced with --force; the checkpoint never.
    --shmid writes a shared memory object (a memfd, a SysV segment) instead: its offsets take
    the place of addresses.

    \b
    Examples:
      checkforensics memdump checkpoint.tar --pid 7 -o pid7.mem
      checkforensics memdump checkpoint.tar --pid 7 --vma 0x2ccf3000 -o heap.bin --format json
      checkforensics memdump checkpoint.tar --shmid 8708 -o shared.bin
    """
    if (pid is None) == (shmid is None):
        raise click.UsageError("give --pid (a process) or --shmid (a shared memory object)")
    memory_filter = _memory_filter(perms, kinds, address, file_glob)
    warnings: list[str] = []
    with Checkpoint.open(checkpoint) as opened:
        memory = _one_memory(opened, pid, shmid, warnings)
        if vma is not None:
            memory_filter = _only_mapping(memory, vma, memory_filter)
        placed = _dump(opened, memory, out, force, checkpoint, memory_filter)
    if not placed:
        warnings.append(f"{memory.label}: no dumped memory matches; {out} not written")
    else:
        _print_dump(memory, out, placed, fmt, no_color)
    _emit_warnings(warnings)
    return ExitCode.OK if placed else ExitCode.NOTHING_FOUND


def _only_mapping(memory: ProcessMemory, text: str, memory_filter: MemoryFilter) -> MemoryFilter:
    """``memory_filter`` narrowed to the mapping that holds address ``text``."""
    try:
        wanted = int(text, 16)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a hexadecimal address", param_hint="--vma") from None
    mapping = next((m for m in memory.mappings if m.start <= wanted < m.end), None)
    if mapping is None:
        raise click.BadParameter(f"no mapping of pid {memory.pid} holds {wanted:#x}", param_hint="--vma")
    span = memory_filter.clip(mapping.start, mapping.end)
    if span is None:
        raise click.BadParameter(f"{wanted:#x} is outside --address", param_hint="--vma")
    return MemoryFilter(memory_filter.perms, memory_filter.kinds, span, memory_filter.file_glob)
