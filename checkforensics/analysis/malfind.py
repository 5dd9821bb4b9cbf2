"""malfind: memory that looks like injected or hidden code, per process.

A checkpoint holds every mapping with its protections and what backs it, and the pages CRIU
dumped, so each process is judged exactly, from its own mappings:

- anonymous memory (private or shared, heap and stack included) that is executable, worse when
  also writable: code that no file on disk accounts for;
- executable mappings of a memfd or of a deleted file: code whose file is gone or never was;
- an ELF or PE header at the start of anonymous memory: a program image copied into memory
  (reflective loading), executable or not yet;
- the process's own executable being a memfd (fileless) or a deleted file;
- in anonymous executable memory, what its first page says of the code (analysis.shellcode):
  a NOP sled in front of it, system call instructions in it; the hexdump and disassembly start
  where the code starts, past the sled.

Never flagged: the kernel's ``[vdso]``, ``[vvar]``, ``[vsyscall]`` and ``[uprobes]`` (CRIU
keeps the vdso's ELF page in every dump), and code mapped from files that still exist. JIT runtimes (Java,
Node.js, .NET, ...) hold executable anonymous memory by design: their anonymous code is still
listed, at low severity, with the runtime named.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checkforensics.analysis.attack import TECHNIQUES
from checkforensics.analysis.memsearch.memparse import hexdump_line
from checkforensics.analysis.severity import Severity
from checkforensics.analysis.shellcode import SCANNED, read_code
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.images.flags import VmaStatus
from checkforensics.model import CheckpointModel
from checkforensics.model.regions import Mapping, MemoryFilter, Region
from checkforensics.model.view import ProcessMemory
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import ADDRESS, INTEGER, LIST, SEVERITY, SIZE, TEXT
from checkforensics.render.escape import json_text

if TYPE_CHECKING:
    from checkforensics.output import Destination, OutputDirectory

FIRST_BYTES = 64  # shown as a hexdump
DISASSEMBLED = 8  # instructions shown where capstone is installed

# reason id -> (what it means, ATT&CK techniques)
REASONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "anon-wx": ("anonymous memory both writable and executable", ("T1055",)),
    "anon-x": ("anonymous executable memory (no file behind it)", ("T1055",)),
    "memfd-x": ("executable mapping of a memfd (an in-memory file)", ("T1620",)),
    "deleted-x": ("executable mapping of a deleted file", ("T1070.004",)),
    "elf-header": ("an ELF header at the start of anonymous memory", ("T1620",)),
    "pe-header": ("a PE (MZ) header at the start of anonymous memory", ("T1620",)),
    "exe-memfd": ("the process's executable is a memfd (fileless)", ("T1620",)),
    "exe-deleted": ("the process's executable was deleted", ("T1070.004",)),
    "nop-sled": ("a NOP sled (0x90 bytes) in front of the code: shellcode's landing area", ("T1055",)),
    "syscall": (
        "system call instructions in anonymous executable code (shellcode calls the kernel itself)",
        ("T1055",),
    ),
}

# Runtimes that write machine code into anonymous memory as they run: program name pattern ->
# the name shown. Matched on the executable's file name, else the comm.
JIT_PROGRAMS = (
    (re.compile(r"^java$"), "Java (HotSpot JIT)"),
    (re.compile(r"^(node|nodejs|deno|bun)$"), "JavaScript (V8/JSC JIT)"),
    (re.compile(r"^(dotnet|pwsh)$"), ".NET (RyuJIT)"),
    (re.compile(r"^mono(-sgen)?$"), "Mono JIT"),
    (re.compile(r"^pypy[0-9.]*$"), "PyPy JIT"),
    (re.compile(r"^python3\.(1[3-9]|[2-9][0-9])t?$"), "CPython (JIT builds from 3.13)"),
    (re.compile(r"^(php|php-fpm|php-cgi)[0-9.]*$"), "PHP (opcache JIT)"),
    (re.compile(r"^(ruby|ruby[0-9.]+)$"), "Ruby (YJIT)"),
    (re.compile(r"^luajit.*$"), "LuaJIT"),
    (re.compile(r"^beam(\.smp)?$"), "Erlang BEAM JIT"),
    (re.compile(r"^(chrome|chromium|electron|firefox|qemu-.*)$"), "browser or emulator JIT"),
)
# Libraries that bring a JIT into a process whatever it is called.
JIT_LIBRARIES = (
    ("libjvm.so", "Java (HotSpot JIT)"),
    ("libnode.so", "JavaScript (V8 JIT)"),
    ("libcoreclr.so", ".NET (RyuJIT)"),
    ("libmonosgen", "Mono JIT"),
    ("libluajit", "LuaJIT"),
)
_NOT_CODE = frozenset({"vdso", "vvar", "vsyscall", "socket"})
_KERNEL_MADE = int(VmaStatus.VMA_AREA_UPROBES)  # [uprobes]: the kernel's executable area for uprobes
_ANONYMOUS_KINDS = frozenset({"anon", "heap", "stack", "shared", "sysvipc"})
_ANONYMOUS_MEMFD = "memfd:/dev/zero"  # CRIU 4 dumps MAP_SHARED|MAP_ANONYMOUS as this memfd


@dataclass
class Suspect:
    """One mapping that looks like injected or hidden code, with why, and its first bytes."""

    pid: int
    comm: str | None
    mapping: Mapping
    reasons: list[str]
    severity: Severity
    jit: str | None = None
    dumped: int = 0  # bytes of the mapping the checkpoint holds
    first: bytes = b""  # up to FIRST_BYTES from code_start, as far as they were dumped
    header: str | None = None  # "ELF" or "PE"
    disassembly: list[str] | None = None  # None: no disassembler installed, or nothing to show
    spans: list[tuple[int, int]] = field(default_factory=list, repr=False)  # [start, end) dumped
    files: list[dict[str, Any]] | None = None  # with --dump: each file written of its bytes
    code_start: int | None = None  # where the code starts past a NOP sled (None: at the start)
    details: dict[str, str] = field(default_factory=dict)  # reason -> what was seen, where

    @property
    def shown_from(self) -> int:
        """Where the hexdump and the disassembly start: the code, past a NOP sled."""
        return self.mapping.start if self.code_start is None else self.code_start

    def read_spans(self, memory: ProcessMemory) -> Iterator[tuple[int, bytes]]:
        """Each dumped stretch of the mapping with its bytes as the process saw them."""
        for start, end in self.spans:
            yield start, memory.read(start, end - start)

    @property
    def anonymous(self) -> bool:
        return is_anonymous(self.mapping)

    @property
    def flags(self) -> list[str]:
        """``anonymous``/``file``, ``private``/``shared``, then ``memfd`` and ``deleted`` when so."""
        mapping = self.mapping
        words = ["anonymous" if self.anonymous else "file", "shared" if mapping.perms.endswith("s") else "private"]
        if mapping.kind == "memfd" and mapping.path != _ANONYMOUS_MEMFD:
            words.append("memfd")
        if mapping.deleted:
            words.append("deleted")
        return words

    @property
    def techniques(self) -> list[str]:
        found: list[str] = []
        for reason in self.reasons:
            found += [t for t in REASONS[reason][1] if t not in found]
        return found

    def hexdump(self) -> list[str]:
        return [hexdump_line(self.shown_from + at, self.first[at : at + 16]) for at in range(0, len(self.first), 16)]


def is_anonymous(mapping: Mapping) -> bool:
    return mapping.kind in _ANONYMOUS_KINDS or (mapping.kind == "memfd" and mapping.path == _ANONYMOUS_MEMFD)


def executable_header(data: bytes) -> str | None:
    """``ELF`` or ``PE`` when ``data`` starts with such a file's header, else None."""
    if data[:4] == b"\x7fELF" and len(data) >= 6 and data[4] in (1, 2) and data[5] in (1, 2):
        return "ELF"
    if data[:2] == b"MZ" and len(data) >= 64:
        pe_offset = int.from_bytes(data[60:64], "little")
        return "PE" if 64 <= pe_offset < 4096 else None  # the "PE\0\0" itself may lie past what was read
    return None


