"""Command lines read by the kernel's rules (fs/proc/base.c get_mm_cmdline)."""

from __future__ import annotations

from types import SimpleNamespace

from checkforensics.model.cmdline import TITLE_LIMIT, command_line, environment, strings


class _Memory:
    """Bytes at 0x1000 onwards, as a process's memory view would hand them out."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, address: int, size: int) -> bytes:
        offset = address - 0x1000
        assert offset >= 0 and offset + size <= len(self.data)
        return self.data[offset : offset + size]

    def read_available(self, address: int, size: int) -> tuple[bytes, int]:
        chunk = self.data[address - 0x1000 :][:size]
        return chunk, len(chunk)


def _mm(arg: tuple[int, int], env: tuple[int, int]) -> SimpleNamespace:
    return SimpleNamespace(mm_arg_start=arg[0], mm_arg_end=arg[1], mm_env_start=env[0], mm_env_end=env[1])


def test_an_untouched_argv_is_read_word_by_word() -> None:
    memory = _Memory(b"sleep\x00\x00100\x00A=1\x00B=\x00")
    mm = _mm((0x1000, 0x100B), (0x100B, 0x1012))
    assert command_line(memory, mm) == ["sleep", "", "100"]  # an empty argument between others stays
    assert environment(memory, mm) == ["A=1", "B="]


def test_a_title_that_runs_past_argv_is_read_on_to_its_nul() -> None:
    # argv was "postgres\0" (9 bytes); the title overwrote it and the environment after it
    memory = _Memory(b"postgres: checkpointer \x00" + b"\x00" * 40)
    mm = _mm((0x1000, 0x1009), (0x1009, 0x1030))
    assert command_line(memory, mm) == ["postgres: checkpointer "]
    assert environment(memory, mm) == [" checkpointer "]


def test_a_title_is_read_one_page_at_most() -> None:
    memory = _Memory(b"x" * (TITLE_LIMIT + 100))
    assert command_line(memory, _mm((0x1000, 0x1004), (0x1004, 0x1008))) == ["x" * TITLE_LIMIT]


def test_nul_padding_is_not_a_run_of_empty_strings() -> None:
    assert strings(b"nginx: worker process" + b"\x00" * 50) == ["nginx: worker process"]
    assert strings(b"\x00" * 64) == []
    assert strings(b"caf\xc3\xa9\x00\xff\x00") == ["café", "\\xff"]
