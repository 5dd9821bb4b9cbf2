"""Command lines and environments as ``/proc/PID/cmdline`` and ``/proc/PID/environ`` show them.

The kernel does not just read the argument area ``[arg_start, arg_end)``: a process that
rewrites its title (setproctitle: nginx, PostgreSQL, redis, ...) writes past the end of argv into
the environment area, which it has moved elsewhere. When the last byte of the argument area is
no longer NUL, ``get_mm_cmdline`` reads the title from ``arg_start`` instead, at most one page,
up to the first NUL. The environment is read as it lies. Both areas are often padded with NULs
after a rewrite; those padding runs are not strings, and are left out here (as ``ps`` does).

References: fs/proc/base.c (get_mm_cmdline, get_mm_proctitle, environ_read).
"""

from __future__ import annotations

from typing import Any, Protocol

from checkforensics.images.flags import PAGE_SIZE

ARGS_LIMIT = 1 << 20  # no argv or environment block is larger than this in practice
TITLE_LIMIT = PAGE_SIZE  # get_mm_proctitle reads one page


class Readable(Protocol):
    def read(self, address: int, size: int) -> bytes: ...

    def read_available(self, address: int, size: int) -> tuple[bytes, int]: ...


def command_line(memory: Readable, mm: Any) -> list[str]:
    """argv as /proc/PID/cmdline gives it, split into words; MemoryUnavailableError when the
    argument area was not dumped."""
    start, end = mm.mm_arg_start, mm.mm_arg_end
    if end <= start:
        return []
    if memory.read(end - 1, 1) != b"\0":  # the title runs on past argv: the kernel reads it whole
        data, _ = memory.read_available(start, TITLE_LIMIT)
        return strings(data.split(b"\0", 1)[0])
    return strings(memory.read(start, min(end - start, ARGS_LIMIT)))


def environment(memory: Readable, mm: Any) -> list[str]:
    """The environment as /proc/PID/environ gives it (what is left of it after a title rewrite)."""
    start, end = mm.mm_env_start, mm.mm_env_end
    if end <= start:
        return []
    return strings(memory.read(start, min(end - start, ARGS_LIMIT)))


def strings(block: bytes) -> list[str]:
    """NUL-separated strings as text, undecodable bytes escaped (``\\xNN``), not lost; the NUL
    padding at the end (a rewritten title's) is not a run of empty strings."""
    parts = block.rstrip(b"\0").split(b"\0") if block.rstrip(b"\0") else []
    return [part.decode("utf-8", errors="backslashreplace") for part in parts]