def jit_runtime(program: str, mappings: list[Mapping]) -> str | None:
    """The JIT runtime the process runs, by its program's name or a library it maps; else None."""
    for pattern, name in JIT_PROGRAMS:
        if pattern.match(program):
            return name
    for mapping in mappings:
        base = (mapping.path or "").rsplit("/", 1)[-1]
        for library, name in JIT_LIBRARIES:
            if base.startswith(library):
                return name
    return None


def _reasons(mapping: Mapping, exe_id: int | None, header: str | None) -> list[str]:
    reasons: list[str] = []
    executable = "x" in mapping.perms
    if is_anonymous(mapping):
        if executable:
            reasons.append("anon-wx" if "w" in mapping.perms else "anon-x")
        if header == "ELF":
            reasons.append("elf-header")
        elif header == "PE":
            reasons.append("pe-header")
        return reasons
    if not executable:
        return reasons
    is_exe = exe_id is not None and mapping.vma.shmid == exe_id
    if mapping.kind == "memfd":
        reasons += ["memfd-x", "exe-memfd"] if is_exe else ["memfd-x"]
    elif mapping.deleted:
        reasons += ["deleted-x", "exe-deleted"] if is_exe else ["deleted-x"]
    return reasons


def _severity(reasons: list[str], executable: bool, jit: str | None) -> Severity:
    if "exe-memfd" in reasons or (executable and {"elf-header", "pe-header"} & set(reasons)):
        return Severity.CRITICAL
    if {"elf-header", "pe-header"} & set(reasons):
        return Severity.MEDIUM  # an image copied in, not (yet) executable
    if {"anon-wx", "anon-x"} & set(reasons):
        return Severity.LOW if jit else Severity.HIGH
    if "deleted-x" in reasons and "exe-deleted" not in reasons:
        return Severity.MEDIUM  # a library replaced on disk under a running process is common
    return Severity.HIGH


