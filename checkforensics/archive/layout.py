"""Recognising an input: the archive kind its first bytes show, and where in it the CRIU images lie.

A container checkpoint (Podman's export, the kubelet's checkpoint API) keeps its images under
``checkpoint/`` beside ``config.dump``, ``spec.dump``, ...; a bare ``criu dump -D`` directory
holds them at the top.

References: Podman's checkpoint export (``libpod/container_internal_common.go``:
``exportCheckpoint``); CRIU ``criu dump -D`` images.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from checkforensics.archive.members import Entry, Listing
from checkforensics.archive.tarheader import BLOCK, ZERO_BLOCK, checksum_ok, looks_like_tar_header
from checkforensics.errors import ArchiveError

IMAGES_DIR = "checkpoint/"
_MARKER_IMAGES = ("inventory.img", "pstree.img")
_ARCHIVE_NAME = re.compile(r"\.tar(\.gz|\.zst|\.xz|\.bz2)?$")
# What container engines write beside checkpoint/: an archive holding any of these is a container
# checkpoint even when checkpoint/ holds no CRIU images (partial evidence is still evidence).
METADATA_MEMBERS = (
    "config.dump",
    "spec.dump",
    "network.status",
    "status.dump",
    "stats-dump",
    "rootfs-diff.tar",
    "deleted.files",
)


def detect_kind(head: bytes) -> str | None:
    """The archive kind the first bytes of a file show ("tar", "tar.gz", ...), or None.

    A valid tar header wins over a compression signature: a tar whose first member is called
    ``BZh9...`` is still a tar.
    """
    if len(head) >= BLOCK and head[:BLOCK] != ZERO_BLOCK and checksum_ok(head[:BLOCK]):
        return "tar"
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if head.startswith(b"\x28\xb5\x2f\xfd") or (head[1:4] == b"\x2a\x4d\x18" and b"\x50" <= head[:1] <= b"\x5f"):
        return "tar.zst"  # a zstd frame, or a skippable frame ahead of one
    if head.startswith(b"\xfd7zXZ\x00"):
        return "tar.xz"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[3:4] != b"0":
        return "tar.bz2"
    if looks_like_tar_header(head):
        return "tar"
    return None


def directory_has_images(root: Path) -> bool:
    """Whether ``root`` or its real ``checkpoint/`` subdirectory holds ``*.img`` files, or ``root``
    holds container metadata (a quick look)."""
    if any((root / name).is_file() and not (root / name).is_symlink() for name in METADATA_MEMBERS):
        return True
    for folder in (root / IMAGES_DIR, root):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            with os.scandir(folder) as scan:
                if any(child.name.endswith(".img") and child.is_file(follow_symlinks=False) for child in scan):
                    return True
        except OSError:
            continue
    return False


def has_archive_name(path: Path) -> bool:
    """Whether ``path`` is named as a checkpoint archive is: ``*.tar``, ``*.tar.gz``, ``*.tar.zst``..."""
    return bool(_ARCHIVE_NAME.search(path.name))


def looks_like_checkpoint(path: Path) -> bool:
    """Whether ``path`` is, at a glance, a checkpoint lying in a directory of them: an archive by its
    name (``*.tar``, ``*.tar.gz``, ...), or a directory with ``checkpoint/`` or ``inventory.img``;
    symbolic links are never followed."""
    if path.is_symlink():
        return False
    if path.is_file():
        return has_archive_name(path)
    return path.is_dir() and ((path / "checkpoint").is_dir() or (path / "inventory.img").is_file())


def find_checkpoints(directories: list[Path], missing: list[Path] | None = None) -> list[Path]:
    """The checkpoints lying in ``directories`` (such as /var/lib/kubelet/checkpoints), sorted by
    name within each; a directory that is itself an images directory called ``checkpoint`` (as
    Podman keeps one) comes last. Those of ``directories`` that are not directories go to
    ``missing``."""
    found: list[Path] = []
    for directory in directories:
        if not directory.is_dir():
            if missing is not None:
                missing.append(directory)
            continue
        found += [path for path in sorted(directory.iterdir()) if looks_like_checkpoint(path)]
        if directory.name == "checkpoint" and (directory / "inventory.img").is_file():
            found.append(directory)
    return found


def checkpoint_paths(arguments: list[str]) -> list[Path]:
    """What the checkpoint arguments of a command that takes several name: each archive or
    checkpoint directory as given, and each other directory replaced by the checkpoints in it
    (``find_checkpoints``)."""
    paths: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir() and not directory_has_images(path):  # given by the user: a link is followed
            paths += find_checkpoints([path])
        else:
            paths.append(path)
    return paths


def _images_prefix(entries: dict[str, Entry]) -> str | None:
    """``"checkpoint/"`` when the CRIU images are in ``checkpoint/``, ``""`` when at the top, else None."""
    for prefix in (IMAGES_DIR, ""):
        if any(prefix + marker in entries for marker in _MARKER_IMAGES):
            return prefix
    for prefix in (IMAGES_DIR, ""):
        for name, entry in entries.items():
            rest = name[len(prefix) :] if name.startswith(prefix) else ""
            if rest.endswith(".img") and "/" not in rest and entry.info.kind != "dir":
                return prefix
    return None


def find_images(listing: Listing, where: str) -> tuple[str, str | None]:
    """The images prefix of a listing, and None; or, for a container checkpoint whose
    ``checkpoint/`` holds no CRIU images (or is missing) but whose metadata is there,
    ``"checkpoint/"`` and what is missing, in a few words. Otherwise the ArchiveError saying
    there are no CRIU images."""
    prefix = _images_prefix(listing.entries)
    if prefix is not None:
        return prefix, None
    cut = f"; the archive is cut or damaged at offset {listing.cut_at:#x}" if listing.cut_at is not None else ""
    if listing.limited:
        cut = f"; {listing.limited}"
    entries = listing.entries
    if any(name in entries and entries[name].info.kind == "file" for name in METADATA_MEMBERS):
        folder = entries.get(IMAGES_DIR.rstrip("/"))
        # (a listing cut short says so in its own warning)
        if folder is not None and folder.info.kind == "dir":
            return IMAGES_DIR, f"{IMAGES_DIR} holds no CRIU images"
        return IMAGES_DIR, f"no {IMAGES_DIR} directory of CRIU images"
    raise ArchiveError(
        f"no CRIU images (no inventory.img / pstree.img) at the top or under {IMAGES_DIR}{cut}", where=where
    )
