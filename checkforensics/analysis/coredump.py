"""ELF core files from checkpointed processes, for gdb.

One ELF64 ET_CORE file per process: a PT_NOTE segment with NT_PRSTATUS (general registers)
for every thread, the main thread first, each followed by NT_FPREGSET and NT_X86_XSTATE,
plus NT_PRPSINFO, NT_SIGINFO, NT_AUXV and NT_FILE for the process; then one PT_LOAD per
mapping. A mapping with dumped pages carries its whole range in the file, pages that were not
dumped reading as zeros (written as holes, so they take no disk); a mapping with no dumped
page (typically an unmodified file mapping, which gdb then reads from the file itself) has a
file size of 0, as in kernel core dumps.

The holes are bounded: when the mappings with dumped pages span more than SPAN_LIMIT (an mm
image may claim a mapping of 2^47 bytes holding one page), the widest of them are written as
their dumped regions only, one PT_LOAD each, so a core file is never much bigger than the
memory the checkpoint holds. Past 65,534 segments the program header count is stored the
way the kernel stores it (PN_XNUM, the count in section header 0).

References: linux/elfcore.h, linux/elf.h (note types), arch/x86/include/asm/user_64.h,
the Intel SDM's XSAVE layout, binutils/gdb's reading of core notes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from checkforensics import progress
from checkforensics.diagnostics import Diagnostic, Part
from checkforensics.errors import CheckforensicsError, InputError, OutputError, UnsupportedError
from checkforensics.images.flags import PAGE_SIZE, Prot, TaskState
from checkforensics.model import CheckpointModel, Process
from checkforensics.model.memory import Vma
from checkforensics.model.regions import Region
from checkforensics.model.view import ProcessMemory
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import INTEGER, SIZE, TEXT

if TYPE_CHECKING:
    from checkforensics.output import Destination

EM_X86_64 = 62
ET_CORE = 4
PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W, PF_R = 1, 2, 4

NT_PRSTATUS = 1
NT_PRFPREG = 2
NT_PRPSINFO = 3
NT_AUXV = 6
NT_X86_XSTATE = 0x202
NT_SIGINFO = 0x53494749
NT_FILE = 0x46494C45

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
PN_XNUM = 0xFFFF
_COPY_CHUNK = 4 << 20
SPAN_LIMIT = 64 << 30  # bytes of address space a core file lays out with holes
AUXV_LIMIT = 512  # values of mm_saved_auxv read (the kernel keeps a few dozen: AT_VECTOR_SIZE)

# XSAVE components: (bit, offset in the standard format, CRIU field, element format, elements)
_XSAVE_COMPONENTS = (
    (2, 576, "ymmh_space", "I", 64),
    (3, 960, "bndreg_state", "Q", 8),
    (4, 1024, "bndcsr_state", "Q", 8),
    (5, 1088, "opmask_reg", "Q", 8),
    (6, 1152, "zmm_upper", "Q", 64),
    (7, 1664, "hi16_zmm", "Q", 128),
    (9, 2688, "pkru", "I", 2),
)
_XCR0_OFFSET = 464  # in the FXSAVE area's software-reserved bytes; where gdb looks for XCR0


@dataclass
class CoreFile:
    """One core file written: its process, path, threads, PT_LOAD segments and length."""

    pid: int
    comm: str | None
    path: Path
    threads: int
    segments: int
    size: int


CORE = RecordType(
    "core",
    "cores",
    (
        Field("pid", INTEGER),
        Field("comm", TEXT),
        Field("path", TEXT, "the core file written, DIR/core.PID", get=lambda core: str(core.path)),
        Field("threads", INTEGER, "NT_PRSTATUS notes: one per thread"),
        Field("segments", INTEGER, "the PT_LOAD segments that carry dumped memory"),
        Field("size", SIZE, "the core file's length (holes included)"),
    ),
    ("pid", "comm", "threads", "segments", "size", Column("FILE", "path")),
    "One ELF core file written by coredump.",
)


def _note(name: bytes, note_type: int, desc: bytes) -> bytes:
    name_z = name + b"\0"
    padded_name = name_z + b"\0" * (-len(name_z) % 4)
    return struct.pack("<III", len(name_z), len(desc), note_type) + padded_name + desc + b"\0" * (-len(desc) % 4)


def _timeval_zero() -> bytes:
    return struct.pack("<qq", 0, 0)


def prstatus(tid: int, process: Process, regs: Any, sighold: int) -> bytes:
    """struct elf_prstatus for x86_64 (336 bytes)."""
    gregs = struct.pack(
        "<27Q",
        regs.r15, regs.r14, regs.r13, regs.r12, regs.bp, regs.bx, regs.r11, regs.r10, regs.r9, regs.r8,
        regs.ax, regs.cx, regs.dx, regs.si, regs.di, regs.orig_ax, regs.ip, regs.cs, regs.flags, regs.sp,
        regs.ss, regs.fs_base, regs.gs_base, regs.ds, regs.es, regs.fs, regs.gs,
    )  # fmt: skip
    head = struct.pack("<iiih2xQQiiii", 0, 0, 0, 0, 0, sighold, tid, process.ppid, process.pgid, process.sid)
    return head + _timeval_zero() * 4 + gregs + struct.pack("<i4x", 1)


def prpsinfo(process: Process, core: Any) -> bytes:
    """struct elf_prpsinfo for x86_64 (136 bytes)."""
    state = process.core.tc.task_state if process.core is not None else TaskState.ALIVE
    sname, zombie = {TaskState.ZOMBIE: (b"Z", 1), TaskState.STOPPED: (b"T", 0), TaskState.DEAD: (b"X", 0)}.get(
        state, (b"S", 0)
    )
    nice = core.thread_core.sched_nice if core.thread_core.HasField("sched_nice") else 0
    args = " ".join(process.cmdline or [process.comm or ""]).encode("utf-8", "replace")[:79]
    fname = (process.comm or "").encode("utf-8", "replace")[:15]
    return struct.pack(
        "<bcbb4xQIIiiii16s80s",
        0, sname, zombie, max(-128, min(127, nice)), core.tc.flags, process.uid or 0, process.gid or 0,
        process.pid, process.ppid, process.pgid, process.sid, fname, args,
    )  # fmt: skip


def fpregset(fpregs: Any) -> bytes:
    """struct user_fpregs_struct (FXSAVE layout, 512 bytes)."""
    st = list(fpregs.st_space)[:32] + [0] * max(0, 32 - len(fpregs.st_space))
    xmm = list(fpregs.xmm_space)[:64] + [0] * max(0, 64 - len(fpregs.xmm_space))
    pad = list(fpregs.padding)[:24] + [0] * max(0, 24 - len(fpregs.padding))
    return struct.pack(
        "<HHHHQQII32I64I24I",
        fpregs.cwd & 0xFFFF, fpregs.swd & 0xFFFF, fpregs.twd & 0xFFFF, fpregs.fop & 0xFFFF,
        fpregs.rip, fpregs.rdp, fpregs.mxcsr, fpregs.mxcsr_mask, *st, *xmm, *pad,
    )  # fmt: skip


def xstate(fpregs: Any) -> bytes | None:
    """The XSAVE area in standard format, or None when CRIU dumped no XSAVE state."""
    if not fpregs.HasField("xsave"):
        return None
    xsave = fpregs.xsave
    features = 0x3  # x87 and SSE, always in the legacy area
    area = bytearray(fpregset(fpregs))
    area += bytes(64)  # the XSAVE header
    for bit, offset, name, element, count in _XSAVE_COMPONENTS:
        values = list(getattr(xsave, name))
        if not values:
            continue
        features |= 1 << bit
        data = struct.pack(f"<{len(values[:count])}{element}", *values[:count])
        if len(area) < offset:
            area += bytes(offset - len(area))
        area[offset : offset + len(data)] = data
    struct.pack_into("<Q", area, 512, xsave.xstate_bv)
    struct.pack_into("<Q", area, _XCR0_OFFSET, features)
    return bytes(area)


def auxv(mm: Any) -> bytes:
    """NT_AUXV: the saved auxiliary vector up to its AT_NULL, read no further than AUXV_LIMIT
    values (a hostile mm image can hold millions; ``write_core`` says so)."""
    values = mm.mm_saved_auxv[:AUXV_LIMIT]
    pairs = []
    for i in range(0, len(values) - 1, 2):
        pairs.append((values[i], values[i + 1]))
        if values[i] == 0:
            break
    if not pairs or pairs[-1][0] != 0:
        pairs.append((0, 0))
    return b"".join(struct.pack("<QQ", key, value) for key, value in pairs)


def file_note(vmas: list[Vma], names: dict[int, str]) -> bytes:
    mapped = [(v, names[v.shmid]) for v in vmas if v.file_backed and v.shmid in names]
    head = struct.pack("<QQ", len(mapped), PAGE_SIZE)
    ranges = b"".join(struct.pack("<QQQ", v.start, v.end, v.pgoff // PAGE_SIZE) for v, _ in mapped)
    strings = b"".join(name.encode("utf-8", "replace") + b"\0" for _, name in mapped)
    return head + ranges + strings


def siginfo() -> bytes:
    """A siginfo_t with no signal: the process was frozen, not killed."""
    return bytes(128)


def _flags(prot: int) -> int:
    return (
        (PF_R if prot & Prot.PROT_READ else 0)
        | (PF_W if prot & Prot.PROT_WRITE else 0)
        | (PF_X if prot & Prot.PROT_EXEC else 0)
    )


class _ThreadState:
    def __init__(self, tid: int, core: Any) -> None:
        if core.mtype != core.March.Value("X86_64") or not core.HasField("thread_info"):
            arch = core.March.Name(core.mtype) if core.mtype in core.March.values() else str(core.mtype)
            raise UnsupportedError(f"core files for {arch} are not supported (x86_64 only)", where=f"core-{tid}.img")
        self.tid = tid
        self.core = core


@dataclass(frozen=True)
class _Segment:
    """One PT_LOAD: ``start``/``size`` in memory, the regions whose bytes it carries, and
    whether its whole range lies in the file (``span``; else only the regions, or nothing)."""

    start: int
    size: int
    prot: int
    regions: tuple[Region, ...]
    span: bool


def _segments(memory: ProcessMemory) -> tuple[list[_Segment], int]:
    """Each mapping with its dumped regions, shared memory included (a SysV segment's or a
    MAP_SHARED mapping's pages are the shared object's); the widest written region by region
    when all of them together would span more than SPAN_LIMIT (how many: the second value)."""
    by_mapping: dict[int, list[Region]] = {}
    for region in memory.regions(shared=True):
        by_mapping.setdefault(region.mapping.start, []).append(region)
    spanning = sorted((m for m in memory.mappings if m.start in by_mapping), key=lambda m: m.vma.size, reverse=True)
    span = sum(m.vma.size for m in spanning)
    compact: set[int] = set()
    for mapping in spanning:
        if span <= SPAN_LIMIT:
            break
        compact.add(mapping.start)
        span -= mapping.vma.size
    segments = []
    for mapping in memory.mappings:
        vma, inside = mapping.vma, by_mapping.get(mapping.start, [])
        if mapping.start not in compact:
            segments.append(_Segment(vma.start, vma.size, vma.prot, tuple(inside), bool(inside)))
            continue
        segments += [_Segment(region.start, region.length, vma.prot, (region,), True) for region in inside]
    return segments, len(compact)


def _cut(process: Process, mm: Any, compact: int) -> list[Diagnostic]:
    """What was left out of the core of ``process`` to keep it bounded."""
    cut = []
    if len(mm.mm_saved_auxv) > AUXV_LIMIT:
        what = f"mm_saved_auxv holds {len(mm.mm_saved_auxv)} values; NT_AUXV takes the first {AUXV_LIMIT}"
        cut.append(Diagnostic(what, f"mm-{process.pid}.img", pid=process.pid))
    if compact:
        what = (
            f"its mappings with dumped pages span more than {SPAN_LIMIT >> 30} GiB (the limit of a core file's "
            f"holes); the {compact} widest are written as their dumped pages only (gdb cannot read their other "
            "addresses)"
        )
        cut.append(Diagnostic(what, f"pid {process.pid}", pid=process.pid))
    return cut


def write_core(model: CheckpointModel, process: Process, out: BinaryIO) -> tuple[int, int]:
    """Write the core of ``process`` to ``out``; returns (threads, PT_LOAD count). What was cut
    to keep the file bounded is said to the model's diagnostics."""
    threads = []
    for tid in sorted(process.tids, key=lambda t: (t != process.pid, t)):
        threads.append(_ThreadState(tid, model.thread_core(tid)))
    mm = model.mm(process.pid)
    memory = model.memory(process.pid)
    main = threads[0].core

    notes = bytearray()
    for index, thread in enumerate(threads):
        info = thread.core.thread_info
        sighold = thread.core.thread_core.blk_sigset if thread.core.thread_core.HasField("blk_sigset") else 0
        notes += _note(b"CORE", NT_PRSTATUS, prstatus(thread.tid, process, info.gpregs, sighold))
        if index == 0:
            notes += _note(b"CORE", NT_PRPSINFO, prpsinfo(process, main))
            notes += _note(b"CORE", NT_SIGINFO, siginfo())
            notes += _note(b"CORE", NT_AUXV, auxv(mm))
            notes += _note(b"CORE", NT_FILE, file_note(memory.space.vmas, model.file_names))
        notes += _note(b"CORE", NT_PRFPREG, fpregset(info.fpregs))
        extended = xstate(info.fpregs)
        if extended is not None:
            notes += _note(b"LINUX", NT_X86_XSTATE, extended)

    segments, compact = _segments(memory)
    cut = _cut(process, mm, compact)
    for diagnostic in cut:
        model.diagnostics.add(diagnostic, Part.CORE)
    phnum = 1 + len(segments)
    extended = phnum >= PN_XNUM  # the count goes into section header 0, as the kernel does it
    offset = _EHDR.size + phnum * _PHDR.size + (_SHDR.size if extended else 0)
    note_offset = offset
    offset += len(notes)
    headers = [_PHDR.pack(PT_NOTE, 0, note_offset, 0, 0, len(notes), 0, 0)]
    placed = []
    for segment in segments:
        size = segment.size if segment.span else 0
        offset = (offset + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) if size else offset
        headers.append(
            _PHDR.pack(PT_LOAD, _flags(segment.prot), offset, segment.start, 0, size, segment.size, PAGE_SIZE)
        )
        placed.append((offset, segment))
        offset += size

    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    section_offset = _EHDR.size + phnum * _PHDR.size if extended else 0
    out.write(
        _EHDR.pack(
            ident, ET_CORE, EM_X86_64, 1, 0, _EHDR.size, section_offset, 0, _EHDR.size, _PHDR.size,
            PN_XNUM if extended else phnum, _SHDR.size if extended else 0, 1 if extended else 0, 0,
        )
    )  # fmt: skip
    out.write(b"".join(headers))
    if extended:
        out.write(_SHDR.pack(0, 0, 0, 0, 0, 0, 0, phnum, 0, 0))
    out.write(notes)
    total = sum(region.length for _, segment in placed for region in segment.regions)
    with progress.task(f"core.{process.pid}", total) as advance:
        for file_offset, segment in placed:
            for region in segment.regions:
                out.seek(file_offset + (region.start - segment.start))
                _copy(region, out)
                advance(region.length)
    out.seek(offset)
    out.truncate(offset)  # the last segment may end in a hole: give the file its full length
    return len(threads), sum(1 for _, segment in placed if segment.span)


