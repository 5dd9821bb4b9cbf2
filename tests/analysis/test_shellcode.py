"""analysis.shellcode on bytes laid out as an mmap'ed page holds them: the code copied to its
start, zeros after. The real shellcode is intrusion's (tests/analysis/test_malfind.py)."""

from __future__ import annotations

import pytest

from checkforensics.analysis.shellcode import MIN_SLED, SCANNED, read_code

EXECVE = bytes.fromhex("31c048bbd19d9691d08c97ff48f7db53545f995257545eb03b0f05")  # implant.c's


def page(data: bytes) -> bytes:
    return data + bytes(SCANNED - len(data))


def test_code_at_the_start_without_a_sled() -> None:
    assert read_code(page(EXECVE)) == read_code(EXECVE) == type(read_code(EXECVE))(0, 0, ((25, "syscall"),))


@pytest.mark.parametrize("sled", [MIN_SLED, 32, 200])
def test_a_sled_moves_the_start_past_it(sled: int) -> None:
    code = read_code(page(b"\x90" * sled + EXECVE))
    assert (code.start, code.sled, code.system_calls) == (sled, sled, ((sled + 25, "syscall"),))


def test_a_sled_further_in_and_the_32_bit_entry() -> None:
    code = read_code(page(b"\xeb\x20" + b"\x90" * 40 + b"\x31\xc0\xb0\x0b\xcd\x80"))  # jmp, sled, int 0x80
    assert (code.start, code.sled, code.system_calls) == (42, 40, ((46, "int 0x80"),))


@pytest.mark.parametrize(
    "data",
    [
        b"\x90" * (MIN_SLED - 1) + b"\x31\xc0",  # too short to be a sled
        b"\x90" * 64,  # nothing behind it
        b"\x90" * 64 + bytes(64) + b"\x31\xc0",  # zeros behind it
        bytes(SCANNED),
    ],
)
def test_no_sled(data: bytes) -> None:
    assert read_code(page(data)).sled == 0


def test_system_calls_only_in_the_code_and_the_first_page() -> None:
    """Past the first 8 zero bytes is no longer the copied code; past the first page is not read."""
    assert read_code(page(b"\x31\xc0" + bytes(8) + b"\x0f\x05")).system_calls == ()
    assert read_code(b"\x31" * SCANNED + b"\x0f\x05").system_calls == ()
    assert read_code(b"\x0f\x34\x0f\x05").system_calls == ((0, "sysenter"), (2, "syscall"))