def _disassemble(data: bytes, address: int) -> list[str] | None:
    """The first instructions of ``data`` (x86-64) where capstone is installed; else None."""
    try:
        import capstone  # optional: pip install 'checkforensics[disasm]'
    except ImportError:
        return None
    engine = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    lines = [
        f"{insn.address:016x}  {insn.mnemonic} {insn.op_str}".rstrip()
        for insn in engine.disasm(data, address, DISASSEMBLED)
    ]
    return lines or None


def suspects_of(memory: ProcessMemory, exe_id: int | None, program: str) -> list[Suspect]:
    """The suspect mappings of one process, in address order."""
    jit = jit_runtime(program, memory.mappings)
    found = []
    for mapping in memory.mappings:
        if mapping.kind in _NOT_CODE or mapping.vma.status & _KERNEL_MADE:
            continue
        anonymous = is_anonymous(mapping)
        if not anonymous and "x" not in mapping.perms:
            continue
        first, _ = memory.read_available(mapping.start, FIRST_BYTES)
        header = executable_header(first) if anonymous else None
        reasons = _reasons(mapping, exe_id, header)
        if not reasons:
            continue
        executable = "x" in mapping.perms
        code_start, details = None, {}
        if anonymous and executable and header is None:
            page, _ = memory.read_available(mapping.start, SCANNED)
            first, code_start, details = _code(page, mapping.start)
            reasons += list(details)
        spans = _dumped_spans(memory.regions(MemoryFilter(address=(mapping.start, mapping.end)), shared=True))
        suspect = Suspect(
            memory.pid,
            memory.comm,
            mapping,
            reasons,
            _severity(reasons, executable, jit),
            jit if {"anon-wx", "anon-x"} & set(reasons) else None,
            sum(end - start for start, end in spans),
            first,
            header,
            spans=spans,
            code_start=code_start,
            details=details,
        )
        if executable and first and header is None:
            suspect.disassembly = _disassemble(first, suspect.shown_from)
        found.append(suspect)
    return found