def _copy(region: Region, out: BinaryIO) -> None:
    done = 0
    while done < region.length:
        chunk = region.read(done, min(_COPY_CHUNK, region.length - done))
        if not chunk:
            raise CheckforensicsError(f"pages image {region.member} ends before {region.start + done:#x}")
        out.write(chunk)
        done += len(chunk)


def write_cores(model: CheckpointModel, pids: tuple[int, ...], output: Destination) -> Answer:
    """A core file of each chosen process (all by default) in ``output``, as ``CORE`` records.
    Zombies and processes without images get none (a warning says so); one whose images are
    damaged gets none either, and the others still get theirs."""
    chosen = model.processes(pids)
    zombies = [process.pid for process in chosen if process.zombie]
    undumped = [process.pid for process in chosen if not process.dumped]
    if pids and zombies and len(zombies) == len(chosen):
        raise InputError(f"process {', '.join(map(str, zombies))}: a zombie, no memory or registers were dumped")
    if pids and undumped and len(undumped) + len(zombies) == len(chosen):
        raise InputError(f"process {', '.join(map(str, undumped))}: not dumped (no core image in the checkpoint)")
    warnings = list(model.command_lines().warnings)
    written: list[CoreFile] = []
    failed: list[CheckforensicsError] = []
    with output.directory(must_be_empty=False) as directory:
        for process in chosen:
            if not process.dumped:  # the tree's warnings name them
                continue
            if process.zombie:
                what = f"pid {process.pid} is a zombie (exited, not reaped): no core file"
                model.diagnostics.warn(what, pid=process.pid, part=Part.CORE)
                continue
            name = f"core.{process.pid}"
            try:
                with directory.new_file(name) as handle:
                    threads, segments = write_core(model, process, handle)
                    size = handle.seek(0, os.SEEK_END)
            except (OutputError, UnsupportedError):
                raise
            except CheckforensicsError as exc:  # its damaged images: the other processes still get their cores
                model.diagnostics.of_process(process.pid, f"no core file: {exc}", part=Part.CORE)
                failed.append(exc)
                continue
            written.append(CoreFile(process.pid, process.comm, Path(output.path) / name, threads, segments, size))
        if failed and not written:  # raised inside: a directory made for nothing is removed
            raise failed[0]
    about = [process.pid for process in chosen]  # what the cores left out first, then what memory could not read
    untold = model.diagnostics.untold
    warnings += untold(about, parts=(Part.CORE,)) + untold(about, parts=(Part.MEMORY,))
    return Answer(
        [Section(CORE, written)], nothing="no process with dumped memory to write a core file of",
        warnings=warnings, about=frozenset(pids) or None,
    )  # fmt: skip
