"""What a checkpoint is listed as: members, their names, and the warnings noticed while listing.

``MemberInfo`` is the public description of one member; ``Entry`` adds where its bytes are for
the input kind that listed it, and ``Listing`` collects the entries in input order with the
warnings (duplicates, hostile names and links) that every input kind shares.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from checkforensics.errors import ArchiveError

MAX_MEMBERS = 1_000_000  # no checkpoint comes near; a tar of empty headers could
KINDS = ("file", "dir", "symlink", "hardlink", "device", "fifo", "other")  # the values of MemberInfo.kind
_PAGES = re.compile(r"(?:^|/)pages-[^/]*\.img$")


@dataclass(frozen=True)
class MemberInfo:
    """One member of a checkpoint, as its tar header (or ``lstat``) describes it.

    ``name`` is a normalised relative posix path (no ``./``, no trailing ``/``; ``..`` parts are
    kept, so a hostile name can never pose as a real one).  ``size`` is the length of the
    member's data (0 for links, devices and directories).  ``linkname`` is a symlink's target as
    stored, or a hard link's target member.  ``truncated`` is True for the one member a cut
    archive ends in: it is listed, but reading it fails.
    """

    name: str
    size: int
    kind: str
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class Entry:
    """A member and where its bytes are: the tar stream offset, or a file below the directory."""

    info: MemberInfo
    data_offset: int = 0  # offset of the data in the (decompressed) tar stream
    present: int = 0  # bytes of data the input really holds (< size only when truncated)
    fs_path: str | None = None  # directory inputs: the path below the root, as the OS spells it
    identity: tuple[int, ...] | None = None  # directory inputs: what ``directory._identity`` said when listed


class Listing:
    """Members in input order (a repeated name keeps only its last copy) and what was noticed."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.warnings: list[str] = []
        self.cut_at: int | None = None  # where a truncated or damaged tar stream stops making sense
        self.limited: str | None = None  # why the listing stopped at cut_at, when a decompression limit stopped it
        self.cut: str | None = None  # why the listing stopped before the archive's end (its warning): cut or limited
        self.count = 0

    def add(self, entry: Entry, offset: int | None = None) -> None:
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise ArchiveError(f"more than {MAX_MEMBERS} members; refusing to list further")
        name = entry.info.name
        if name in self.entries:
            at = f" at offset {offset:#x}" if offset is not None else ""
            self.warn(f"{shown_name(name)}: duplicate member{at} replaces the earlier one (as tar extraction would)")
            del self.entries[name]
        self.entries[name] = entry

    def warn(self, text: str) -> None:
        self.warnings.append(text)


# --- names ------------------------------------------------------------------------------------


def is_pages_image(info: MemberInfo) -> bool:
    """Whether ``info`` is a regular file holding dumped memory (``pages-N.img``, ``pages-shmem-N.img``...)."""
    return info.kind == "file" and _PAGES.search(info.name) is not None


def normalise_name(raw: str) -> str:
    """``raw`` as a relative posix path: no leading ``/`` or ``./``, no empty or ``.`` parts."""
    return "/".join(part for part in raw.split("/") if part not in ("", "."))


def shown_name(name: str) -> str:
    """``name`` safe for a one-line message: control characters spelled as escapes."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def decode_name(raw: bytes, listing: Listing) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        listing.warn(f"{shown_name(text)}: name is not UTF-8; its undecodable bytes are shown as \\x escapes")
        return text


def _leaves_root(name: str) -> bool:
    return name == ".." or name.startswith("../")


def note_hostile(info: MemberInfo, raw_name: str, listing: Listing) -> None:
    """Warn about names and links that would reach outside the checkpoint if extracted."""
    shown = shown_name(info.name)
    if raw_name.startswith("/"):
        listing.warn(f"{shown}: absolute member name {raw_name!r}, listed relative to the checkpoint")
    if ".." in info.name.split("/"):
        listing.warn(f"{shown}: member name climbs out of the checkpoint with '..'; listed as is, never extracted")
    if not info.name.isprintable():
        listing.warn(f"{shown}: member name holds control characters")
    target = info.linkname or ""
    if info.kind == "symlink":
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(info.name), target))
        if target.startswith("/") or _leaves_root(resolved):
            listing.warn(f"{shown}: symbolic link to {target!r} points outside the checkpoint; never followed")
    elif info.kind == "hardlink":
        if target.startswith("/") or _leaves_root(posixpath.normpath(target)):
            listing.warn(f"{shown}: hard link to {target!r} points outside the checkpoint; never followed")
        elif target not in listing.entries:
            listing.warn(f"{shown}: hard link to {target!r}, which is not an earlier member")
    elif info.kind == "device":
        listing.warn(f"{shown}: device node in a checkpoint; listed, never read")