def _code(page: bytes, start: int) -> tuple[bytes, int | None, dict[str, str]]:
    """What anonymous executable memory's first page (from ``start``) says of its code: the
    bytes to show, from where the code starts; that address when it is past a NOP sled; and
    the reasons it gives (``nop-sled``, ``syscall``) with what was seen, where."""
    code = read_code(page)
    details = {}
    if code.sled:
        details["nop-sled"] = f"{code.sled} bytes of 0x90 from {start:#x}; the code starts at {start + code.start:#x}"
    if code.system_calls:
        details["syscall"] = ", ".join(f"{name} at {start + at:#x}" for at, name in code.system_calls)
    first = page[code.start : code.start + FIRST_BYTES]
    return first, (start + code.start if code.sled else None), details


def _dumped_spans(regions: list[Region]) -> list[tuple[int, int]]:
    """The stretches of addresses ``regions`` cover, regions that touch joined (in a private
    mapping of a memfd, the process's own pages and the memfd's alternate)."""
    spans: list[tuple[int, int]] = []
    for region in regions:
        if spans and region.start == spans[-1][1]:
            spans[-1] = (spans[-1][0], region.end)
        else:
            spans.append((region.start, region.end))
    return spans


@dataclass
class MalfindResult:
    suspects: list[Suspect]
    warnings: list[str]  # the processes left out, then what their memory views could not read


def malfind(model: CheckpointModel, pids: tuple[int, ...] | list[int] = ()) -> MalfindResult:
    """Every suspect mapping of the chosen processes (all by default), process by process."""
    suspects: list[Suspect] = []
    memories = model.memories(pids)
    left_out = [str(diagnostic) for diagnostic in model.memories_left_out(pids)]
    warnings = [*left_out, *model.diagnostics.said(Part.MEMORY, pids={memory.pid for memory in memories})]
    for memory in memories:
        try:
            mm = model.mm(memory.pid)
            exe_id = mm.exe_file_id if mm.HasField("exe_file_id") else None
        except CheckforensicsError:
            exe_id = None
        exe = model.file_names.get(exe_id) if exe_id is not None else None
        program = (exe or "").rsplit("/", 1)[-1] or (memory.comm or "")
        suspects += suspects_of(memory, exe_id, program)
    return MalfindResult(suspects, warnings)


def _reason_json(suspect: Suspect, reason: str) -> dict[str, str]:
    shown = {"id": reason, "description": REASONS[reason][0]}
    if reason in suspect.details:
        shown["detail"] = suspect.details[reason]
    return shown


def _reasons_cell(suspect: Suspect) -> str:
    return ", ".join(suspect.reasons) + (f" (JIT: {suspect.jit})" if suspect.jit else "")


REGION = RecordType(
    "region",
    "regions",
    (
        Field("pid", INTEGER),
        Field("comm", TEXT),
        Field("start", ADDRESS, "the mapping's first address", get=lambda s: s.mapping.start),
        Field("end", ADDRESS, "the mapping's end (excluded)", get=lambda s: s.mapping.end),
        Field("perms", TEXT, "as /proc/PID/maps shows them", get=lambda s: s.mapping.perms),
        Field("kind", TEXT, "as in memgrep's vma", get=lambda s: s.mapping.kind),
        Field("path", TEXT, "memfd:NAME for a memfd, null for anonymous memory", get=lambda s: s.mapping.path),
        Field("flags", LIST, "anonymous or file, private or shared, then memfd and deleted when so"),
        Field("severity", SEVERITY),
        Field("reasons", LIST, "why it was flagged: {id, description}, and detail (what was seen, where) for "
              "nop-sled and syscall", get=lambda s: [_reason_json(s, r) for r in s.reasons]),
        Field("techniques", LIST, "MITRE ATT&CK techniques of its reasons: {id, name}",
              get=lambda s: [{"id": t, "name": TECHNIQUES[t]} for t in s.techniques]),
        Field("jit", TEXT, "the JIT runtime named when its anonymous code was lowered to low"),
        Field("size", SIZE, "the mapping's size", get=lambda s: s.mapping.end - s.mapping.start),
        Field("dumped", SIZE, "how many of its bytes the checkpoint holds"),
        Field("header", TEXT, "ELF, PE or null"),
        Field("code_start", ADDRESS, "where the code starts past a NOP sled: first_bytes, hexdump and "
              "disassembly start there", sometimes=True),
        Field("first_bytes", TEXT, f"up to {FIRST_BYTES} bytes from start (code_start past a sled), in hex",
              get=lambda s: s.first.hex()),
        Field("hexdump", LIST, "the same as hexdump -C lines with virtual addresses", get=lambda s: s.hexdump()),
        Field("disassembly", LIST, "the first instructions where capstone is installed, else null"),
        Field("files", LIST, "with --dump: each file written, {file, address, size, sha256}", sometimes=True),
    ),
    (
        "severity", "pid", "comm", "start", "end", "perms", Column("MAPPING", get=lambda s: s.mapping.label),
        Column("FLAGS", get=lambda s: " ".join(s.flags)), "dumped", Column("REASONS", get=_reasons_cell),
        Column("ATT&CK", get=lambda s: " ".join(s.techniques)),
    ),
    "One mapping that looks like injected or hidden code.",
)  # fmt: skip


