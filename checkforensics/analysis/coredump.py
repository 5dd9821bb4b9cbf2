"""ELF core files from checkpointed processes, for gdb.

One ELF64 ET_CORE file per process: a PT_NOTE segment with NT_PRSTATUS (general registers)
for every thread, the main thread first, each followed by NT_FPREGSET and NT_X86_XSTATE,
plus NT_PRPSINFO, NT_SIGINFO, NT_AUXV and NT_FILE for the process; then one PT_LOAD per
mapping. A mapping with dumped pages carries its whole range in the file, pages that were not
dumped reading as zeros (written as holes, so they take no disk); a mapping with no dumped
page (typically an unmodified file mapping, which gdb then reads from the file itself) has a
file size of 0, as in kernel core dumps.

References: linux/elfcore.h, linux/elf.h (note types), arch/x86/include/asm/user_64.h,
the Intel SDM's XSAVE layout, binutils/gdb's reading of core notes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from checkforensics import progress
from checkforensics.errors import CheckforensicsError, UnsupportedError
from checkforensics.images.flags import PAGE_SIZE, Prot, TaskState
from checkforensics.model import CheckpointModel, Process
from checkforensics.model.memory import Vma
from checkforensics.model.regions import ProcessMemory, Region

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
_COPY_CHUNK = 4 << 20

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
    pid: int
    path: Path
    threads: int
    loads: int
    size: int


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
    values = list(mm.mm_saved_auxv)
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


def _segments(memory: ProcessMemory) -> list[tuple[Vma, list[Region]]]:
    """Each mapping with its dumped regions, shared memory included (a SysV segment's or a
    MAP_SHARED mapping's pages are the shared object's)."""
    regions = memory.regions(shared=True)
    by_mapping: dict[int, list[Region]] = {}
    for region in regions:
        by_mapping.setdefault(region.mapping.start, []).append(region)
    return [(mapping.vma, by_mapping.get(mapping.start, [])) for mapping in memory.mappings]


def write_core(model: CheckpointModel, process: Process, out: BinaryIO) -> tuple[int, int]:
    """Write the core of ``process`` to ``out``; returns (threads, PT_LOAD count)."""
    threads = []
    for tid in sorted(process.tids, key=lambda t: (t != process.pid, t)):
        threads.append(_ThreadState(tid, model.store.first(f"core-{tid}.img")))
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

    segments = _segments(memory)
    phnum = 1 + len(segments)
    offset = _EHDR.size + phnum * _PHDR.size
    note_offset = offset
    offset += len(notes)
    headers = [_PHDR.pack(PT_NOTE, 0, note_offset, 0, 0, len(notes), 0, 0)]
    placed = []
    for vma, inside in segments:
        size = vma.end - vma.start if inside else 0
        offset = (offset + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) if size else offset
        headers.append(
            _PHDR.pack(PT_LOAD, _flags(vma.prot), offset, vma.start, 0, size, vma.end - vma.start, PAGE_SIZE)
        )
        placed.append((offset, vma, inside))
        offset += size

    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    out.write(_EHDR.pack(ident, ET_CORE, EM_X86_64, 1, 0, _EHDR.size, 0, 0, _EHDR.size, _PHDR.size, phnum, 0, 0, 0))
    out.write(b"".join(headers))
    out.write(notes)
    total = sum(region.length for _, _, inside in placed for region in inside)
    with progress.task(f"core.{process.pid}", total) as advance:
        for file_offset, vma, inside in placed:
            for region in inside:
                out.seek(file_offset + (region.start - vma.start))
                _copy(region, out)
                advance(region.length)
    out.seek(offset)
    out.truncate(offset)  # the last segment may end in a hole: give the file its full length
    return len(threads), sum(1 for _, _, inside in placed if inside)


def _copy(region: Region, out: BinaryIO) -> None:
    done = 0
    while done < region.length:
        chunk = region.read(done, min(_COPY_CHUNK, region.length - done))
        if not chunk:
            raise CheckforensicsError(f"pages image {region.member} ends before {region.start + done:#x}")
        out.write(chunk)
        done += len(chunk)
