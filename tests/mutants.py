"""Damaged and hostile variants of real checkpoints, for the robustness tests and long fuzz runs.

Every mutant is built from a real fixture by one seeded, reproducible change: truncation,
byte flips, an entry size made absurd, a member removed, or a hostile member added.
"""

from __future__ import annotations

import io
import random
import struct
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Members = list[tuple[tarfile.TarInfo, bytes | None]]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: Path


def read_members(archive: Path) -> Members:
    members: Members = []
    with tarfile.open(archive) as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info) if info.isfile() else None
            members.append((info, handle.read() if handle is not None else None))
    return members


def write_members(members: Members, target: Path) -> Path:
    with tarfile.open(target, "w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            copy = tarfile.TarInfo(info.name)
            for attribute in ("mode", "uid", "gid", "mtime", "type", "linkname", "devmajor", "devminor"):
                setattr(copy, attribute, getattr(info, attribute))
            copy.size = len(data) if data is not None else 0
            tar.addfile(copy, io.BytesIO(data) if data is not None else None)
    return target


def _protobuf_images(members: Members) -> list[int]:
    return [
        index
        for index, (info, data) in enumerate(members)
        if data and info.name.endswith(".img") and "pages-" not in info.name and ".tar" not in info.name
    ]


def flip_bytes(members: Members, rng: random.Random) -> str:
    index = rng.choice(_protobuf_images(members))
    info, data = members[index]
    assert data is not None
    blob = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(blob))
        blob[position] ^= 1 << rng.randrange(8)
    members[index] = (info, bytes(blob))
    return f"flip:{info.name}"


def absurd_size(members: Members, rng: random.Random) -> str:
    index = rng.choice(_protobuf_images(members))
    info, data = members[index]
    assert data is not None
    blob = bytearray(data)
    offset = 4 if info.name.endswith("inventory.img") else 8
    if len(blob) >= offset + 4:
        struct.pack_into("<I", blob, offset, rng.choice([0x7FFFFFFF, 0xFFFFFFFF, 0x10000000, len(blob) * 7]))
    members[index] = (info, bytes(blob))
    return f"size:{info.name}"


def truncate_member(members: Members, rng: random.Random) -> str:
    index = rng.choice(_protobuf_images(members))
    info, data = members[index]
    assert data is not None
    members[index] = (info, data[: rng.randrange(len(data))])
    return f"cut:{info.name}"


def remove_member(members: Members, rng: random.Random) -> str:
    wanted = (
        "pstree.img",
        "inventory.img",
        "config.dump",
        "spec.dump",
        "files.img",
        "mm-",
        "core-",
        "pagemap-",
        "pages-",
        "fdinfo-",
        "ids-",
        "stats-dump",
        "rootfs-diff.tar",
    )
    candidates = [i for i, (info, _) in enumerate(members) if any(w in info.name for w in wanted)]
    index = rng.choice(candidates)
    name = members[index][0].name
    del members[index]
    return f"rm:{name}"


def garbage_json(members: Members, rng: random.Random) -> str:
    candidates = [
        i for i, (info, _) in enumerate(members) if info.name.endswith((".dump", "network.status", "deleted.files"))
    ]
    if not candidates:  # a bare images directory has no metadata: damage an image instead
        return flip_bytes(members, rng)
    index = rng.choice(candidates)
    info, _ = members[index]
    members[index] = (info, rng.choice([b"{", b"[1,2", b"null", b'{"annotations": 5}', bytes(rng.randbytes(64))]))
    return f"json:{info.name}"


def hostile_member(members: Members, rng: random.Random) -> str:
    kind = rng.choice(["dotdot", "absolute", "symlink", "hardlink", "device", "duplicate", "fifo"])
    info = tarfile.TarInfo({"dotdot": "../../evil.txt", "absolute": "/tmp/evil-abs.txt"}.get(kind, "checkpoint/x"))
    data: bytes | None = b"evil"
    if kind == "symlink":
        info = tarfile.TarInfo("checkpoint/pstree.img")
        info.type, info.linkname, data = tarfile.SYMTYPE, "/etc/passwd", None
    elif kind == "hardlink":
        info = tarfile.TarInfo("checkpoint/files.img")
        info.type, info.linkname, data = tarfile.LNKTYPE, "../../etc/shadow", None
    elif kind == "device":
        info = tarfile.TarInfo("checkpoint/pages-1.img")
        info.type, info.devmajor, info.devminor, data = tarfile.CHRTYPE, 1, 3, None
    elif kind == "fifo":
        info = tarfile.TarInfo("rootfs-diff.tar")
        info.type, data = tarfile.FIFOTYPE, None
    elif kind == "duplicate":
        original = rng.choice(_protobuf_images(members))
        info = tarfile.TarInfo(members[original][0].name)
        data = rng.randbytes(rng.randint(0, 64))
    members.append((info, data))
    return f"hostile:{kind}"


def nested_hostile_rootfs(members: Members, rng: random.Random) -> str:
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        for name in ("../../../escape", "/abs/escape", "a/../../escape2"):
            entry = tarfile.TarInfo(name)
            entry.size = 2
            tar.addfile(entry, io.BytesIO(b"no"))
        link = tarfile.TarInfo("lnk")
        link.type, link.linkname = tarfile.SYMTYPE, "/"
        tar.addfile(link)
    blob = inner.getvalue()
    if rng.random() < 0.5:
        blob = blob[: rng.randrange(len(blob))]
    members[:] = [(i, d) for i, d in members if i.name != "rootfs-diff.tar"]
    info = tarfile.TarInfo("rootfs-diff.tar")
    members.append((info, blob))
    return "hostile:rootfs"


MUTATIONS: list[Callable[[Members, random.Random], str]] = [
    flip_bytes,
    absurd_size,
    truncate_member,
    remove_member,
    garbage_json,
    hostile_member,
    nested_hostile_rootfs,
]


def make_mutant(source: Path, seed: int, out_dir: Path) -> Mutant:
    """Mutant number ``seed`` of ``source`` (a plain tar), written into ``out_dir``."""
    rng = random.Random(seed)
    members = read_members(source)
    mutation = MUTATIONS[seed % len(MUTATIONS)]
    label = mutation(members, rng)
    target = write_members(members, out_dir / f"mutant-{seed}.tar")
    if seed % 5 == 4:  # now and then, also cut the archive itself
        data = target.read_bytes()
        target.write_bytes(data[: rng.randrange(512, len(data))])
        label += "+truncated"
    return Mutant(label, target)
