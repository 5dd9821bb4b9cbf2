"""Running a command for a benchmark, and preparing a source tree so its runs are what users see.

``measured`` runs one command and returns its wall time, the CPU time and peak memory the kernel
accounted to it (and to every process it waited for: forked workers, a shell's pipeline), its
exit status and its output. ``byte_compile`` compiles a package's sources once, as ``pip install``
does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    """One finished run of a command."""

    seconds: float  # wall clock, from start to reaped
    cpu_seconds: float  # user + system time of the command and the processes it waited for
    peak_kib: int  # the largest resident set among them
    status: int  # exit status; minus the signal number when killed
    stdout: bytes  # empty unless kept
    stderr: bytes


def measured(
    command: list[str] | str,
    *,
    keep_stdout: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run ``command`` once; a string is run by the shell (for pipelines).

    Standard error goes to a temporary file, so a chatty command cannot block on a full pipe while
    we read its output; standard output goes to /dev/null unless ``keep_stdout``.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE if keep_stdout else subprocess.DEVNULL,
            stderr=errors,
            shell=isinstance(command, str),
            env=env,
            cwd=cwd,
        )
        out = b""
        if process.stdout is not None:
            with process.stdout:
                out = process.stdout.read()
        # wait4, not Popen.wait: only wait4 hands back the kernel's accounting of the process
        _, wait_status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(wait_status)
        errors.seek(0)
        err = errors.read()
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode, out, err)


def byte_compile(package: Path) -> None:
    """Compile every module of ``package`` (a directory) to ``__pycache__``.

    pip byte-compiles a package it installs; an editable install (or PYTHONDONTWRITEBYTECODE, set
    on some machines) would leave every run compiling our sources again, which is not what users
    run. compileall writes the files whatever that variable says, and runs then read them.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