def flagged_regions(model: CheckpointModel, pids: tuple[int, ...] = (), dump: Destination | None = None) -> Answer:
    """malfind's answer: every suspect mapping of the chosen processes as a ``REGION`` record;
    with ``dump``, each one's dumped bytes written there first, with manifest.json."""
    found = malfind(model, pids)
    after: list[str] = []
    extra: dict[str, Any] = {}
    if dump is not None:
        with dump.directory() as directory:
            count = write_regions(model, found.suspects, directory)
        extra["output"] = str(Path(dump.path))
        after.append(f"wrote {count} files and manifest.json to {Path(dump.path)}")
    return Answer(
        [Section(REGION, found.suspects)],
        nothing="no memory looks like injected or hidden code",
        extra=extra,
        text=regions_text,
        table=regions_text,
        after=after,
        warnings=found.warnings,
        about=frozenset(pids) or None,
    )


def write_regions(model: CheckpointModel, suspects: list[Suspect], directory: OutputDirectory) -> int:
    """One file per dumped stretch of each suspect mapping (each suspect's ``files`` says which),
    then manifest.json, the ``REGION`` records; the count of files written besides it."""
    count = 0
    for suspect in suspects:
        memory = model.memory(suspect.pid)
        suspect.files = []
        for start, data in suspect.read_spans(memory):
            name = f"pid{suspect.pid}-{start:x}-{start + len(data):x}.bin"
            with directory.new_file(name) as handle:
                handle.write(data)
            digest = hashlib.sha256(data).hexdigest()
            suspect.files.append({"file": name, "address": start, "size": len(data), "sha256": digest})
        count += len(suspect.files)
    manifest = {"regions": [REGION.json(suspect) for suspect in suspects]}
    with directory.new_file("manifest.json") as handle:
        handle.write((json_text(manifest, indent=2) + "\n").encode())
    return count


def regions_text(items: Iterable[Suspect]) -> list[Any]:
    """The text view: the table of regions, then each region's reasons, hexdump and
    disassembly."""
    from checkforensics.render import Lines
    from checkforensics.render.answers import record_table

    suspects = list(items)
    if not suspects:
        return []
    blocks: list[Any] = [record_table(Section(REGION, suspects))]
    for s in suspects:
        lines = [f"pid {s.pid} {s.comm or '-'}  {s.mapping.describe()}"]
        lines += [
            f"  {reason}: {REASONS[reason][0]}" + (f": {s.details[reason]}" if reason in s.details else "")
            for reason in s.reasons
        ]
        if s.jit:
            lines.append(f"  JIT runtime: {s.jit} (executable anonymous memory is its normal way of working)")
        lines += s.hexdump() if s.first else ["  (its first page is not in the checkpoint)"]
        lines += s.disassembly or []
        blocks.append(Lines(lines))
    return blocks
