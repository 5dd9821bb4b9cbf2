"""What the first page of anonymous executable memory says about the code in it (x86-64): a NOP
sled in front of it, and system call instructions in it. malfind asks, for the mappings it
flags as anonymous executable memory, so that shellcode is told apart from other such memory
and shown from where it starts.

Byte patterns, no disassembler (capstone is optional, the reasons must not depend on it):

- a NOP sled is a run of at least ``MIN_SLED`` bytes 0x90 (``nop``) followed by a byte that is
  neither 0x90 nor zero; the code starts at that byte. Shellcode is put behind one so that a
  jump landing anywhere in the sled slides into it.
- the code runs from where it starts to the first ``_END_OF_CODE`` (8 zero bytes: what an
  mmap'ed page holds past what was copied into it), within the first page; a system call in it
  is one of ``0f 05`` (``syscall``), ``0f 34`` (``sysenter``) or ``cd 80`` (``int 0x80``, the
  32-bit entry, which 64-bit shellcode uses too), looked for at every byte: shellcode calls the
  kernel itself, where a program calls libc. A pair of bytes inside a longer instruction counts
  too, so this is a reason to look, like every malfind reason, not a proof.

References: Intel SDM vol. 2 (NOP 90, SYSCALL 0F 05, SYSENTER 0F 34, INT imm8 CD ib).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCANNED = 4096  # bytes read from a mapping's start: its first page
MIN_SLED = 16  # 0x90 bytes in a row before a sled is called one
_SLED = re.compile(rb"\x90{%d,}(?=[^\x90\x00])" % MIN_SLED)  # code behind it, not zeros
_END_OF_CODE = b"\0" * 8
SYSTEM_CALLS = {b"\x0f\x05": "syscall", b"\x0f\x34": "sysenter", b"\xcd\x80": "int 0x80"}
_SYSTEM_CALL = re.compile(b"|".join(re.escape(opcode) for opcode in SYSTEM_CALLS))


@dataclass(frozen=True)
class Code:
    """Where the code in a buffer starts and what it holds; offsets in the buffer."""

    start: int  # past the NOP sled, else 0
    sled: int  # bytes of the sled in front of it (0: none)
    system_calls: tuple[tuple[int, str], ...]  # (offset, instruction) in the code


def read_code(data: bytes) -> Code:
    """The code in ``data`` (a mapping's first bytes, as far as they were dumped)."""
    sled = _SLED.search(data, 0, SCANNED)
    start, length = (sled.end(), sled.end() - sled.start()) if sled else (0, 0)
    end = data.find(_END_OF_CODE, start, SCANNED)
    end = min(len(data), SCANNED) if end < 0 else end
    calls = tuple((match.start(), SYSTEM_CALLS[match.group()]) for match in _SYSTEM_CALL.finditer(data, start, end))
    return Code(start, length, calls)
