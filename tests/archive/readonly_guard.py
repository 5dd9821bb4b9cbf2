"""A guard for the archive tests: the code under it may read, but never write, create, move or remove."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


_MUTATORS = ("mkdir", "makedirs", "symlink", "link", "mknod", "mkfifo", "rename", "replace", "remove", "unlink")


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path below ``root`` (links not followed) with its mode, size and modification time."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            status = os.lstat(os.path.join(folder, name))
            seen[os.path.relpath(os.path.join(folder, name), root)] = (
                status.st_mode,
                status.st_size,
                status.st_mtime_ns,
            )
    return seen


@contextlib.contextmanager
def only_reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fail if the code inside opens anything for writing or changes the filesystem.

    Also checks afterwards that ``tmp_path`` (deeply), its parent and the working directory
    (their entries) are as they were: a ``../evil`` member has landed nowhere.
    """
    before = (_snapshot(tmp_path), sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(".")))

    real_open, real_os_open = io.open, os.open

    def guarded_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        assert not set(mode) & set("wax+"), f"opened {file!r} with mode {mode!r}"
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    def guarded_os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        assert not flags & _WRITE_FLAGS, f"os.open({path!r}) with write flags {flags:#o}"
        return real_os_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    def refuse(name: str):  # type: ignore[no-untyped-def]
        def refused(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"os.{name}{args!r} called while reading a checkpoint")

        return refused

    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", guarded_open)
        patch.setattr(io, "open", guarded_open)
        patch.setattr(os, "open", guarded_os_open)
        for name in _MUTATORS:
            patch.setattr(os, name, refuse(name))
        yield
    after = (_snapshot(tmp_path), sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(".")))
    assert after == before
