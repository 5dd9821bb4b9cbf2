"""The one exception tree of checkforensics, and the exit codes the CLI maps it to.

Every failure a user can cause with their input is one of these; the CLI prints ``str(error)``
as a single line on stderr and exits with ``error.exit_code``.  Anything else escaping to the
CLI is a bug in checkforensics.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (docs/exit-codes.md)."""

    OK = 0
    NOTHING_FOUND = 1  # a search ran fine and matched nothing (like grep)
    USAGE = 2  # bad command line: unknown option, missing argument
    BAD_INPUT = 3  # input missing, unreadable, truncated or damaged
    UNSUPPORTED = 4  # input is well-formed but of a kind we do not handle
    INTERNAL = 70  # a bug in checkforensics (EX_SOFTWARE); please report it
    INTERRUPTED = 130  # Ctrl-C


class CheckforensicsError(Exception):
    """Base of every error checkforensics raises on purpose.

    ``where`` names the thing that was wrong (an archive, a member inside it, an image file),
    ``offset`` the byte offset inside it when known.
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, where: str | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.offset = offset

    def located(self, where: str) -> CheckforensicsError:
        """Prefix the location with an outer container name (e.g. the archive path)."""
        self.where = f"{where}:{self.where}" if self.where else where
        return self

    def __str__(self) -> str:
        parts = []
        if self.where:
            parts.append(self.where)
        text = self.message
        if self.offset is not None:
            text = f"{text} at offset {self.offset:#x}"
        parts.append(text)
        return ": ".join(parts)


class InputError(CheckforensicsError):
    """The input cannot be opened or is not what it must be (missing file, not a checkpoint)."""


class ArchiveError(InputError):
    """The checkpoint archive or directory is unreadable, truncated, or hostile."""


class MemberNotFoundError(ArchiveError):
    """A member the question needs is absent from the checkpoint."""


class NoImagesError(MemberNotFoundError):
    """The question needs CRIU images, and the container checkpoint holds none (only metadata)."""


class ImageError(CheckforensicsError):
    """A CRIU image is damaged: bad magic, truncated entry, undecodable protobuf."""


class UnsupportedError(CheckforensicsError):
    """Well-formed input we do not handle (an image type, an architecture, a format)."""

    exit_code = ExitCode.UNSUPPORTED


class UnknownMagicError(UnsupportedError):
    """An image whose magic names no CRIU image type we know."""

    def __init__(self, magic: int, *, where: str | None = None, offset: int | None = None) -> None:
        super().__init__(
            f"unknown image magic {magic:#010x} (raw data such as pages-*.img has no magic)",
            where=where,
            offset=offset,
        )
        self.magic = magic


class JsonImageError(CheckforensicsError):
    """A JSON image given to ``crit encode`` does not describe a CRIU image."""


class OutputError(CheckforensicsError):
    """Output cannot be written where the user asked: inside the evidence, onto the input, through a
    symbolic link, over an existing file without --force, or the disk refuses (checkforensics.output)."""

    exit_code = ExitCode.BAD_INPUT
